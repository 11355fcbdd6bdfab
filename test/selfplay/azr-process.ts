// The `azr` command as a child process, for the end-to-end tests: its standard output and error
// collected, and its exit.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface AzrProcess {
  child: ChildProcess;
  /** Standard output so far. */
  output(): string;
  done: Promise<{ code: number | null; out: string; err: string }>;
}

/** Runs `azr ARGS` (the compiled CLI) with `env` (default: this process's). */
export function azr(args: readonly string[], env: NodeJS.ProcessEnv = process.env): AzrProcess {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  return {
    child,
    output: () => out,
    done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err }))),
  };
}
