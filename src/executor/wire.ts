// What the host and a sandbox (a Pyodide process or a QuickJS worker thread) say to each other. Both
// kinds speak the same protocol, so one pool manages them: the host sends a batch, the sandbox answers
// one message per request, in order, then the next batch. Every request carries a nonce the pool drew for
// it, and its answer must carry the same nonce: the sandbox's own code keeps the nonce away from the
// programs it runs, so a line a program manages to write is never taken for a result.
import type { AnyExecResult, ExecLimits, ExecRequest } from './types.js';

/**
 * What a sandbox is asked: a public request, or (Python) the canonical text of a literal whose spelling
 * the host's own reader does not take.
 */
export type SandboxRequest = ExecRequest | { op: 'literal'; lang: 'python'; text: string };

export type WireRequest = SandboxRequest & { nonce: string };

export interface WireBatch {
  limits: ExecLimits;
  requests: WireRequest[];
}

export type WireMessage =
  | { ready: true; heap?: number }
  /** `recycle`: the sandbox asks to be replaced before it runs anything else. */
  | { nonce: string; result: AnyExecResult; heap?: number; recycle?: boolean }
  | { nonce?: string; fatal: string }
  /** A line on the result channel that is not a protocol message. */
  | { stray: string };

/** One live sandbox. `onMessage`/`onExit` are set once by the pool. */
export interface SandboxConnection {
  send(batch: WireBatch): void;
  onMessage(listener: (message: WireMessage) => void): void;
  onExit(listener: (reason: string) => void): void;
  kill(): void;
}

export type SandboxSpawner = () => SandboxConnection;
