// What one iteration reports: one record per line of metrics.jsonl, and the sample lines of samples.jsonl.
// Readers validate each line, so the dashboard and `azr plot` fail with the line number on a bad file.
import { z } from 'zod';
import { appendJsonl, readJsonl } from '../util/jsonl.js';

const rate = z.number().min(0).max(1);

export const TypeMetricsSchema = z.object({
  /** Verified-correct share of the solver batch. */
  solveRate: rate,
  solverReward: z.number(),
  proposerReward: z.number(),
  /** Proposals that became tasks. */
  validRate: rate,
  /** Proposals that were well formed and ran but repeat a known task. */
  duplicateRate: rate,
  /** Mean learnability reward over valid proposals (0 when none). */
  learnability: z.number(),
  /** Rejections by reason (format errors included as `format:<reason>`). */
  rejections: z.record(z.string(), z.number().int().nonnegative()),
  /** Mean length in characters of the valid programs. */
  programChars: z.number().nonnegative(),
  /** Distinct normalised programs among the valid proposals, over all proposals. */
  diversity: rate,
  bufferSize: z.number().int().nonnegative(),
  /** Mean completion length in tokens, per role. */
  proposerTokens: z.number().nonnegative(),
  solverTokens: z.number().nonnegative(),
  proposerFormatErrors: rate,
  solverFormatErrors: rate,
});
export type TypeMetrics = z.infer<typeof TypeMetricsSchema>;

export const EvalScoresSchema = z.object({ deduction: rate, abduction: rate, induction: rate, mean: rate });

export const IterationMetricsSchema = z.object({
  version: z.literal(1),
  iteration: z.number().int().positive(),
  /** Wall time since the run started (all sessions), in seconds. */
  timeS: z.number().nonnegative(),
  /** Seconds this iteration took. */
  iterationS: z.number().nonnegative(),
  types: z.record(z.string(), TypeMetricsSchema),
  loss: z.number(),
  gradNorm: z.number(),
  learningRate: z.number(),
  /** Generated tokens per second of sampling time. */
  tokensPerS: z.number().nonnegative(),
  /** Executions per second of executor time. */
  execsPerS: z.number().nonnegative(),
  /** Where the iteration's time went, in seconds: sampling, executor, policy update. */
  phases: z.object({ sample: z.number(), execute: z.number(), update: z.number() }),
  /** Held-out accuracy measured before this iteration, when an evaluation ran. */
  eval: EvalScoresSchema.optional(),
});
export type IterationMetrics = z.infer<typeof IterationMetricsSchema>;

export const SampleRecordSchema = z.object({
  iteration: z.number().int().positive(),
  type: z.enum(['deduction', 'abduction', 'induction']),
  role: z.enum(['proposer', 'solver']),
  lang: z.enum(['python', 'javascript']),
  prompt: z.string(),
  completion: z.string(),
  reward: z.number(),
  /** Proposer: became a valid task. Solver: verified correct. */
  ok: z.boolean(),
  /** Why not, when not ok (rejection or format reason). */
  reason: z.string().optional(),
  program: z.string().optional(),
  input: z.string().optional(),
  output: z.string().optional(),
});
export type SampleRecord = z.infer<typeof SampleRecordSchema>;

const parseWith =
  <S extends z.ZodTypeAny>(schema: S) =>
  (v: unknown): z.infer<S> => {
    const r = schema.safeParse(v);
    if (r.success) return r.data;
    const i = r.error.issues[0];
    throw new Error(`${i?.path.join('.') || 'record'}: ${i?.message}`);
  };

export const parseMetrics = parseWith(IterationMetricsSchema);
export const parseSample = parseWith(SampleRecordSchema);

export function appendMetrics(file: string, record: IterationMetrics): void {
  appendJsonl(file, [record], true);
}

export function readMetrics(file: string): IterationMetrics[] {
  return readJsonl(file, parseMetrics).records;
}

export function readSamples(file: string): SampleRecord[] {
  return readJsonl(file, parseSample).records;
}
