// The executor's public contract. Everything above src/executor talks to it only through these types,
// so the sandbox can change (Pyodide today, a CPython pool tomorrow) without touching the environment.

/** Languages a task program can be written in. */
export type Lang = 'python' | 'javascript';
export const LANGS: readonly Lang[] = ['python', 'javascript'];

/**
 * Why a call did not produce an output. Failures are values, never exceptions: a model writes these
 * programs, so most of them fail, and every reason is counted in the metrics.
 */
export type FailureKind =
  | 'syntax' // the program or a literal does not parse
  | 'runtime' // the program raised
  | 'timeout' // wall-time limit hit
  | 'memory' // memory limit hit
  | 'banned' // uses a banned module or name
  | 'nondeterministic' // repeated runs disagreed, or the output depends on object identity
  | 'too_large' // program, input or output over its size limit
  | 'bad_input' // the input is not a literal argument list
  | 'no_entry' // no top-level function `f`, or more than one top-level function
  | 'not_a_value'; // the result is not a value of exact built-in types (an object of a class, a subclass)

export interface ExecLimits {
  /** Wall time per call, in milliseconds. */
  timeoutMs: number;
  /** Memory cap of one interpreter, in MiB. */
  memoryMb: number;
  maxProgramChars: number;
  maxInputChars: number;
  maxOutputChars: number;
}

export const DEFAULT_LIMITS: ExecLimits = {
  timeoutMs: 2000,
  memoryMb: 256,
  maxProgramChars: 8000,
  maxInputChars: 2000,
  maxOutputChars: 2000,
};

export interface ExecSuccess {
  ok: true;
  /**
   * Canonical text of the returned value: Python `repr` of a value of exact built-in types, or the
   * JavaScript stable serialisation. Text only: no object a program made leaves the sandbox.
   */
  output: string;
  /** The value itself where it maps onto plain JSON data; undefined otherwise (sets, tuples, bytes...). */
  value?: unknown;
  timeMs: number;
}

export interface ExecFailure {
  ok: false;
  kind: FailureKind;
  /** One short line, safe to log and to show a model. */
  message: string;
  timeMs: number;
}

export type ExecResult = ExecSuccess | ExecFailure;

/** Static facts about a program, read without running it. */
export interface ProgramInfo {
  /** Names of functions defined at the top level, in order. */
  topLevelFunctions: string[];
  /** Modules imported anywhere in the program. */
  imports: string[];
}

export type InspectResult = ({ ok: true } & ProgramInfo) | ExecFailure;

/**
 * One unit of work. Requests are batched: the pool ships many per message, which was measured about
 * 1.7x faster than one message per call.
 */
export type ExecRequest =
  /** f(*input) once. `input` is the argument list as literals, e.g. `[1, 2], 'a'`. */
  | { op: 'run'; lang: Lang; program: string; input: string }
  /** A task candidate: size limits, static safety, entry `f`, then `runs` runs that must agree. */
  | { op: 'check'; lang: Lang; program: string; input: string; runs?: number }
  /**
   * Does f(*input) equal the `expected` output literal? Decided by the host on the output's canonical
   * text; `expected` never enters the sandbox.
   */
  | { op: 'matches'; lang: Lang; program: string; input: string; expected: string }
  /**
   * Are two output literals equal values? Python: == on plain values with 1 == 1.0, a bool equal only to
   * a bool, sets unordered; JavaScript: the same canonical text.
   */
  | { op: 'equal'; lang: Lang; a: string; b: string }
  /** Parse and read static facts; runs nothing. */
  | { op: 'inspect'; lang: Lang; program: string };

/** What `matches` and `equal` answer: a verdict, or the reason none could be reached. */
export type VerdictResult = { ok: true; equal: boolean; timeMs: number } | ExecFailure;

export type AnyExecResult = ExecResult | VerdictResult | InspectResult;

export interface Executor {
  run(lang: Lang, program: string, input: string): Promise<ExecResult>;
  check(lang: Lang, program: string, input: string, runs?: number): Promise<ExecResult>;
  matches(lang: Lang, program: string, input: string, expected: string): Promise<VerdictResult>;
  equal(lang: Lang, a: string, b: string): Promise<VerdictResult>;
  inspect(lang: Lang, program: string): Promise<InspectResult>;
  /** Many requests at once; results in request order. Never rejects for a program's fault. */
  batch(requests: readonly ExecRequest[]): Promise<AnyExecResult[]>;
  /** Executions finished so far (for execs/s in the metrics). */
  readonly executions: number;
  close(): Promise<void>;
}
