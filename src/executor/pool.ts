// A pool of sandboxes of one language. Each slot holds one sandbox and runs one batch at a time; a batch
// is cut into chunks that idle slots pull from a shared queue, so every core stays busy. The slot watches
// a deadline for the request in flight: a sandbox that overruns it (an infinite loop, or a C-level loop
// no interrupt reaches) is killed and replaced, that request is a `timeout`, and the rest of its chunk
// goes to the replacement. A sandbox that dies is replaced the same way, and a sandbox whose heap grew
// past the recycle threshold is replaced between chunks (a wasm heap never shrinks).
//
// Replacements come from a warm spare when the pool keeps one: a Pyodide sandbox takes 1.5 s to start
// on a quiet machine and ten times that on a loaded one, which would otherwise stall a slot after every
// timeout.
import { randomBytes } from 'node:crypto';
import type { AnyExecResult, ExecFailure, ExecLimits } from './types.js';
import type { SandboxConnection, SandboxRequest, SandboxSpawner, WireMessage, WireRequest } from './wire.js';

export interface PoolOptions {
  size: number;
  spawn: SandboxSpawner;
  limits: ExecLimits;
  /** Replace a sandbox whose heap passed this many bytes. */
  recycleHeapBytes: number;
  /** Time a new sandbox may take to start before it counts as broken. */
  startupMs: number;
  /** Requests per message; batching was measured ~1.7x faster than one message per call. */
  chunkSize?: number;
  /** Keep one started sandbox in reserve for replacements (worth it when starting one is slow). */
  spare?: boolean;
}

interface Chunk {
  requests: SandboxRequest[];
  resolve: (results: AnyExecResult[]) => void;
}

function failure(kind: ExecFailure['kind'], message: string, timeMs = 0): ExecFailure {
  return { ok: false, kind, message, timeMs };
}

/** Deadline of one request: each run of a check gets the full time limit, plus a margin for messaging. */
function deadlineMs(req: SandboxRequest, limits: ExecLimits): number {
  const runs =
    req.op === 'check' ? Math.max(1, req.runs ?? 2) : req.op === 'run' || req.op === 'matches' ? 1 : 0;
  return Math.max(1, runs) * limits.timeoutMs + 250;
}

/** One started (or starting) sandbox, with its messages routed to whoever is using it now. */
class Sandbox {
  readonly ready: Promise<void>;
  heap = 0;
  alive = true;
  onMessage: ((m: WireMessage) => void) | null = null;
  onExit: ((reason: string) => void) | null = null;

  constructor(
    private readonly conn: SandboxConnection,
    startupMs: number,
  ) {
    let started = false;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`sandbox did not start within ${startupMs} ms`));
      }, startupMs);
      conn.onMessage((m) => {
        if (!started) {
          if ('ready' in m) {
            started = true;
            clearTimeout(timer);
            this.heap = m.heap ?? 0;
            resolve();
          } else if ('fatal' in m) {
            clearTimeout(timer);
            this.kill();
            reject(new Error(`sandbox failed to start: ${m.fatal}`));
          }
          return;
        }
        if ('result' in m) this.heap = m.heap ?? this.heap;
        this.onMessage?.(m);
      });
      conn.onExit((reason) => {
        this.alive = false;
        clearTimeout(timer);
        if (!started) reject(new Error(`sandbox exited while starting: ${reason}`));
        else this.onExit?.(reason);
      });
    });
    // A spare nobody awaits yet must not raise an unhandled rejection; users await `ready` themselves.
    this.ready.catch(() => {});
  }

  send(requests: WireRequest[], limits: ExecLimits): void {
    this.conn.send({ limits, requests });
  }

  /** Stop it; whoever is using it hears of the exit through `onExit`. */
  kill(): void {
    this.alive = false;
    this.conn.kill();
  }
}

class Slot {
  private sandbox: Sandbox | null = null;
  private closed = false;
  executions = 0;

  constructor(
    private readonly opts: PoolOptions,
    private readonly take: () => Sandbox,
  ) {}

  private async connection(): Promise<Sandbox> {
    if (!this.sandbox?.alive) this.sandbox = this.take();
    const sandbox = this.sandbox;
    await sandbox.ready;
    if (!sandbox.alive) throw new Error('sandbox exited right after starting');
    return sandbox;
  }

  private replace(): void {
    this.sandbox?.kill();
    this.sandbox = null;
  }

  /** Run requests in order; never rejects because of what a program does. */
  async run(requests: SandboxRequest[]): Promise<AnyExecResult[]> {
    const results: AnyExecResult[] = [];
    let startFailures = 0;
    while (results.length < requests.length) {
      if (this.closed) {
        while (results.length < requests.length) results.push(failure('runtime', 'the executor is closed'));
        break;
      }
      let sandbox: Sandbox;
      try {
        sandbox = await this.connection();
      } catch (e) {
        this.replace();
        // One retry (a spare may have died, a start may have been slow); then fail the rest of the
        // chunk rather than loop forever on a runtime that cannot start here.
        if (++startFailures < 2) continue;
        const message = (e as Error).message;
        while (results.length < requests.length) results.push(failure('runtime', message));
        break;
      }
      // A fresh nonce per request and per send: an answer is accepted only with the nonce of the request
      // in flight, so neither a line a program wrote nor an answer to an earlier send can stand for it.
      const nonces = randomBytes(16 * (requests.length - results.length));
      const pending: WireRequest[] = requests
        .slice(results.length)
        .map((req, k) => ({ ...req, nonce: nonces.toString('hex', 16 * k, 16 * k + 16) }));
      await new Promise<void>((done) => {
        let index = 0;
        let started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const arm = () => {
          clearTimeout(timer);
          const req = pending[index];
          if (!req) return;
          started = performance.now();
          timer = setTimeout(
            () => {
              results.push(
                failure(
                  'timeout',
                  `no result within ${this.opts.limits.timeoutMs} ms`,
                  performance.now() - started,
                ),
              );
              this.executions++;
              finish(true);
            },
            deadlineMs(req, this.opts.limits),
          );
        };
        const finish = (kill: boolean) => {
          clearTimeout(timer);
          sandbox.onMessage = null;
          sandbox.onExit = null;
          if (kill) this.replace();
          done();
        };
        sandbox.onMessage = (m) => {
          if ('fatal' in m) {
            results.push(failure('runtime', `the sandbox stopped: ${m.fatal}`, performance.now() - started));
            this.executions++;
            finish(true);
          } else if (!('result' in m) || m.nonce !== pending[index]?.nonce) {
            // Anything else on the result channel means the sandbox is not speaking for itself.
            results.push(
              failure('runtime', 'the sandbox wrote outside its protocol', performance.now() - started),
            );
            this.executions++;
            finish(true);
          } else {
            results.push(m.result);
            this.executions++;
            index++;
            if (m.recycle) finish(true);
            else if (index === pending.length) finish(false);
            else arm();
          }
        };
        sandbox.onExit = (reason) => {
          results.push(failure('runtime', `the sandbox stopped: ${reason}`, performance.now() - started));
          this.executions++;
          finish(true);
        };
        arm();
        sandbox.send(pending, this.opts.limits);
      });
    }
    if (this.sandbox && this.sandbox.heap > this.opts.recycleHeapBytes) this.replace();
    return results;
  }

  close(): void {
    this.closed = true;
    this.replace();
  }
}

export class SandboxPool {
  private readonly slots: Slot[];
  private readonly queue: Chunk[] = [];
  private idle: Slot[];
  private spare: Sandbox | null = null;
  private started = 0;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.slots = Array.from({ length: opts.size }, () => new Slot(opts, () => this.take()));
    this.idle = [...this.slots];
  }

  private spawn(): Sandbox {
    return new Sandbox(this.opts.spawn(), this.opts.startupMs);
  }

  /**
   * A sandbox for a slot. The first one per slot is started fresh; later ones (replacements) take the
   * spare, and a new spare starts in the background. The spare is first started once the slots' own
   * sandboxes are up, so it does not slow the pool's start.
   */
  private take(): Sandbox {
    if (!this.opts.spare) return this.spawn();
    if (this.started < this.slots.length) {
      this.started++;
      const first = this.spawn();
      if (this.started === this.slots.length) {
        void first.ready.then(
          () => this.refillSpare(),
          () => this.refillSpare(),
        );
      }
      return first;
    }
    const spare = this.spare?.alive ? this.spare : this.spawn();
    this.spare = null;
    this.refillSpare();
    return spare;
  }

  private refillSpare(): void {
    if (this.closed || this.spare?.alive) return;
    this.spare = this.spawn();
  }

  get executions(): number {
    return this.slots.reduce((n, s) => n + s.executions, 0);
  }

  run(requests: SandboxRequest[]): Promise<AnyExecResult[]> {
    if (this.closed) return Promise.resolve(requests.map(() => failure('runtime', 'the executor is closed')));
    if (requests.length === 0) return Promise.resolve([]);
    // Chunks small enough to spread over the slots, large enough to amortise a message.
    const size = Math.max(
      1,
      Math.min(this.opts.chunkSize ?? 32, Math.ceil(requests.length / this.slots.length)),
    );
    const parts: Promise<AnyExecResult[]>[] = [];
    for (let i = 0; i < requests.length; i += size) {
      const chunk = requests.slice(i, i + size);
      parts.push(new Promise((resolve) => this.queue.push({ requests: chunk, resolve })));
    }
    this.pump();
    return Promise.all(parts).then((rs) => rs.flat());
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const slot = this.idle.pop() as Slot;
      const chunk = this.queue.shift() as Chunk;
      void slot
        .run(chunk.requests)
        .catch((e: unknown) =>
          chunk.requests.map(() => failure('runtime', `executor fault: ${(e as Error)?.message ?? e}`)),
        )
        .then((results) => {
          chunk.resolve(results);
          this.idle.push(slot);
          this.pump();
        });
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots) s.close();
    this.spare?.kill();
    this.spare = null;
    // Whatever is still queued gets an answer, so no caller waits forever.
    for (const chunk of this.queue.splice(0)) {
      chunk.resolve(chunk.requests.map(() => failure('runtime', 'the executor is closed')));
    }
  }
}
