// What the Python sandbox is asked for each public request, and how its answers become the request's
// result. Verdicts are decided here, in the host: `matches` runs the program in the sandbox and compares
// the canonical text of its result with the expected literal read here (the expected output never enters
// the sandbox), and `equal` reads both literals here. Only a literal spelled in a way value.ts does not
// read is canonicalised by the sandbox (ast.literal_eval, no program code). Every answer of the sandbox
// is checked for shape: it is data from a process that ran untrusted code.
import type {
  AnyExecResult,
  ExecFailure,
  ExecRequest,
  FailureKind,
  InspectResult,
  VerdictResult,
} from '../types.js';
import type { SandboxRequest } from '../wire.js';
import { jsonValue, type PyValue, pythonEqual, readPythonValue, Unreadable } from './value.js';

export interface PythonPlan {
  /** What to send to the sandbox for this request, in order. */
  requests: SandboxRequest[];
  /** The request's result from the sandbox's answers to `requests`, in the same order. */
  finish(answers: readonly AnyExecResult[]): AnyExecResult;
}

const KINDS: ReadonlySet<string> = new Set<FailureKind>([
  'syntax',
  'runtime',
  'timeout',
  'memory',
  'banned',
  'nondeterministic',
  'too_large',
  'bad_input',
  'no_entry',
  'not_a_value',
]);

function failure(kind: FailureKind, message: string, timeMs = 0): ExecFailure {
  return { ok: false, kind, message, timeMs };
}

const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** A sandbox answer as a failure, a canonical output text, or (inspect) static facts; anything else is a fault. */
function checked(
  answer: AnyExecResult | undefined,
): ExecFailure | { ok: true; output: string; timeMs: number } {
  const a = answer as unknown as Record<string, unknown> | undefined;
  const timeMs = typeof a?.timeMs === 'number' ? a.timeMs : 0;
  if (a?.ok === false && typeof a.kind === 'string' && KINDS.has(a.kind) && typeof a.message === 'string')
    return failure(a.kind as FailureKind, a.message.slice(0, 300), timeMs);
  if (a?.ok === true && typeof a.output === 'string') return { ok: true, output: a.output, timeMs };
  return failure('runtime', 'the sandbox answered out of shape', timeMs);
}

/** A literal read here, or the index of the sandbox request that canonicalises it. */
type Literal = { value: PyValue } | { at: number };

function literal(text: string, requests: SandboxRequest[]): Literal {
  try {
    return { value: readPythonValue(text) };
  } catch (e) {
    if (!(e instanceof Unreadable)) throw e;
    requests.push({ op: 'literal', lang: 'python', text });
    return { at: requests.length - 1 };
  }
}

/** The value of a literal from the sandbox's canonical text, or the failure to report for it. */
function resolve(lit: Literal, answers: readonly AnyExecResult[], what: string): PyValue | ExecFailure {
  if ('value' in lit) return lit.value;
  const a = checked(answers[lit.at]);
  if (!a.ok)
    return a.kind === 'not_a_value' ? failure('syntax', `${what} is not a plain value: ${a.message}`) : a;
  try {
    return readPythonValue(a.output);
  } catch {
    return failure('runtime', `the sandbox's canonical text of the ${what} could not be read`);
  }
}

const elapsed = (answers: readonly AnyExecResult[]) => answers.reduce((t, a) => t + checked(a).timeMs, 0);

export function planPython(req: ExecRequest): PythonPlan {
  switch (req.op) {
    case 'run':
    case 'check':
      return {
        requests: [req],
        finish([answer]) {
          const a = checked(answer);
          if (!a.ok) return a;
          let value: unknown;
          try {
            value = jsonValue(readPythonValue(a.output));
          } catch {
            return failure('runtime', 'the output is not the text of a plain value', a.timeMs);
          }
          return value === undefined ? a : { ...a, value };
        },
      };
    case 'inspect':
      return {
        requests: [req],
        finish([answer]): InspectResult {
          const a = answer as unknown as Record<string, unknown>;
          if (a?.ok === true && isStrings(a.topLevelFunctions) && isStrings(a.imports)) {
            const timeMs = typeof a.timeMs === 'number' ? a.timeMs : 0;
            return {
              ok: true,
              topLevelFunctions: a.topLevelFunctions,
              imports: a.imports,
              timeMs,
            } as InspectResult;
          }
          const c = checked(answer);
          return c.ok ? failure('runtime', 'the sandbox answered out of shape', c.timeMs) : c;
        },
      };
    case 'matches': {
      const requests: SandboxRequest[] = [];
      const expected = literal(req.expected, requests);
      const run = requests.length;
      requests.push({ op: 'run', lang: 'python', program: req.program, input: req.input });
      return {
        requests,
        finish(answers): VerdictResult {
          const timeMs = elapsed(answers);
          const want = resolve(expected, answers, 'expected output');
          if ('ok' in want) return { ...want, timeMs };
          const out = checked(answers[run]);
          if (!out.ok) return { ...out, timeMs };
          try {
            return { ok: true, equal: pythonEqual(readPythonValue(out.output), want), timeMs };
          } catch {
            return failure('runtime', 'the output is not the text of a plain value', timeMs);
          }
        },
      };
    }
    case 'equal': {
      const requests: SandboxRequest[] = [];
      const a = literal(req.a, requests);
      const b = literal(req.b, requests);
      return {
        requests,
        finish(answers): VerdictResult {
          const timeMs = elapsed(answers);
          const x = resolve(a, answers, 'value');
          if ('ok' in x) return { ...x, timeMs };
          const y = resolve(b, answers, 'value');
          if ('ok' in y) return { ...y, timeMs };
          return { ok: true, equal: pythonEqual(x, y), timeMs };
        },
      };
    }
  }
}
