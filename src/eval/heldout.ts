// Held-out evaluation: solver accuracy on a fixed task file (eval/heldout.jsonl or any file in the same
// format), per task type and difficulty, verified by the executor. Greedy decoding by default, so a
// checkpoint has one score.
import type { Executor, Lang } from '../executor/types.js';
import { constraintName, programArity } from '../grammar/index.js';
import type { GenerateRequest, Policy } from '../policy/types.js';
import {
  fromTaskRecord,
  type PromptStyle,
  parseSolution,
  solverPrompt,
  type Task,
  type TaskRecord,
  type TaskType,
  verifySolutions,
} from '../tasks/index.js';

export interface EvalOptions {
  style: PromptStyle;
  /** Constrain decoding with the answer grammars (the built-in model's setting). */
  constrained: boolean;
  inductionInputs: number;
  /** Grammar settings of the run under evaluation (src/selfplay/config.ts); matchArity defaults to on. */
  grammar?: { matchArity?: boolean; returnOnly?: boolean; exprDepth?: number; boolReturns?: boolean };
  maxTokens: number;
  temperature?: number;
  /**
   * Answers sampled per task (default 1); a task's score is the share of them that pass, so with
   * temperature > 0 the report is the expected accuracy of one sample (pass@1), not greedy's.
   */
  samples?: number;
  /** Only tasks in these languages (default: all). */
  langs?: readonly Lang[];
  seed?: number;
}

export interface EvalReport {
  deduction: number;
  abduction: number;
  induction: number;
  mean: number;
  byDifficulty: Record<string, Record<TaskType, number>>;
  counts: Record<TaskType, number>;
  tasks: number;
  /** Per task, in file order: the first answer (parsed, or the raw text) and the share of samples that passed. */
  answers: {
    id: string;
    type: TaskType;
    difficulty?: number;
    answer: string;
    parsed: boolean;
    passRate: number;
  }[];
}

export async function evaluateTasks(
  policy: Policy,
  executor: Executor,
  records: readonly TaskRecord[],
  opts: EvalOptions,
): Promise<EvalReport> {
  const tasks = records.filter((r) => !opts.langs || opts.langs.includes(r.lang)).map(fromTaskRecord);
  const requests: GenerateRequest[] = tasks.map((t, i) => {
    const r: GenerateRequest = {
      prompt: solverPrompt(t, { style: opts.style }),
      n: opts.samples ?? 1,
      temperature: opts.temperature ?? 0,
      topP: 1,
      maxTokens: opts.maxTokens,
      seed: (opts.seed ?? 0) + i,
    };
    if (opts.constrained) {
      const g = opts.grammar ?? {};
      // The arity is what the prompt shows: the `def f(...)` line, or (induction) the length of the shown
      // argument lists, which is the hidden program's.
      const arity = (g.matchArity ?? true) ? programArity(t.program) : undefined;
      r.constraint = constraintName(t.type, 'solver', t.lang, {
        inductionInputs: opts.inductionInputs,
        ...(arity ? { arity } : {}),
        ...(g.returnOnly ? { returnOnly: true } : {}),
        ...(g.exprDepth !== undefined ? { exprDepth: g.exprDepth } : {}),
        ...(g.boolReturns === false ? { boolReturns: false } : {}),
      });
    }
    return r;
  });
  const completions = await policy.generate(requests);
  const toVerify: { index: number; answer: string }[] = [];
  const parsed = tasks.map((t, i) => {
    let first: { answer: string; parsed: boolean } | undefined;
    for (const c of completions[i] ?? []) {
      const s = parseSolution(t.type, t.lang, c.text, opts.style);
      if (s.ok) toVerify.push({ index: i, answer: s.answer });
      first ??= s.ok ? { answer: s.answer, parsed: true } : { answer: c.text, parsed: false };
    }
    return first ?? { answer: '', parsed: false };
  });
  const verdicts = await verifySolutions(
    executor,
    toVerify.map((v) => ({ task: tasks[v.index] as Task, answer: v.answer })),
  );
  // Per task: the share of its samples that pass.
  const correct = new Array<number>(tasks.length).fill(0);
  const perTask = opts.samples ?? 1;
  toVerify.forEach((v, k) => {
    if (verdicts[k] === true) correct[v.index] = (correct[v.index] as number) + 1 / perTask;
  });
  const types: TaskType[] = ['deduction', 'abduction', 'induction'];
  const acc = (pred: (t: Task) => boolean) => {
    const idx = tasks.map((t, i) => (pred(t) ? i : -1)).filter((i) => i >= 0);
    return idx.length ? idx.reduce((sum, i) => sum + (correct[i] as number), 0) / idx.length : 0;
  };
  const counts = Object.fromEntries(
    types.map((ty) => [ty, tasks.filter((t) => t.type === ty).length]),
  ) as Record<TaskType, number>;
  const per = Object.fromEntries(types.map((ty) => [ty, acc((t) => t.type === ty)])) as Record<
    TaskType,
    number
  >;
  const present = types.filter((ty) => counts[ty] > 0);
  const byDifficulty: Record<string, Record<TaskType, number>> = {};
  for (const d of [...new Set(tasks.map((t) => t.difficulty ?? 0))].sort()) {
    byDifficulty[String(d)] = Object.fromEntries(
      types.map((ty) => [ty, acc((t) => t.type === ty && (t.difficulty ?? 0) === d)]),
    ) as Record<TaskType, number>;
  }
  return {
    ...per,
    mean: present.length ? present.reduce((s, ty) => s + per[ty], 0) / present.length : 0,
    byDifficulty,
    counts,
    tasks: tasks.length,
    answers: tasks.map((t, i) => ({
      id: t.id ?? `#${i + 1}`,
      type: t.type,
      ...(t.difficulty !== undefined ? { difficulty: t.difficulty } : {}),
      ...(parsed[i] as { answer: string; parsed: boolean }),
      passRate: correct[i] as number,
    })),
  };
}
