// What an iteration reports, built from its plain data: the metrics record (schema and field meanings in
// src/run/metrics.ts) and the sample lines of samples.jsonl.
import type { Lang } from '../executor/types.js';
import type { UpdateStats } from '../policy/types.js';
import { type ProposalSlot, rejectionOf, validTask } from '../rollout/pipeline.js';
import type { SelfPlayConfig } from '../run/config.js';
import {
  type EvalScores,
  type IterationMetrics,
  METRICS_VERSION,
  SAMPLE_PROMPT_CHARS,
  type SampleRecord,
  type TypeMetrics,
} from '../run/metrics.js';
import { distinctCount, distinctShare, type TaskType } from '../tasks/index.js';
import {
  measuresCloseness,
  type PhaseClock,
  type Rewards,
  type SolveAttempt,
  solverRewardOf,
} from './phases.js';

/** The programs of a task type's valid proposals and of its buffer, compared in normal form. */
export interface TypeDiversity {
  /** The normal form of each valid proposal's program, in proposal order. */
  validForms: (string | undefined)[];
  /** Distinct programs among the buffer's last BUFFER_DISTINCT_WINDOW tasks. */
  bufferDistinctShare: number | undefined;
}

/** Everything an iteration produced, as the record phase receives it. */
export interface IterationResult {
  iteration: number;
  proposals: ProposalSlot[];
  attempts: SolveAttempt[];
  rewards: Rewards;
  update: UpdateStats;
  bufferSizes: Record<string, number>;
  diversity: Partial<Record<TaskType, TypeDiversity>>;
  clock: PhaseClock;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const share = (n: number, of: number) => (of ? n / of : 0);

export function typeMetrics(c: SelfPlayConfig, r: IterationResult, type: TaskType): TypeMetrics {
  const mine = r.proposals
    .map((p, i) => ({ p, reward: r.rewards.proposer[i] as number }))
    .filter((x) => x.p.type === type);
  const valid = mine.filter((x) => validTask(x.p));
  const attempts = r.attempts.filter((a) => a.type === type);
  const batch = attempts.filter((a) => !a.proposal);
  const rejections: Record<string, number> = {};
  for (const { p } of mine) {
    const why = rejectionOf(p);
    if (why) rejections[why] = (rejections[why] ?? 0) + 1;
  }
  const programs = valid.map((x) => validTask(x.p)?.program ?? '');
  const forms = r.diversity[type]?.validForms ?? [];
  const distinct = distinctShare(forms);
  const bufferDistinct = r.diversity[type]?.bufferDistinctShare;
  const answers = attempts.flatMap((a) => a.answers);
  const wrongCloseness = batch.flatMap((a) =>
    a.answers.flatMap((ans, k) => (ans !== undefined && !a.correct[k] ? [a.closeness[k] ?? 0] : [])),
  );
  return {
    solveRate: mean(batch.flatMap((a) => a.correct.map((x) => (x ? 1 : 0)))),
    solverReward: mean(batch.flatMap((a) => a.completions.map((_, k) => solverRewardOf(c, a, k)))),
    ...(measuresCloseness(c) ? { closeness: mean(wrongCloseness) } : {}),
    proposerReward: mean(mine.map((x) => x.reward)),
    validRate: share(valid.length, mine.length),
    duplicateRate: share(rejections.duplicate ?? 0, mine.length),
    copyRate: share(rejections.copy ?? 0, mine.length),
    validProposerReward: mean(valid.map((x) => x.reward)),
    rejections,
    programChars: mean(programs.map((p) => p.length)),
    diversity: share(distinctCount(forms), mine.length),
    ...(distinct !== undefined ? { distinctShare: distinct } : {}),
    ...(bufferDistinct !== undefined ? { bufferDistinctShare: bufferDistinct } : {}),
    bufferSize: r.bufferSizes[type] ?? 0,
    proposerTokens: mean(mine.map((x) => x.p.completion?.tokenIds?.length ?? 0)),
    solverTokens: mean(attempts.flatMap((a) => a.completions.map((x) => x.tokenIds?.length ?? 0))),
    proposerFormatErrors: share(mine.filter((x) => x.p.verdict?.kind === 'unparsed').length, mine.length),
    solverFormatErrors: share(answers.filter((x) => x === undefined).length, answers.length),
  };
}

export interface MachineFigures {
  /** Seconds since the run started (all sessions) at the end of the iteration. */
  timeS: number;
  iterationS: number;
  /** Executor runs during the iteration. */
  executions: number;
  eval?: EvalScores;
}

export function iterationMetrics(c: SelfPlayConfig, r: IterationResult, m: MachineFigures): IterationMetrics {
  const types: IterationMetrics['types'] = {};
  for (const type of c.selfplay.taskTypes) types[type] = typeMetrics(c, r, type);
  const { clock } = r;
  const record: IterationMetrics = {
    version: METRICS_VERSION,
    iteration: r.iteration,
    timeS: m.timeS,
    iterationS: m.iterationS,
    types,
    loss: r.update.loss,
    gradNorm: r.update.gradNorm,
    learningRate: r.update.learningRate,
    tokensPerS: clock.sampleMs > 0 ? clock.sampledTokens / (clock.sampleMs / 1000) : 0,
    execsPerS: clock.executeMs > 0 ? m.executions / (clock.executeMs / 1000) : 0,
    phases: { sample: clock.sampleMs / 1000, execute: clock.executeMs / 1000, update: clock.updateMs / 1000 },
    rssMb: Math.round(process.memoryUsage.rss() / 1e6),
  };
  if (m.eval) record.eval = m.eval;
  return record;
}

/**
 * Up to `samplesPerIteration` proposals (valid ones first, so the table shows what the run is producing)
 * and solver-batch answers per task type.
 */
export function sampleRecords(c: SelfPlayConfig, r: IterationResult): SampleRecord[] {
  const lines: SampleRecord[] = [];
  const common = (type: TaskType, lang: Lang) => ({ iteration: r.iteration, type, lang });
  for (const type of c.selfplay.taskTypes) {
    const mine = r.proposals
      .map((p, i) => ({ p, reward: r.rewards.proposer[i] as number }))
      .filter((x) => x.p.type === type);
    const shown = [...mine.filter((x) => validTask(x.p)), ...mine.filter((x) => !validTask(x.p))];
    for (const { p, reward } of shown.slice(0, c.samplesPerIteration)) {
      const task = validTask(p);
      const reason = rejectionOf(p);
      const detail = p.verdict?.kind === 'rejected' ? p.verdict.detail : undefined;
      lines.push({
        ...common(type, c.lang),
        role: 'proposer',
        prompt: p.prompt.slice(-SAMPLE_PROMPT_CHARS),
        completion: p.completion?.text ?? '',
        reward,
        ok: task !== undefined,
        ...(reason ? { reason } : {}),
        ...(detail ? { detail } : {}),
        ...(task ? { program: task.program, input: task.input, output: task.output } : {}),
      });
    }
    const batch = r.attempts.filter((a) => a.type === type && !a.proposal);
    for (const a of batch.slice(0, c.samplesPerIteration)) {
      lines.push({
        ...common(type, c.lang),
        role: 'solver',
        prompt: a.prompt.slice(-SAMPLE_PROMPT_CHARS),
        completion: a.completions[0]?.text ?? '',
        reward: solverRewardOf(c, a, 0),
        ok: a.correct[0] === true,
        program: a.task.program,
        input: a.task.input,
        output: a.task.output,
      });
    }
  }
  return lines;
}
