// Starting a Python sandbox process: Node's permission model with reads limited to the Pyodide package,
// this directory and the Python runtime, no writes, no child processes, no workers, code generation from
// strings off, an empty environment, and an empty network namespace when `unshare -n` works here (the
// permission model does not cover sockets; without the namespace, what keeps Python off the network is
// that its realm holds no socket API: realm.ts).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../../util/package-files.js';
import type { SandboxConnection, WireMessage } from '../wire.js';

const here = dirname(fileURLToPath(import.meta.url));
// The nearest package.json says this code is an ES module; the sandbox must be allowed to read it.
const packageJson = packageFile('package.json');
// The Python half of the sandbox, which the sandbox reads itself when it starts without a snapshot.
const runtimePy = packageFile('src', 'executor', 'python', 'runtime.py');
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
    // No eval or Function in this process's own realm either: a host function that reached the
    // interpreter's realm could not be turned into code.
    '--disallow-code-generation-from-strings',
    ...[pyodideDir, here, packageJson, runtimePy, ...extraRead].map((p) => `--allow-fs-read=${p}`),
    '--no-warnings',
    '--max-old-space-size=256',
    entry,
  ];
  return networkIsolationAvailable()
    ? { file: 'unshare', args: ['-n', process.execPath, ...nodeArgs] }
    : { file: process.execPath, args: nodeArgs };
}

// A memory snapshot of a freshly set-up interpreter, made by the first sandbox before it runs anything
// and handed to later ones: they start about 5x faster (measured 1.5 s against 10 s on a loaded
// machine), which is what a replacement after a timeout waits for. While it is being made, other
// sandboxes wait for it rather than do a full start of their own.
let snapshot: Promise<Buffer | null> | null = null;

type SnapshotMode = 'make' | 'load' | 'none';

export function spawnPythonSandbox(memoryMb: number, useSnapshot = true): SandboxConnection {
  let onMessage: (m: WireMessage) => void = () => {};
  let onExit: (reason: string) => void = () => {};
  let child: ChildProcess | null = null;
  let killed = false;

  const start = (mode: SnapshotMode, image: Buffer | null, made?: (image: Buffer | null) => void) => {
    const env = {
      AZR_PYODIDE_DIR: pyodideDir,
      AZR_RUNTIME_PY: runtimePy,
      AZR_MEMORY_MB: String(memoryMb),
      AZR_SNAPSHOT: mode,
    };
    const cmd = sandboxCommand(join(here, 'host.js'));
    const proc = spawn(cmd.file, cmd.args, { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    child = proc;
    const side = proc.stdio[3] as unknown as Socket;
    side.on('error', () => {}); // a sandbox killed while starting breaks this pipe: its exit reports it
    if (mode === 'load' && image) side.end(image);
    else if (mode === 'make') {
      const parts: Buffer[] = [];
      side.on('data', (d: Buffer) => parts.push(d));
      side.on('end', () => made?.(parts.length ? Buffer.concat(parts) : null));
      proc.on('exit', () => made?.(null)); // a second call is ignored by the promise
    } else side.end();
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-400);
    });
    proc.stdin?.on('error', () => {}); // a killed sandbox closes its pipe mid-write: the exit event reports it
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {}
      // Not a protocol line: the pool fails the request in flight.
      const isObject = typeof message === 'object' && message !== null && !Array.isArray(message);
      onMessage(isObject ? (message as WireMessage) : { stray: line.slice(0, 200) });
    });
    proc.on('exit', (code, signal) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      onExit(`exit ${signal ?? code}${last ? ` (${last.slice(0, 160)})` : ''}`);
    });
  };

  if (!useSnapshot) {
    start('none', null);
  } else if (!snapshot) {
    snapshot = new Promise((resolve) => start('make', null, resolve));
  } else {
    void snapshot.then((image) => {
      if (killed) onExit('killed before it started');
      else start(image ? 'load' : 'none', image);
    });
  }
  return {
    send(batch) {
      child?.stdin?.write(`${JSON.stringify(batch)}\n`);
    },
    onMessage(listener) {
      onMessage = listener;
    },
    onExit(listener) {
      onExit = listener;
    },
    kill() {
      killed = true;
      child?.kill('SIGKILL');
    },
  };
}
