// What one iteration reports: one record per line of metrics.jsonl, and the sample lines of samples.jsonl.
// Readers validate each line, so the dashboard and `azr plot` fail with the file, line number and field on
// a bad file, and ignore a torn last line (a run killed mid-write).
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ROLES, TASK_TYPES } from '../tasks/types.js';
import { appendJsonl, type JsonlRead, readJsonl } from '../util/jsonl.js';

/**
 * The metrics record format this code writes. Bump it when a field changes name or meaning, and teach
 * upgradeMetrics the older one: version 1 called validProposerReward `learnability`.
 */
export const METRICS_VERSION = 2;

const rate = z.number().min(0).max(1);
const count = z.number().int().nonnegative();
/**
 * A training statistic that is NaN or infinite when an update diverges. JSON has no NaN (it is written as
 * null), so null reads back as NaN: a diverged run's metrics stay readable and plots skip the point.
 */
const trainingNumber = z.union([z.number(), z.null()]).transform((v) => v ?? Number.NaN);

export const TypeMetricsSchema = z.object({
  /** Verified-correct share of the solver batch. */
  solveRate: rate,
  /** Mean solver reward (correctness, with format penalties). */
  solverReward: z.number(),
  /**
   * Mean closeness (src/tasks/closeness.ts) of the solver batch's parsed answers that were wrong; only
   * measured when either role has partial credit, absent otherwise.
   */
  closeness: rate.optional(),
  /** Mean proposer reward (learnability, with format penalties). */
  proposerReward: z.number(),
  /** Proposals that became tasks. */
  validRate: rate,
  /** Proposals that were well formed but repeat a known task (program and input). */
  duplicateRate: rate,
  /**
   * Proposals whose program repeats one their prompt showed, one in the buffer or one accepted earlier
   * in the batch, in normal form (rejection `copy`, src/tasks/validate.ts; duplicates not included).
   * Absent in runs made before the check existed.
   */
  copyRate: rate.optional(),
  /**
   * Mean proposer reward over the valid proposals (0 when none): their learnability under the method's
   * rewards; below 0 only with experimental.proposerUnlearnableReward.
   */
  validProposerReward: z.number(),
  /** Rejections by reason (format errors included as `format:<reason>`). */
  rejections: z.record(z.string(), count),
  /** Mean length in characters of the valid programs. */
  programChars: z.number().nonnegative(),
  /** Distinct programs (in normal form, src/tasks/programs.ts) among the valid proposals, over all proposals. */
  diversity: rate,
  /**
   * Distinct programs among the valid proposals, over the valid proposals; absent when none was valid (and
   * in runs made before it existed).
   */
  distinctShare: rate.optional(),
  /**
   * Distinct programs among the buffer's last BUFFER_DISTINCT_WINDOW tasks (all of them when it holds
   * fewer), after the iteration; absent in runs made before it existed.
   */
  bufferDistinctShare: rate.optional(),
  /** Tasks in this type's buffer after the iteration. */
  bufferSize: count,
  /** Mean completion length in tokens, per role. */
  proposerTokens: z.number().nonnegative(),
  solverTokens: z.number().nonnegative(),
  /** Share of completions that did not parse, per role. */
  proposerFormatErrors: rate,
  solverFormatErrors: rate,
});
export type TypeMetrics = z.infer<typeof TypeMetricsSchema>;

export const EvalScoresSchema = z.object({ deduction: rate, abduction: rate, induction: rate, mean: rate });
export type EvalScores = z.infer<typeof EvalScoresSchema>;

/** `final-eval.json`: the evaluation after the run's last iteration, which no iteration record holds. */
export const FinalEvalSchema = z.object({
  afterIteration: z.number().int().nonnegative(),
  eval: EvalScoresSchema,
});
export type FinalEval = z.infer<typeof FinalEvalSchema>;

/** The run's final evaluation, or undefined when there is none (older runs, or eval turned off). */
export function readFinalEval(path: string): FinalEval | undefined {
  if (!existsSync(path)) return undefined;
  const r = FinalEvalSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) throw new Error(`${path} is not a final evaluation: ${r.error.issues[0]?.message}`);
  return r.data;
}

export const IterationMetricsSchema = z.object({
  version: z.literal(METRICS_VERSION),
  /** 1 onwards; 0 is the seeding stage (proposals only: no solving, no update). */
  iteration: z.number().int().nonnegative(),
  /** Wall time since the run started (all sessions), in seconds. */
  timeS: z.number().nonnegative(),
  /** Seconds this iteration took. */
  iterationS: z.number().nonnegative(),
  /** Per task type; a run may train a subset of the three. */
  types: z.partialRecord(z.enum(TASK_TYPES), TypeMetricsSchema),
  loss: trainingNumber,
  gradNorm: trainingNumber,
  learningRate: z.number(),
  /** Generated tokens per second of sampling time. */
  tokensPerS: z.number().nonnegative(),
  /** Executions per second of executor time. */
  execsPerS: z.number().nonnegative(),
  /** Where the iteration's time went, in seconds: sampling, executor, policy update. */
  phases: z.object({ sample: z.number(), execute: z.number(), update: z.number() }),
  /** Resident memory of the training process at the end of the iteration, in MB (older runs lack it). */
  rssMb: z.number().nonnegative().optional(),
  /** Held-out accuracy measured before this iteration, when an evaluation ran. */
  eval: EvalScoresSchema.optional(),
});
export type IterationMetrics = z.infer<typeof IterationMetricsSchema>;

/** How many of a buffer's newest tasks `bufferDistinctShare` looks at. */
export const BUFFER_DISTINCT_WINDOW = 500;

/** Prompts are stored cut to their last this-many characters (the end says what was asked). */
export const SAMPLE_PROMPT_CHARS = 400;

export const SampleRecordSchema = z.object({
  iteration: z.number().int().positive(),
  type: z.enum(TASK_TYPES),
  role: z.enum(ROLES),
  lang: z.enum(['python', 'javascript']),
  /** The prompt's last SAMPLE_PROMPT_CHARS characters. */
  prompt: z.string(),
  /** The model's text. */
  completion: z.string(),
  reward: z.number(),
  /** Proposer: became a valid task. Solver: verified correct. */
  ok: z.boolean(),
  /** Why not, when not ok (rejection or format reason). */
  reason: z.string().optional(),
  /** A rejected proposal: the validator's words (a copy names the program it repeats). */
  detail: z.string().optional(),
  /** The task: what the proposer made, or what the solver was asked. */
  program: z.string().optional(),
  input: z.string().optional(),
  output: z.string().optional(),
});
export type SampleRecord = z.infer<typeof SampleRecordSchema>;

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid record';
  return `${issue.path.length ? issue.path.join('.') : 'record'}: ${issue.message}`;
}

/** A record of an older version in the current form (runs written by an earlier release stay readable). */
function upgradeMetrics(value: unknown): unknown {
  const v = value as { version?: unknown; types?: Record<string, Record<string, unknown>> } | null;
  if (v?.version !== 1 || typeof v.types !== 'object' || v.types === null) return value;
  const types = Object.fromEntries(
    Object.entries(v.types).map(([t, { learnability, ...rest }]) => [
      t,
      { ...rest, validProposerReward: learnability },
    ]),
  );
  return { ...v, version: 2, types };
}

/** Validate one metrics record (of this version or an older one); throws one line naming the field. */
export function parseMetrics(raw: unknown): IterationMetrics {
  const value = upgradeMetrics(raw);
  // Say "version" plainly first: a newer writer's record fails on many fields, and the first one zod
  // happens to report would hide the real cause.
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof value === 'object' && value !== null && version !== METRICS_VERSION) {
    throw new Error(
      `metrics record version ${JSON.stringify(version)}, this azr reads version ${METRICS_VERSION}`,
    );
  }
  const r = IterationMetricsSchema.safeParse(value);
  if (r.success) return r.data;
  throw new Error(describeIssue(r.error.issues[0]));
}

/** Validate one sample line; throws one line naming the field. */
export function parseSample(value: unknown): SampleRecord {
  const r = SampleRecordSchema.safeParse(value);
  if (r.success) return r.data;
  throw new Error(describeIssue(r.error.issues[0]));
}

/**
 * Append one record as one line. It is validated as a reader will see it (after JSON), so a record that
 * would make the file unreadable never reaches it; that is a bug in the writer, so it throws.
 */
export function appendMetrics(file: string, record: IterationMetrics, sync = true): void {
  parseMetrics(JSON.parse(JSON.stringify(record)));
  appendJsonl(file, [record], sync);
}

/** Every complete record, and whether the file ends in a torn line. A missing file reads as empty. */
export function readMetricsFile(file: string): JsonlRead<IterationMetrics> {
  return readJsonl(file, parseMetrics);
}
