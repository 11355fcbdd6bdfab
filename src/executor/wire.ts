// What the host and a sandbox (a Pyodide process or a QuickJS worker thread) say to each other. Both
// kinds speak the same protocol, so one pool manages them: the host sends a batch, the sandbox answers
// one message per request, in order, then the next batch.
import type { AnyExecResult, ExecLimits, ExecRequest } from './types.js';

export interface WireBatch {
  limits: ExecLimits;
  requests: ExecRequest[];
}

export type WireMessage =
  | { ready: true; heap?: number }
  /** `recycle`: the sandbox asks to be replaced before it runs anything else. */
  | { result: AnyExecResult; heap?: number; recycle?: boolean }
  | { fatal: string };

/** One live sandbox. `onMessage`/`onExit` are set once by the pool. */
export interface SandboxConnection {
  send(batch: WireBatch): void;
  onMessage(listener: (message: WireMessage) => void): void;
  onExit(listener: (reason: string) => void): void;
  kill(): void;
}

export type SandboxSpawner = () => SandboxConnection;
