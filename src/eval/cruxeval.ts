// CRUXEval (Gu et al., 2024): 800 short Python functions, each with one input and its output.
//   CRUXEval-O  predict the output from the function and the input: our deduction solver prompt;
//               right when the answer equals the output as a value (the language's ==).
//   CRUXEval-I  predict an input from the function and the output: our abduction solver prompt;
//               right when f(answer) == output, run by the executor (any such input counts).
// pass@1 over n samples per problem: the mean over problems of the fraction of right samples.
//
// The same code path scores any (program, input, output) triples, such as the JavaScript deduction and
// abduction tasks of our held-out set (problemsFromTasks), so both languages report the two metrics.
//
// Gold check. Before scoring, every problem's own (input, output) is run once. About a dozen CRUXEval
// inputs are Python expressions, not literals (`dict(a=1)`, `'ab'.upper()`, `lambda x: x`), which the
// executor's inputs never evaluate; their gold is run as a program whose f evaluates the expression and
// calls the problem's f (withInputExpression), under the same sandbox policy as any program. For such a
// problem, a CRUXEval-I answer that is the gold input itself (as normalised text) is right, f being
// deterministic and its gold checked; any other answer is verified as usual, as a literal. A problem whose
// gold still does not run is scored the same way through its canonical gold input, and listed in the
// report with the reason, as is any whose gold output disagrees with the sandbox's run.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AnyExecResult, ExecRequest, Executor, Lang } from '../executor/types.js';
import type { Policy } from '../policy/types.js';
import { type AttemptSettings, type AttemptSlot, planAttempt, sampleAttempts } from '../rollout/pipeline.js';
import {
  type AnswerFormat,
  normalizeInput,
  parseSolution,
  type Task,
  type TaskRecord,
  verdict,
  verificationRequests,
} from '../tasks/index.js';

/** One benchmark item: `input` is the argument list of one call of f, `output` what it returns. */
export interface CruxProblem {
  id: string;
  lang: Lang;
  program: string;
  input: string;
  output: string;
}

const CruxRecord = z.object({
  code: z.string().min(1),
  input: z.string(),
  output: z.string(),
  id: z.string().min(1),
});

/**
 * Read the CRUXEval JSONL file (`code`, `input`, `output`, `id`; other fields are ignored). Errors name
 * the file and line; a repeated id is an error. The last line may lack its newline.
 */
export function readCruxEvalFile(file: string): CruxProblem[] {
  const text = readFileSync(file, 'utf8');
  const problems: CruxProblem[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    const r = CruxRecord.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new Error(
        `${file}:${i + 1}: not a CRUXEval record (${where}${issue?.message ?? 'invalid'}); expected code, input, output, id`,
      );
    }
    if (ids.has(r.data.id)) throw new Error(`${file}:${i + 1}: id '${r.data.id}' appears twice`);
    ids.add(r.data.id);
    problems.push({
      id: r.data.id,
      lang: 'python',
      program: r.data.code,
      input: r.data.input,
      output: r.data.output,
    });
  });
  if (problems.length === 0) throw new Error(`${file}: no records`);
  return problems;
}

/** Deduction and abduction tasks of a task file (eval/README.md format) as problems, optionally one language. */
export function problemsFromTasks(records: readonly TaskRecord[], lang?: Lang): CruxProblem[] {
  return records
    .filter((r) => (r.type === 'deduction' || r.type === 'abduction') && (!lang || r.lang === lang))
    .map((r, i) => ({
      id: r.id ?? `task-${i}`,
      lang: r.lang,
      program: r.program,
      input: r.input,
      output: r.output,
    }));
}

/** The CRUXEval-O task of a problem (a deduction task) and its CRUXEval-I task (an abduction task). */
export function outputTask(p: CruxProblem): Task {
  return { type: 'deduction', lang: p.lang, program: p.program, input: p.input, output: p.output, id: p.id };
}
export function inputTask(p: CruxProblem): Task {
  return { type: 'abduction', lang: p.lang, program: p.program, input: p.input, output: p.output, id: p.id };
}

export interface CruxEvalOptions {
  policy: Policy;
  executor: Executor;
  data: readonly CruxProblem[];
  /** Samples per problem and metric (default 1). */
  n?: number;
  /** Default 0 for n = 1 (greedy), 0.2 for n > 1 (the benchmark's pass@1 setting). */
  temperature?: number;
  topP?: number;
  /** Completion budget (default 1024: reference-style answers think first). */
  maxTokens?: number;
  /**
   * How the model is asked and answers (default: reference prompts, free decoding, for real LLMs); the
   * built-in model is scored in its run's format (answerFormatOf).
   */
  format?: AnswerFormat;
  /** Which metrics to run (default both). */
  metrics?: readonly ('output' | 'input')[];
  seed?: number;
}

export interface MetricCounts {
  problems: number;
  samples: number;
  correct: number;
  /** Samples whose completion did not parse as an answer. */
  unparsed: number;
}

export interface ProblemResult {
  id: string;
  /** Fractions of right samples; undefined when the metric was not run. */
  output?: number;
  input?: number;
}

export interface CruxEvalReport {
  /** pass@1 of CRUXEval-O, in [0, 1]. */
  cruxeval_o: number;
  /** pass@1 of CRUXEval-I, in [0, 1]. */
  cruxeval_i: number;
  counts: {
    problems: number;
    n: number;
    output: MetricCounts;
    input: MetricCounts;
    /** Problems whose gold does not run in the sandbox (see the file comment), with the reason. */
    unrunnable: { id: string; reason: string }[];
    /** Problems whose gold output is not what the sandbox computes. */
    goldMismatch: string[];
  };
  perProblem: ProblemResult[];
}

/** f returning its own argument tuple: the canonical form of an argument list, by the executor. */
const ARGS_PROGRAM: Record<Lang, string> = {
  python: 'def f(*args):\n    return args',
  javascript: 'function f(...args) {\n  return args;\n}',
};

/**
 * A program whose f takes no arguments, evaluates `input` as a Python expression and calls the problem's
 * f on it: for benchmark inputs that are expressions. Only for trusted gold inputs: a model's answer
 * spliced in here could close the call and return anything.
 */
export function withInputExpression(program: string, input: string): string {
  const body = program
    .split('\n')
    .map((l) => (l.trim() === '' ? '' : `    ${l}`))
    .join('\n');
  return `def f():\n${body}\n    return f(${input})`;
}

interface Gold {
  runnable: boolean;
  /** The gold input is an expression, run through withInputExpression. */
  expressionInput?: boolean;
  reason?: string;
  mismatch: boolean;
  /** Canonical argument list of the gold input (only for problems that cannot run). */
  canonicalInput?: string;
}

async function checkGold(executor: Executor, data: readonly CruxProblem[]): Promise<Gold[]> {
  const results = await executor.batch(
    data.map((p) => ({
      op: 'matches',
      lang: p.lang,
      program: p.program,
      input: p.input,
      expected: p.output,
    })),
  );
  const gold: Gold[] = results.map((r) =>
    r.ok
      ? { runnable: true, mismatch: !('equal' in r && r.equal) }
      : { runnable: false, reason: `${r.kind}: ${r.message}`, mismatch: false },
  );
  const expressions = data
    .map((p, i) => ({ p, i }))
    .filter(
      ({ p, i }) => p.lang === 'python' && !gold[i]?.runnable && gold[i]?.reason?.startsWith('bad_input'),
    );
  if (expressions.length) {
    const wrapped = await executor.batch(
      expressions.map(({ p }) => ({
        op: 'matches',
        lang: p.lang,
        program: withInputExpression(p.program, p.input),
        input: '',
        expected: p.output,
      })),
    );
    expressions.forEach(({ i }, k) => {
      const r = wrapped[k];
      if (r?.ok) gold[i] = { runnable: true, expressionInput: true, mismatch: !('equal' in r && r.equal) };
    });
  }
  const stuck = data.map((p, i) => ({ p, i })).filter(({ i }) => !gold[i]?.runnable);
  if (stuck.length) {
    const canon = await executor.batch(
      stuck.map(({ p }) => ({ op: 'run', lang: p.lang, program: ARGS_PROGRAM[p.lang], input: p.input })),
    );
    stuck.forEach(({ i }, k) => {
      const c = canon[k];
      if (c?.ok && 'output' in c) (gold[i] as Gold).canonicalInput = c.output;
    });
  }
  return gold;
}

const emptyCounts = (): MetricCounts => ({ problems: 0, samples: 0, correct: 0, unparsed: 0 });

export async function runCruxEval(opts: CruxEvalOptions): Promise<CruxEvalReport> {
  const { policy, executor, data } = opts;
  const n = opts.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a whole number >= 1, got ${n}`);
  const format: AnswerFormat = opts.format ?? { style: 'reference', inductionInputs: 10, grammar: null };
  const style = format.style;
  const metrics = opts.metrics ?? ['output', 'input'];
  const seed = opts.seed ?? 0;
  const gold = await checkGold(executor, data);

  // One generate call for every prompt of both metrics.
  type Slot = { metric: 'output' | 'input'; problem: number; task: Task };
  const slots: Slot[] = [];
  for (const metric of metrics) {
    data.forEach((p, i) => {
      slots.push({ metric, problem: i, task: metric === 'output' ? outputTask(p) : inputTask(p) });
    });
  }
  const maxTokens = opts.maxTokens ?? 1024;
  const settings: AttemptSettings = {
    format,
    sampling: {
      temperature: opts.temperature ?? (n > 1 ? 0.2 : 0),
      topP: opts.topP ?? 1,
      proposerMaxTokens: maxTokens,
      solverMaxTokens: maxTokens,
    },
  };
  const attempts = slots.map((s, k) => planAttempt(settings, s.task, n, seed + k));
  await sampleAttempts(policy, settings, attempts);

  // Verify every parsed answer in one executor batch.
  type Check = {
    slot: number;
    answer: string;
    requests: ExecRequest[];
    direct?: boolean;
    goldText?: boolean;
  };
  const checks: Check[] = [];
  const unparsed = new Map<number, number>();
  slots.forEach((s, k) => {
    for (const c of (attempts[k] as AttemptSlot).completions) {
      let parsed = parseSolution(s.task.type, s.task.lang, c.text, style);
      // f takes no arguments (a few CRUXEval functions): the empty argument list is the one answer, which
      // the answer format otherwise refuses as empty.
      if (!parsed.ok && parsed.reason === 'empty' && s.metric === 'input' && s.task.input.trim() === '')
        parsed = { ok: true, answer: '' };
      if (!parsed.ok) {
        unparsed.set(k, (unparsed.get(k) ?? 0) + 1);
        continue;
      }
      const g = gold[s.problem] as Gold;
      const p = data[s.problem] as CruxProblem;
      if (
        s.metric === 'input' &&
        g.expressionInput &&
        normalizeInput(p.lang, parsed.answer) === normalizeInput(p.lang, p.input)
      ) {
        checks.push({ slot: k, answer: parsed.answer, requests: [], goldText: true });
        continue;
      }
      if (s.metric === 'input' && !g.runnable) {
        // f cannot run here: the answer is right only as the gold input itself (compared canonically,
        // or as text when the gold input is an expression the executor does not evaluate).
        const canon: ExecRequest = {
          op: 'run',
          lang: s.task.lang,
          program: ARGS_PROGRAM[s.task.lang],
          input: parsed.answer,
        };
        checks.push({ slot: k, answer: parsed.answer, requests: [canon], direct: true });
      } else
        checks.push({
          slot: k,
          answer: parsed.answer,
          requests: verificationRequests({ task: s.task, answer: parsed.answer }),
        });
    }
  });
  const results = await executor.batch(checks.flatMap((c) => c.requests));
  const right = new Map<number, number>();
  let at = 0;
  for (const c of checks) {
    const mine: AnyExecResult[] = results.slice(at, at + c.requests.length);
    at += c.requests.length;
    let ok: boolean;
    if (c.goldText) ok = true;
    else if (c.direct) {
      const r = mine[0];
      const want = (gold[(slots[c.slot] as Slot).problem] as Gold).canonicalInput;
      const p = data[(slots[c.slot] as Slot).problem] as CruxProblem;
      const sameText = normalizeInput(p.lang, c.answer) === normalizeInput(p.lang, p.input);
      ok = want === undefined ? sameText : r?.ok === true && 'output' in r && r.output === want;
    } else ok = verdict(mine);
    if (ok) right.set(c.slot, (right.get(c.slot) ?? 0) + 1);
  }

  const counts = { output: emptyCounts(), input: emptyCounts() };
  const perProblem: ProblemResult[] = data.map((p) => ({ id: p.id }));
  slots.forEach((s, k) => {
    const m = counts[s.metric];
    const got = right.get(k) ?? 0;
    m.problems++;
    m.samples += n;
    m.correct += got;
    m.unparsed += unparsed.get(k) ?? 0;
    (perProblem[s.problem] as ProblemResult)[s.metric] = got / n;
  });
  const pass1 = (metric: 'output' | 'input') => {
    const xs = perProblem.map((r) => r[metric]).filter((x): x is number => x !== undefined);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  };
  return {
    cruxeval_o: pass1('output'),
    cruxeval_i: pass1('input'),
    counts: {
      problems: data.length,
      n,
      ...counts,
      unrunnable: data.flatMap((p, i) =>
        gold[i]?.runnable ? [] : [{ id: p.id, reason: gold[i]?.reason ?? '' }],
      ),
      goldMismatch: data.filter((_, i) => gold[i]?.mismatch).map((p) => p.id),
    },
    perProblem,
  };
}
