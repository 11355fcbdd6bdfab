// A JavaScript sandbox: a worker thread that runs programs in a frozen QuickJS realm (WebAssembly, see
// realm.ts) with a memory limit, a stack limit and an interrupt deadline. The program gets no host
// bindings: the input goes in as literal text the host built from parsed data, and the output comes back
// as a string. The realm is replaced after a timeout, a memory failure or a queued job.
import { parentPort } from 'node:worker_threads';
import { newQuickJSWASMModuleFromVariant, type QuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import type { AnyExecResult, ExecLimits, ExecRequest, ExecResult } from '../types.js';
import type { WireBatch, WireMessage } from '../wire.js';
import { canonical } from './canonical.js';
import { LiteralError, parseArgs, parseLiteral } from './literal.js';
import { bannedName, topLevelFunctions } from './policy.js';
import { classify, Realm, Refused } from './realm.js';

let quickjs: QuickJSWASMModule;
let realm: Realm | null = null;

/** Use the realm (built on first use, or again when the memory limit changed); drop it if it may be spoiled. */
function inRealm<T>(limits: ExecLimits, body: (r: Realm) => T): T {
  if (realm && realm.memoryMb !== limits.memoryMb) discardRealm();
  realm ??= Realm.create(quickjs, limits);
  const r = realm;
  try {
    return body(r);
  } catch (e) {
    if (!(e instanceof Refused) || e.kind === 'timeout' || e.kind === 'memory') discardRealm();
    throw e;
  } finally {
    if (realm === r && r.broken) discardRealm();
  }
}

function discardRealm(): void {
  try {
    realm?.dispose();
  } catch {
    // a runtime that ran out of memory may refuse to free cleanly; it is dropped either way
  }
  realm = null;
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

/** Run f(...args) in the realm; the canonical text of the result. */
function runOnce(program: string, args: string, limits: ExecLimits): string {
  const out = inRealm(limits, (r) => r.run(program, args, limits));
  if (out.length > limits.maxOutputChars) {
    throw new Refused('too_large', `output is ${out.length} characters, over ${limits.maxOutputChars}`);
  }
  return out;
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
        inRealm(limits, (r) => r.compile(req.program, limits));
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
    for (const { nonce, ...req } of batch.requests) {
      const result =
        req.op === 'literal'
          ? ({ ok: false, kind: 'bad_input', message: 'unknown op', timeMs: 0 } as const)
          : handle(req, batch.limits);
      post({ nonce, result });
    }
  });
  post({ ready: true });
}

void main();
