// Start SkyRL's Tinker API server (JAX backend, CPU) with the tiny Qwen3 for a test (or another model folder
// setup_skyrl.sh built, e.g. SmolLM2 for bench/tinker-smollm2.ts), on a free loopback port, and stop it
// (its whole process group: uv, the API server and its engine) afterwards.
//
// The Python side is installed by `bash python/setup_skyrl.sh` into $AZR_TINKER_HOME (default
// ~/.cache/azr-tinker). Without it the tests fail with that command in the message, rather than pass
// silently. AZR_TINKER_URL points the tests at a server already running instead (its base model is then
// the one it serves, and its tokenizer is read from AZR_TINKER_MODEL_DIR or the setup folder).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export const SETUP_COMMAND = 'bash python/setup_skyrl.sh';

export interface SkyrlServer {
  url: string;
  /** The base model name the server knows (the tiny model's folder). */
  baseModel: string;
  /** Folder with the model's tokenizer files. */
  modelDir: string;
  /** The server's log so far (empty for a server started elsewhere). */
  log(): string;
  stop(): Promise<void>;
}

export function skyrlHome(): string {
  return process.env.AZR_TINKER_HOME || join(homedir(), '.cache', 'azr-tinker');
}

/** A loopback port nothing listens on (at the moment of asking). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v1/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Start the server, or use $AZR_TINKER_URL. Throws, naming the setup command, when nothing is installed.
 * `model` is a folder under the setup folder (default tiny-qwen3); `setupCommand` is how to build it.
 */
export async function startSkyrlServer(
  options: { startTimeoutMs?: number; model?: string; setupCommand?: string } = {},
): Promise<SkyrlServer> {
  const home = skyrlHome();
  const modelDir = options.model
    ? join(home, options.model)
    : process.env.AZR_TINKER_MODEL_DIR || join(home, 'tiny-qwen3');
  const external = options.model ? undefined : process.env.AZR_TINKER_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    const caps = (await (await fetch(`${url}/api/v1/get_server_capabilities`)).json()) as {
      supported_models: { model_name: string }[];
    };
    const baseModel = caps.supported_models[0]?.model_name ?? modelDir;
    return { url, baseModel, modelDir, log: () => '', stop: async () => {} };
  }
  if (!existsSync(join(home, 'venv', 'bin', 'uv')) || !existsSync(join(modelDir, 'config.json'))) {
    throw new Error(
      `SkyRL's Tinker server with ${modelDir} is not installed in ${home}: run ` +
        `\`${options.setupCommand ?? SETUP_COMMAND}\` (about 3 minutes on empty caches, several GB from PyPI), ` +
        'or set AZR_TINKER_URL to a running server',
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'azr-skyrl-'));
  const logPath = join(work, 'server.log');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const out = openSync(logPath, 'a');
  const child: ChildProcess = spawn(
    'bash',
    [join(root, 'python', 'start_skyrl_server.sh'), String(port), work, home, modelDir],
    {
      detached: true, // its own process group, so stop() ends uv, the API server and the engine together
      stdio: ['ignore', out, out],
    },
  );
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const stop = async () => {
    if (exited === undefined && child.pid !== undefined) {
      const group = -child.pid;
      try {
        process.kill(group, 'SIGTERM');
        for (let i = 0; i < 100 && exited === undefined; i++) await sleep(100);
        process.kill(group, 'SIGKILL'); // whatever of the group is left
      } catch {
        // already gone
      }
    }
    // The database, the saved weights and the log go with the server.
    rmSync(work, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 180_000);
  while (!(await healthy(url))) {
    if (exited !== undefined) {
      throw new Error(
        `SkyRL's Tinker server exited (code ${exited}) before answering; its log:\n${log().slice(-3000)}`,
      );
    }
    if (Date.now() > deadline) {
      const tail = log().slice(-3000);
      await stop();
      throw new Error(`SkyRL's Tinker server did not answer at ${url} in time; its log:\n${tail}`);
    }
    await sleep(500);
  }
  return { url, baseModel: modelDir, modelDir, log, stop };
}
