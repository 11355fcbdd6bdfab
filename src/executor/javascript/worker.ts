// A JavaScript sandbox: a worker thread that runs each program in a fresh QuickJS runtime (WebAssembly)
// with a memory limit, a stack limit and an interrupt deadline. The program gets no host bindings: the
// input goes in as literal text the host built from parsed data, and the output comes back as a string.
import { parentPort } from 'node:worker_threads';
import {
  newQuickJSWASMModuleFromVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSWASMModule,
  RELEASE_SYNC,
  shouldInterruptAfterDeadline,
} from 'quickjs-emscripten';
import type { AnyExecResult, ExecFailure, ExecLimits, ExecRequest, ExecResult } from '../types.js';
import type { WireBatch, WireMessage } from '../wire.js';
import { canonical } from './canonical.js';
import { LiteralError, parseArgs, parseLiteral } from './literal.js';
import { bannedName, topLevelFunctions } from './policy.js';

// Clocks and randomness made constant, so a program that slips past the policy is still deterministic.
const PRELUDE = `
(() => {
  let s = 0x2545f491;
  Math.random = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296; };
  const D = Date;
  globalThis.Date = function (...a) { return a.length ? new D(...a) : new D(0); };
  globalThis.Date.now = () => 0;
})();
`;

// Calls f and writes the canonical text of what it returned when that is a string, a boolean, null, a
// finite number other than -0, or an array of those (most task outputs): the same text canonical
// gives, from a few lines. Anything else comes back as { r } for CANONICAL. Compiling canonical's
// source in every run's fresh context was half of a run's time, so it is compiled only when needed.
// Like canonical, this uses the context's own intrinsics, which only this run's program can have changed.
// (An array whose elements are getters has them called again by CANONICAL: the program's own business.)
const call = (args: string) => `if (typeof f !== 'function') throw new TypeError('f is not a function');
((r) => {
  const p = (x) => typeof x === 'string' || typeof x === 'boolean' || x === null ||
    (typeof x === 'number' && x === x && x !== 1 / 0 && x !== -1 / 0 && (x !== 0 || 1 / x > 0));
  if (p(r)) return JSON.stringify(r);
  if (!Array.isArray(r)) return { r };
  const s = [];
  for (let i = 0; i < r.length; i++) {
    const x = r[i];
    if (!p(x)) return { r };
    s.push(JSON.stringify(x));
  }
  return '[' + s.join(',') + ']';
})(f(...${args}))`;

const CANONICAL = `(w) => (${canonical.toString()})(w.r)`;

class Refused extends Error {
  constructor(
    readonly kind: ExecFailure['kind'],
    message: string,
  ) {
    super(message);
  }
}

let quickjs: QuickJSWASMModule;

function classify(err: unknown): Refused {
  const e = err as { name?: string; message?: string };
  const name = e?.name ?? 'Error';
  const message = String(e?.message ?? err);
  if (/interrupted/i.test(message)) return new Refused('timeout', 'interrupted at the time limit');
  if (/out of memory|string too long|invalid array length/i.test(message))
    return new Refused('memory', message.slice(0, 120));
  return new Refused('runtime', `${name}: ${message}`.slice(0, 200));
}

function withContext<T>(limits: ExecLimits, body: (ctx: QuickJSContext) => T): T {
  const rt = quickjs.newRuntime();
  rt.setMemoryLimit(limits.memoryMb * 1024 * 1024);
  // Above ~256 KB, deep recursion overflows the host's stack before QuickJS's own check fires.
  rt.setMaxStackSize(256 * 1024);
  rt.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeoutMs));
  const ctx = rt.newContext();
  try {
    return body(ctx);
  } finally {
    ctx.dispose();
    rt.dispose();
  }
}

function evaluate(ctx: QuickJSContext, code: string, file: string): unknown {
  const r = ctx.evalCode(code, file);
  if (r.error) {
    const err = ctx.dump(r.error);
    r.error.dispose();
    throw err;
  }
  const v = ctx.dump(r.value);
  r.value.dispose();
  return v;
}

function loadChecked(program: string, limits: ExecLimits): void {
  if (program.length > limits.maxProgramChars) {
    throw new Refused('too_large', `program is ${program.length} characters, over ${limits.maxProgramChars}`);
  }
  const banned = bannedName(program);
  if (banned) throw new Refused('banned', `use of ${banned} is not allowed`);
  const fns = topLevelFunctions(program);
  if (!fns.includes('f')) throw new Refused('no_entry', 'the program defines no top-level function f');
  if (fns.length > 1) {
    throw new Refused('no_entry', `define exactly one top-level function, f (found ${fns.join(', ')})`);
  }
}

function argsText(input: string, limits: ExecLimits): string {
  if (input.length > limits.maxInputChars) {
    throw new Refused('too_large', `input is ${input.length} characters, over ${limits.maxInputChars}`);
  }
  try {
    return canonical(parseArgs(input));
  } catch (e) {
    throw new Refused('bad_input', `input is not a literal argument list: ${(e as Error).message}`);
  }
}

/** The result of an evaluation or call, or the classified error it threw (which is disposed). */
function unwrap(ctx: QuickJSContext, r: ReturnType<QuickJSContext['evalCode']>): QuickJSHandle {
  if (r.error) {
    const err = ctx.dump(r.error);
    r.error.dispose();
    throw classify(err);
  }
  return r.value;
}

/** The canonical text of what `call` answered: its string, or canonical run on the { r } it gave back. */
function canonicalText(ctx: QuickJSContext, answer: QuickJSHandle): unknown {
  if (ctx.typeof(answer) === 'string') return ctx.getString(answer);
  const fn = unwrap(ctx, ctx.evalCode(CANONICAL, 'canonical.js'));
  try {
    const text = unwrap(ctx, ctx.callFunction(fn, ctx.undefined, answer));
    try {
      return ctx.dump(text);
    } finally {
      text.dispose();
    }
  } finally {
    fn.dispose();
  }
}

/** Run f(...args) in a fresh runtime; the canonical text of the result. */
function runOnce(program: string, args: string, limits: ExecLimits): string {
  return withContext(limits, (ctx) => {
    try {
      evaluate(ctx, PRELUDE, 'prelude.js');
    } catch (e) {
      throw classify(e);
    }
    try {
      evaluate(ctx, program, 'program.js');
    } catch (e) {
      const r = classify(e);
      if (/^SyntaxError/.test(r.message)) throw new Refused('syntax', r.message);
      throw r;
    }
    const answer = unwrap(ctx, ctx.evalCode(call(args), 'call.js'));
    let out: unknown;
    try {
      out = canonicalText(ctx, answer);
    } finally {
      answer.dispose();
    }
    if (typeof out !== 'string') throw new Refused('runtime', 'the result has no literal form');
    if (out.length > limits.maxOutputChars) {
      throw new Refused('too_large', `output is ${out.length} characters, over ${limits.maxOutputChars}`);
    }
    return out;
  });
}

function success(text: string, t0: number): ExecResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined; // beyond JSON (undefined, NaN, Map, ...): the text alone carries it
  }
  return value === undefined
    ? { ok: true, output: text, timeMs: performance.now() - t0 }
    : { ok: true, output: text, value, timeMs: performance.now() - t0 };
}

function canonicalLiteral(text: string, what: string, limit: number): string {
  if (text.length > limit)
    throw new Refused('too_large', `${what} is ${text.length} characters, over ${limit}`);
  try {
    return canonical(parseLiteral(text));
  } catch (e) {
    if (e instanceof LiteralError) throw new Refused('syntax', `${what} is not a literal: ${e.message}`);
    throw new Refused('syntax', `${what} has no literal form: ${(e as Error).message}`);
  }
}

function handle(req: ExecRequest, limits: ExecLimits): AnyExecResult {
  const t0 = performance.now();
  try {
    switch (req.op) {
      case 'run': {
        loadChecked(req.program, limits);
        return success(runOnce(req.program, argsText(req.input, limits), limits), t0);
      }
      case 'check': {
        loadChecked(req.program, limits);
        const args = argsText(req.input, limits);
        const first = runOnce(req.program, args, limits);
        for (let i = 1; i < Math.max(1, req.runs ?? 2); i++) {
          if (runOnce(req.program, args, limits) !== first) {
            throw new Refused('nondeterministic', `run ${i + 1} gave a different output`);
          }
        }
        return success(first, t0);
      }
      case 'matches': {
        const expected = canonicalLiteral(req.expected, 'expected output', limits.maxOutputChars);
        loadChecked(req.program, limits);
        const out = runOnce(req.program, argsText(req.input, limits), limits);
        return { ok: true, equal: out === expected, timeMs: performance.now() - t0 };
      }
      case 'equal': {
        const a = canonicalLiteral(req.a, 'value', limits.maxOutputChars);
        const b = canonicalLiteral(req.b, 'value', limits.maxOutputChars);
        return { ok: true, equal: a === b, timeMs: performance.now() - t0 };
      }
      case 'inspect': {
        if (req.program.length > limits.maxProgramChars) {
          throw new Refused('too_large', `program is ${req.program.length} characters`);
        }
        const banned = bannedName(req.program);
        if (banned) throw new Refused('banned', `use of ${banned} is not allowed`);
        // Compile without running: a syntax error is reported, the program's code never executes.
        withContext(limits, (ctx) => {
          try {
            evaluate(ctx, `(function () {\n${req.program}\n})`, 'program.js');
          } catch (e) {
            throw new Refused('syntax', classify(e).message);
          }
        });
        return {
          ok: true,
          topLevelFunctions: topLevelFunctions(req.program),
          imports: [],
          timeMs: performance.now() - t0,
        };
      }
    }
  } catch (e) {
    const r = e instanceof Refused ? e : classify(e);
    return { ok: false, kind: r.kind, message: r.message.slice(0, 300), timeMs: performance.now() - t0 };
  }
}

async function main(): Promise<void> {
  quickjs = await newQuickJSWASMModuleFromVariant(RELEASE_SYNC);
  const port = parentPort;
  if (!port) throw new Error('the JavaScript sandbox must run as a worker thread');
  const post = (m: WireMessage) => port.postMessage(m);
  port.on('message', (batch: WireBatch) => {
    for (const req of batch.requests) post({ result: handle(req, batch.limits) });
  });
  post({ ready: true });
}

void main();
