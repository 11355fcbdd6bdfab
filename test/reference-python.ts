// The Python that reference checks run (transformers, peft, torch, gguf): the venv python/setup_skyrl.sh
// builds in $AZR_TINKER_HOME (default ~/.cache/azr-tinker), or $AZR_PYTHON. Without it a test fails with
// the setup command in its message rather than passing silently.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function referencePython(): string {
  const explicit = process.env.AZR_PYTHON;
  if (explicit) return explicit;
  const home = process.env.AZR_TINKER_HOME || join(homedir(), '.cache', 'azr-tinker');
  const python = join(home, 'venv', 'bin', 'python');
  if (!existsSync(python))
    throw new Error(
      `no reference Python at ${python}: run \`bash python/setup_skyrl.sh\` (PyPI only), or set AZR_PYTHON`,
    );
  return python;
}

/** Runs a script of python/ with the reference Python and returns its standard output. */
export function runReferenceScript(script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      referencePython(),
      [script, ...args],
      { maxBuffer: 256 * 2 ** 20, env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' } },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${script}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}
