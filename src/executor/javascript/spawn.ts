// Starting a JavaScript sandbox: a worker thread hosting QuickJS. The wasm boundary is the isolation;
// the thread only keeps the host's event loop free while a program runs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SandboxConnection, WireMessage } from '../wire.js';

const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

export function spawnJavaScriptSandbox(): SandboxConnection {
  // execArgv: [] so the host's own flags (e.g. `node --input-type=module -e`, which a worker refuses to
  // start with) do not decide whether the sandbox can run.
  const worker = new Worker(workerFile, { env: {}, execArgv: [], stdout: true, stderr: true });
  let onMessage: (m: WireMessage) => void = () => {};
  let onExit: (reason: string) => void = () => {};
  worker.on('message', (m: WireMessage) => onMessage(m));
  worker.on('error', (e) => onExit(`error ${e.message}`));
  worker.on('exit', (code) => onExit(`exit ${code}`));
  return {
    send: (batch) => worker.postMessage(batch),
    onMessage(listener) {
      onMessage = listener;
    },
    onExit(listener) {
      onExit = listener;
    },
    kill() {
      void worker.terminate();
    },
  };
}
