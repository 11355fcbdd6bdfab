// Starting a Python sandbox process: Node's permission model with reads limited to the Pyodide package
// and this directory, no writes, no child processes, no workers, an empty environment, and an empty
// network namespace when `unshare -n` works here (the permission model does not cover sockets).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SandboxConnection, WireMessage } from '../wire.js';

const here = dirname(fileURLToPath(import.meta.url));
// The nearest package.json says this code is an ES module; the sandbox must be allowed to read it.
const packageJson = join(here, '..', '..', '..', '..', 'package.json');
const pyodideDir = dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));

let netIsolation: boolean | null = null;
/** Whether processes can be put in an empty network namespace here (root, or user namespaces). */
export function networkIsolationAvailable(): boolean {
  if (netIsolation === null) {
    const probe = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 });
    netIsolation = probe.status === 0;
    if (!netIsolation) {
      process.stderr.write(
        'azr: warning: `unshare -n` is not available; Python sandboxes run without a private network namespace\n',
      );
    }
  }
  return netIsolation;
}

/**
 * The command line of a sandbox process running `entry` (exported so tests can run probes under exactly
 * the same confinement; `extraRead` lets a probe script itself be read).
 */
export function sandboxCommand(entry: string, extraRead: string[] = []): { file: string; args: string[] } {
  const nodeArgs = [
    '--experimental-permission',
    ...[pyodideDir, here, packageJson, ...extraRead].map((p) => `--allow-fs-read=${p}`),
    '--no-warnings',
    '--max-old-space-size=256',
    entry,
  ];
  return networkIsolationAvailable()
    ? { file: 'unshare', args: ['-n', process.execPath, ...nodeArgs] }
    : { file: process.execPath, args: nodeArgs };
}

export function spawnPythonSandbox(memoryMb: number): SandboxConnection {
  const env = { AZR_PYODIDE_DIR: pyodideDir, AZR_MEMORY_MB: String(memoryMb) };
  const cmd = sandboxCommand(join(here, 'host.js'));
  const child: ChildProcess = spawn(cmd.file, cmd.args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let onMessage: (m: WireMessage) => void = () => {};
  let onExit: (reason: string) => void = () => {};
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-400);
  });
  child.stdin?.on('error', () => {}); // a killed sandbox closes its pipe mid-write: the exit event reports it
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let message: WireMessage;
    try {
      message = JSON.parse(line) as WireMessage;
    } catch {
      return; // not a protocol line
    }
    onMessage(message);
  });
  child.on('exit', (code, signal) => {
    const last = stderr.trim().split('\n').pop() ?? '';
    onExit(`exit ${signal ?? code}${last ? ` (${last.slice(0, 160)})` : ''}`);
  });
  return {
    send(batch) {
      child.stdin?.write(`${JSON.stringify(batch)}\n`);
    },
    onMessage(listener) {
      onMessage = listener;
    },
    onExit(listener) {
      onExit = listener;
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}
