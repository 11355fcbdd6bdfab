// createExecutor: the sandboxed executor behind the `Executor` interface. Python runs in Pyodide
// processes under Node's permission model without network; JavaScript runs in QuickJS (WebAssembly) on
// worker threads. Each language has its own pool, started lazily on first use.
import { availableParallelism } from 'node:os';
import { spawnJavaScriptSandbox } from './javascript/spawn.js';
import { SandboxPool } from './pool.js';
import { spawnPythonSandbox } from './python/spawn.js';
import { type PythonPlan, planPython } from './python/verdicts.js';
import {
  type AnyExecResult,
  DEFAULT_LIMITS,
  type ExecLimits,
  type ExecRequest,
  type ExecResult,
  type Executor,
  type InspectResult,
  LANGS,
  type Lang,
  type VerdictResult,
} from './types.js';

export * from './types.js';

export interface ExecutorOptions {
  /** Sandboxes per language (default: one per core). */
  workers?: number;
  limits?: Partial<ExecLimits>;
  /** Languages to serve (default both); a request in another language fails with `bad_input`. */
  langs?: readonly Lang[];
  /**
   * Keep Python sandboxes quick to replace (default true): a warm spare, and a memory snapshot that
   * later sandboxes start from. A one-off run (the CLI) turns this off to start sooner.
   */
  keepWarm?: boolean;
}

const FIELDS: Record<ExecRequest['op'], readonly string[]> = {
  run: ['program', 'input'],
  check: ['program', 'input'],
  matches: ['program', 'input', 'expected'],
  equal: ['a', 'b'],
  inspect: ['program'],
};

/** What is wrong with a request's shape (it may come from a file or a network peer), or null. */
function malformed(req: unknown): string | null {
  if (typeof req !== 'object' || req === null) return 'a request must be an object';
  const r = req as Record<string, unknown>;
  const fields = typeof r.op === 'string' ? FIELDS[r.op as ExecRequest['op']] : undefined;
  if (!fields || !Object.hasOwn(FIELDS, r.op as string)) return `unknown op ${JSON.stringify(r.op)}`;
  for (const k of fields) if (typeof r[k] !== 'string') return `${k} must be a string`;
  if (r.op === 'check' && r.runs !== undefined) {
    if (!Number.isInteger(r.runs) || (r.runs as number) < 1 || (r.runs as number) > 10)
      return 'runs must be an integer from 1 to 10';
  }
  return null;
}

/** Size limits checked on the host, before anything reaches a sandbox. */
function oversize(req: ExecRequest, limits: ExecLimits): string | null {
  const over = (what: string, text: string, max: number) =>
    text.length > max ? `${what} is ${text.length} characters, over ${max}` : null;
  switch (req.op) {
    case 'run':
    case 'check':
      return (
        over('program', req.program, limits.maxProgramChars) ?? over('input', req.input, limits.maxInputChars)
      );
    case 'matches':
      return (
        over('program', req.program, limits.maxProgramChars) ??
        over('input', req.input, limits.maxInputChars) ??
        over('expected output', req.expected, limits.maxOutputChars)
      );
    case 'equal':
      return over('value', req.a, limits.maxOutputChars) ?? over('value', req.b, limits.maxOutputChars);
    case 'inspect':
      return over('program', req.program, limits.maxProgramChars);
  }
}

export async function createExecutor(opts: ExecutorOptions = {}): Promise<Executor> {
  const limits: ExecLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isFinite(v) || v <= 0)
      throw new RangeError(`executor limit ${k} must be a positive number, got ${v}`);
  }
  const size = opts.workers ?? Math.max(1, availableParallelism());
  const langs = opts.langs ?? LANGS;
  const keepWarm = opts.keepWarm ?? true;
  const pools = new Map<Lang, SandboxPool>();
  if (langs.includes('python')) {
    pools.set(
      'python',
      new SandboxPool({
        size,
        spawn: () => spawnPythonSandbox(limits.memoryMb, keepWarm),
        limits,
        recycleHeapBytes: Math.min(limits.memoryMb * 1024 * 1024 * 0.75, 192 * 1024 * 1024),
        startupMs: 60_000,
        spare: keepWarm,
      }),
    );
  }
  if (langs.includes('javascript')) {
    pools.set(
      'javascript',
      new SandboxPool({
        size,
        spawn: spawnJavaScriptSandbox,
        limits,
        recycleHeapBytes: Infinity,
        startupMs: 30_000,
      }),
    );
  }

  async function batch(requests: readonly ExecRequest[]): Promise<AnyExecResult[]> {
    const results: AnyExecResult[] = new Array(requests.length);
    const byLang = new Map<Lang, { index: number[]; reqs: ExecRequest[] }>();
    requests.forEach((req, i) => {
      const bad = malformed(req);
      if (bad) {
        results[i] = { ok: false, kind: 'bad_input', message: bad, timeMs: 0 };
        return;
      }
      const pool = pools.get(req.lang);
      const big = oversize(req, limits);
      if (!pool) {
        results[i] = {
          ok: false,
          kind: 'bad_input',
          message: `language ${String(req.lang)} is not served`,
          timeMs: 0,
        };
      } else if (big) {
        results[i] = { ok: false, kind: 'too_large', message: big, timeMs: 0 };
      } else {
        const group = byLang.get(req.lang) ?? { index: [], reqs: [] };
        group.index.push(i);
        group.reqs.push(req);
        byLang.set(req.lang, group);
      }
    });
    await Promise.all(
      [...byLang].map(async ([lang, group]) => {
        const pool = pools.get(lang) as SandboxPool;
        if (lang !== 'python') {
          const out = await pool.run(group.reqs);
          group.index.forEach((at, k) => {
            results[at] = out[k] as AnyExecResult;
          });
          return;
        }
        // Python verdicts are decided here, not in the sandbox (python/verdicts.ts).
        const plans: PythonPlan[] = group.reqs.map(planPython);
        const out = await pool.run(plans.flatMap((p) => p.requests));
        let k = 0;
        group.index.forEach((at, j) => {
          const plan = plans[j] as PythonPlan;
          results[at] = plan.finish(out.slice(k, k + plan.requests.length));
          k += plan.requests.length;
        });
      }),
    );
    return results;
  }

  const one = async (req: ExecRequest) => (await batch([req]))[0] as AnyExecResult;
  return {
    run: (lang, program, input) => one({ op: 'run', lang, program, input }) as Promise<ExecResult>,
    check: (lang, program, input, runs) =>
      one({ op: 'check', lang, program, input, runs }) as Promise<ExecResult>,
    matches: (lang, program, input, expected) =>
      one({ op: 'matches', lang, program, input, expected }) as Promise<VerdictResult>,
    equal: (lang, a, b) => one({ op: 'equal', lang, a, b }) as Promise<VerdictResult>,
    inspect: (lang, program) => one({ op: 'inspect', lang, program }) as Promise<InspectResult>,
    batch,
    get executions() {
      let n = 0;
      for (const p of pools.values()) n += p.executions;
      return n;
    },
    async close() {
      for (const p of pools.values()) p.close();
    },
  };
}
