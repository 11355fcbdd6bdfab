// Held-out evaluation: solver accuracy on a fixed task file (eval/heldout.jsonl or any file in the same
// format), per task type and difficulty, verified by the executor, through the rollout pipeline's attempt
// steps. Greedy decoding by default, so a checkpoint has one score.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Executor, Lang } from '../executor/types.js';
import type { Policy } from '../policy/types.js';
import {
  type AttemptSettings,
  planAttempt,
  sampleAttempts,
  solveRate,
  verifyAttempts,
} from '../rollout/pipeline.js';
import { answerFormatOf, type SelfPlayConfig } from '../run/config.js';
import type { EvalScores } from '../run/metrics.js';
import {
  type AnswerFormat,
  fromTaskRecord,
  TASK_TYPES,
  type Task,
  type TaskRecord,
  type TaskType,
} from '../tasks/index.js';
import { meanPassAtK } from './pass-at-k.js';

/** The held-out set ships with the package, next to dist/. */
export const HELDOUT_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'eval',
  'heldout.jsonl',
);

export interface EvalOptions {
  /** The answer format of the model under evaluation: its run's (answerFormatOf), so it is scored as trained. */
  format: AnswerFormat;
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
  /** Report the unbiased pass@k for these k (each at most `samples`; src/eval/pass-at-k.ts). */
  passAt?: readonly number[];
  /**
   * Called as tasks get their answers (tasks answered, of all). With it, tasks are sampled in chunks of
   * PROGRESS_CHUNK, so a real model's long evaluation shows progress; without it, in one call.
   */
  onProgress?: (answered: number, total: number) => void;
}

/** Tasks per generate call when progress is reported: a few of the engine's decode batches. */
const PROGRESS_CHUNK = 32;

/** Per task type, and the mean over the types present. */
export type TypeScores = Record<TaskType, number> & { mean: number };

export interface EvalReport {
  deduction: number;
  abduction: number;
  induction: number;
  mean: number;
  byDifficulty: Record<string, Record<TaskType, number>>;
  counts: Record<TaskType, number>;
  tasks: number;
  /** pass@k for each k asked for (`passAt`), keyed by k. */
  passAt: Record<string, TypeScores>;
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
  policy: Pick<Policy, 'generate'>,
  executor: Executor,
  records: readonly TaskRecord[],
  opts: EvalOptions,
): Promise<EvalReport> {
  const tasks = records.filter((r) => !opts.langs || opts.langs.includes(r.lang)).map(fromTaskRecord);
  const settings: AttemptSettings = {
    format: opts.format,
    sampling: {
      temperature: opts.temperature ?? 0,
      topP: 1,
      proposerMaxTokens: opts.maxTokens,
      solverMaxTokens: opts.maxTokens,
    },
  };
  const perTask = opts.samples ?? 1;
  for (const k of opts.passAt ?? [])
    if (!Number.isInteger(k) || k < 1 || k > perTask)
      throw new RangeError(
        `pass@k: k must be a whole number from 1 to the samples per task (${perTask}), got ${k}`,
      );
  const attempts = tasks.map((t, i) => planAttempt(settings, t, perTask, (opts.seed ?? 0) + i));
  const chunk = opts.onProgress ? PROGRESS_CHUNK : attempts.length;
  for (let i = 0; i < attempts.length; i += chunk) {
    await sampleAttempts(policy, settings, attempts.slice(i, i + chunk));
    opts.onProgress?.(Math.min(i + chunk, attempts.length), attempts.length);
  }
  await verifyAttempts(executor, attempts);
  const correct = attempts.map(solveRate);
  const parsed = attempts.map((a) => {
    const first = a.answers[0];
    return first !== undefined
      ? { answer: first, parsed: true }
      : { answer: a.completions[0]?.text ?? '', parsed: false };
  });
  const acc = (pred: (t: Task) => boolean) => {
    const idx = tasks.map((t, i) => (pred(t) ? i : -1)).filter((i) => i >= 0);
    return idx.length ? idx.reduce((sum, i) => sum + (correct[i] as number), 0) / idx.length : 0;
  };
  const counts = Object.fromEntries(
    TASK_TYPES.map((ty) => [ty, tasks.filter((t) => t.type === ty).length]),
  ) as Record<TaskType, number>;
  const per = Object.fromEntries(TASK_TYPES.map((ty) => [ty, acc((t) => t.type === ty)])) as Record<
    TaskType,
    number
  >;
  const present = TASK_TYPES.filter((ty) => counts[ty] > 0);
  const byDifficulty: Record<string, Record<TaskType, number>> = {};
  for (const d of [...new Set(tasks.map((t) => t.difficulty ?? 0))].sort()) {
    byDifficulty[String(d)] = Object.fromEntries(
      TASK_TYPES.map((ty) => [ty, acc((t) => t.type === ty && (t.difficulty ?? 0) === d)]),
    ) as Record<TaskType, number>;
  }
  const meanOfTypes = (x: Record<TaskType, number>) =>
    present.length ? present.reduce((sum, ty) => sum + x[ty], 0) / present.length : 0;
  const passAt: Record<string, TypeScores> = {};
  for (const k of opts.passAt ?? []) {
    const byType = Object.fromEntries(
      TASK_TYPES.map((ty) => {
        const mine = attempts.filter((a) => a.task.type === ty);
        const counts = mine.map((a) => ({ n: a.correct.length, c: a.correct.filter(Boolean).length }));
        return [ty, counts.length ? meanPassAtK(counts, k) : 0];
      }),
    ) as Record<TaskType, number>;
    passAt[String(k)] = { ...byType, mean: meanOfTypes(byType) };
  }
  return {
    ...per,
    mean: meanOfTypes(per),
    passAt,
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

/** How a run evaluates the held-out set: greedy, in its language, in its own answer format. */
export function heldoutOptionsOf(c: SelfPlayConfig): EvalOptions {
  return { format: answerFormatOf(c), maxTokens: c.sampling.solverMaxTokens, langs: [c.lang] };
}

/** The held-out scores of `policy` as a run with config `c` measures them. */
export async function heldoutScores(
  policy: Pick<Policy, 'generate'>,
  executor: Executor,
  tasks: readonly TaskRecord[],
  c: SelfPlayConfig,
): Promise<EvalScores> {
  const r = await evaluateTasks(policy, executor, tasks, heldoutOptionsOf(c));
  return { deduction: r.deduction, abduction: r.abduction, induction: r.induction, mean: r.mean };
}
