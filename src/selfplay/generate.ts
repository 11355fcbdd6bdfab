// Generate mode: Absolute Zero's propose-validate-solve cycle without the learning step, for policies that
// cannot update weights (a model behind an OpenAI-compatible server). What it makes is a dataset: every
// verified task with the rate at which the same model solved it, the self-made curriculum a user feeds to
// their own trainer.
//
// One round, through the rollout pipeline that training uses (src/rollout/pipeline.ts):
//   1. propose   `batch` proposer prompts per task type, each with K references drawn from the buffers
//                (seeded with the identity program; deduction and abduction draw from both their buffers,
//                induction takes one program from any buffer as its subject)
//   2. validate  parse, then the executor: runs, determinism, limits, duplicates and copies, and the input
//                probes and identity check that training applies (the default preset's validation settings)
//   3. solve     `rollouts` solver samples per new task from the same model, verified by the executor;
//                solveRate = right / rollouts (learnability = 1 - solveRate when 0 < solveRate < 1)
//   4. write     append the new tasks to the dataset (eval/README.md format plus `solveRate`) with one
//                write, and to the buffers so later proposals see them as references
// Resumable: an existing dataset is read first (its tasks seed the buffers and the duplicate check, and
// count towards the target), and new tasks are appended.
//
// Before round 1, the seeding stage (seeding.ts) fills each buffer with seedFactor x batch valid tasks the
// model proposes with nothing solved or written to the dataset, kept in a seeds file beside it (dataset
// format; a resumed run continues it); or a seed file is read instead. Proposals then see varied
// references from the start instead of the identity program alone.
import { existsSync } from 'node:fs';
import type { Executor, Lang } from '../executor/types.js';
import type { Policy } from '../policy/types.js';
import {
  type ProposalSlot,
  planAttempt,
  planProposals,
  type RolloutSettings,
  sampleAttempts,
  sampleProposals,
  solveRate,
  type ValidationSettings,
  validateProposals,
  verifyAttempts,
} from '../rollout/pipeline.js';
import { PRESETS, rolloutSettingsOf } from '../run/config.js';
import {
  fromTaskRecord,
  identityTask,
  keyOf,
  learnabilityReward,
  ProgramForms,
  type PromptStyle,
  readTaskFile,
  STRUCTURE_ONLY,
  type Task,
  type TaskRecord,
  type TaskType,
  toTaskRecord,
} from '../tasks/index.js';
import { appendJsonl } from '../util/jsonl.js';
import { Rng } from '../util/rng.js';
import { runSeeding, type SeedBuffer, seedRoundLine } from './seeding.js';

export interface GenerateModeOptions {
  policy: Policy;
  executor: Executor;
  lang: Lang;
  /** The dataset file; created, or appended to. */
  out: string;
  /** Tasks the dataset should hold when done (those already in it count). */
  tasks: number;
  types?: readonly TaskType[];
  /** Solver samples per new task (n). */
  rollouts?: number;
  /** References per proposer prompt (K). */
  references?: number;
  /** Proposer prompts per task type per round. */
  batch?: number;
  /** Stop after this many rounds even when the target is not reached. */
  maxRounds?: number;
  temperature?: number;
  topP?: number;
  proposerMaxTokens?: number;
  solverMaxTokens?: number;
  style?: PromptStyle;
  /** Inputs asked of an induction proposer (N). */
  inductionInputs?: number;
  /** Write only tasks with 0 < solveRate < 1 (learnability > 0). */
  learnableOnly?: boolean;
  /** What a proposal must pass; default: what the default preset's training applies. */
  validation?: ValidationSettings;
  seed?: number;
  /**
   * Seeding stage: before round 1, fill each buffer with seedFactor x batch valid tasks (0: none, the
   * default). Ignored when seedTasks is given.
   */
  seedFactor?: number;
  /** Where the seeding stage keeps its tasks (dataset format); default `<out>.seeds.jsonl`. */
  seedsFile?: string;
  /** A dataset file whose tasks (of this language and these types) seed the buffers instead. */
  seedTasks?: string;
  /** Checked between rounds: true stops after the round in flight. */
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

export interface GenerateStats {
  rounds: number;
  proposed: number;
  /** Completions that did not parse, by format error. */
  formatErrors: Record<string, number>;
  /** Parsed proposals the executor or the duplicate check refused, by reason. */
  rejected: Record<string, number>;
  valid: number;
  /** Valid tasks left out by learnableOnly. */
  skipped: number;
  written: number;
  /** Tasks in the dataset before this run, and now. */
  before: number;
  total: number;
  /** Mean solve rate of the tasks written in this run (0 when none). */
  meanSolveRate: number;
  /** Written tasks with 0 < solveRate < 1. */
  learnable: number;
  /** Why the run ended. */
  stopped: 'target' | 'max_rounds' | 'stopped';
  /** The same counts per task type, with the solver answers (rollouts) and those that did not parse. */
  types: Partial<Record<TaskType, TypeCounts>>;
  /** The seeding stage, when there was one. */
  seeding?: SeedingStats;
}

export interface SeedingStats {
  /** Where the seeds came from: proposed by the model now (and earlier sessions), or read from a file. */
  source: 'proposed' | 'file';
  /** Seeds per buffer (besides the identity program) when the stage ended, and the target. */
  held: Partial<Record<TaskType, number>>;
  target: number;
  /** This session's rounds and proposals, and their verdicts. */
  rounds: number;
  proposed: number;
  valid: number;
  formatErrors: number;
  /** Valid proposals that were new, over valid proposals and duplicates. */
  distinctShare: number;
  seconds: number;
  stopped?: 'filled' | 'max_rounds' | 'stopped';
}

export interface TypeCounts {
  proposed: number;
  /** Proposals that did not parse. */
  formatErrors: number;
  valid: number;
  /** Solver completions for the new tasks, and those that did not parse. */
  answers: number;
  unparsedAnswers: number;
}

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

export async function runGenerateMode(o: GenerateModeOptions): Promise<GenerateStats> {
  const types = o.types ?? ['deduction', 'abduction', 'induction'];
  const rollouts = o.rollouts ?? 8;
  const K = o.references ?? 6;
  const batch = o.batch ?? 8;
  const maxRounds = o.maxRounds ?? 100;
  const style = o.style ?? 'reference';
  const N = o.inductionInputs ?? 10;
  const log = o.log ?? (() => {});
  if (!Number.isInteger(o.tasks) || o.tasks < 1) throw new RangeError(`tasks must be >= 1, got ${o.tasks}`);
  if (!Number.isInteger(rollouts) || rollouts < 1)
    throw new RangeError(`rollouts must be >= 1, got ${rollouts}`);
  if (types.length === 0) throw new RangeError('give at least one task type');

  // Buffers: the identity program, then whatever the dataset already holds (in this language).
  const buffers = new Map<TaskType, Task[]>(types.map((t) => [t, [identityTask(t, o.lang)]]));
  const seen = new Map<TaskType, Set<string>>(
    types.map((t) => [t, new Set([keyOf(identityTask(t, o.lang))])]),
  );
  const existing = existsSync(o.out) ? readTaskFile(o.out) : [];
  for (const r of existing) {
    if (r.lang !== o.lang || !buffers.has(r.type)) continue;
    const task = fromTaskRecord(r);
    buffers.get(r.type)?.push(task);
    seen.get(r.type)?.add(keyOf(task));
  }
  const usedIds = new Set(existing.map((r) => r.id).filter((id): id is string => id !== undefined));
  const stats: GenerateStats = {
    rounds: 0,
    proposed: 0,
    formatErrors: {},
    rejected: {},
    valid: 0,
    skipped: 0,
    written: 0,
    before: existing.length,
    total: existing.length,
    meanSolveRate: 0,
    learnable: 0,
    stopped: 'target',
    types: Object.fromEntries(
      types.map((t) => [t, { proposed: 0, formatErrors: 0, valid: 0, answers: 0, unparsedAnswers: 0 }]),
    ),
  };
  const countsOf = (t: TaskType) => stats.types[t] as TypeCounts;
  let solveRateSum = 0;
  const forms = new ProgramForms(o.executor);
  const settings: RolloutSettings = {
    lang: o.lang,
    // Requests carry their answer's constraint; a server policy with a grammar on sends it (the reference
    // style's grammar is the answer structure alone).
    format: { style, inductionInputs: N, grammar: style === 'reference' ? STRUCTURE_ONLY : null },
    sampling: {
      temperature: o.temperature ?? 1,
      topP: o.topP ?? 1,
      proposerMaxTokens: o.proposerMaxTokens ?? 2048,
      solverMaxTokens: o.solverMaxTokens ?? 1024,
    },
    // The rules training applies, so an exported task is one training would have accepted.
    validation: o.validation ?? rolloutSettingsOf(PRESETS.default).validation,
    references: K,
    contextLength: null,
  };

  // Seeds: from a file, or proposed by the model (the seeding stage), into the buffers and duplicate check.
  const addSeeds = (tasks: readonly Task[]): Task[] => {
    const added: Task[] = [];
    for (const t of tasks) {
      const key = keyOf(t);
      const seenOfType = seen.get(t.type);
      if (t.lang !== o.lang || !seenOfType || seenOfType.has(key)) continue;
      seenOfType.add(key);
      buffers.get(t.type)?.push(t);
      added.push(t);
    }
    return added;
  };
  const t0 = performance.now();
  if (o.seedTasks !== undefined) {
    addSeeds(readTaskFile(o.seedTasks).map(fromTaskRecord));
    stats.seeding = seedingStats('file', settings.lang, types, buffers, 0, [], t0);
  } else if ((o.seedFactor ?? 0) > 0) {
    const seedsFile = o.seedsFile ?? `${o.out}.seeds.jsonl`;
    if (existsSync(seedsFile)) addSeeds(readTaskFile(seedsFile).map(fromTaskRecord));
    const target = (o.seedFactor as number) * batch;
    const asBuffer = (type: TaskType): SeedBuffer => ({
      all: () => buffers.get(type) ?? [],
      keySet: () => new Set(seen.get(type)),
      addAll(tasks) {
        const added = addSeeds(tasks);
        appendJsonl(
          seedsFile,
          added.map((t) => toTaskRecord(t, { iteration: 0 })),
          true,
        );
        return added.length;
      },
    });
    const r = await runSeeding({
      policy: o.policy,
      executor: o.executor,
      settings,
      types,
      buffers: Object.fromEntries(types.map((t) => [t, asBuffer(t)])),
      target,
      batch,
      rng: new Rng((o.seed ?? 0) + 7_000_003 + 1_000_003 * existing.length),
      forms,
      ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
      onRound: (round) => log(seedRoundLine(round)),
    });
    stats.seeding = {
      ...seedingStats('proposed', settings.lang, types, buffers, r.rounds, r.slots, t0),
      target,
      distinctShare: r.distinctShare,
      stopped: r.stopped,
    };
    if (r.stopped === 'stopped') {
      stats.stopped = 'stopped';
      return stats;
    }
  }

  // A resumed run continues from a different point of the stream than a fresh one.
  const rng = new Rng((o.seed ?? 0) + 1_000_003 * existing.length);
  while (stats.total < o.tasks) {
    if (stats.rounds >= maxRounds) {
      stats.stopped = 'max_rounds';
      break;
    }
    if (o.shouldStop?.()) {
      stats.stopped = 'stopped';
      break;
    }
    stats.rounds++;

    // 1-2. propose and validate
    const slots = planProposals(
      settings,
      (t) => buffers.get(t) ?? [],
      types,
      batch,
      () => rng,
    );
    await sampleProposals(o.policy, slots);
    await validateProposals(
      o.executor,
      settings,
      slots,
      (t) => ({ keys: seen.get(t) as Set<string>, tasks: buffers.get(t) ?? [] }),
      forms,
    );
    stats.proposed += slots.length;
    const newTasks: Task[] = [];
    for (const slot of slots) {
      const v = slot.verdict;
      const c = countsOf(slot.type);
      c.proposed++;
      if (v?.kind === 'valid') {
        newTasks.push(v.task);
        c.valid++;
      } else if (v?.kind === 'unparsed') {
        bump(stats.formatErrors, v.reason);
        c.formatErrors++;
      } else if (v?.kind === 'rejected') bump(stats.rejected, v.reason);
    }
    stats.valid += newTasks.length;

    // 3. solve: n rollouts per new task
    const attempts = newTasks.map((t) => planAttempt(settings, t, rollouts, rng.seed()));
    if (attempts.length > 0) {
      await sampleAttempts(o.policy, settings, attempts);
      await verifyAttempts(o.executor, attempts);
    }
    const rates = attempts.map(solveRate);
    for (const a of attempts) {
      const c = countsOf(a.task.type);
      c.answers += a.answers.length;
      c.unparsedAnswers += a.answers.filter((x) => x === undefined).length;
    }

    // 4. write: new tasks join the buffers (as references) and the dataset
    const records: TaskRecord[] = [];
    for (const [i, task] of newTasks.entries()) {
      const solveRate = rates[i] as number;
      buffers.get(task.type)?.push(task);
      if (o.learnableOnly && learnabilityReward(solveRate) === 0) {
        stats.skipped++;
        continue;
      }
      if (stats.total + records.length >= o.tasks) break;
      let n = stats.total + records.length;
      let id = `${o.lang}-${task.type}-${n}`;
      while (usedIds.has(id)) id = `${o.lang}-${task.type}-${++n}`;
      usedIds.add(id);
      records.push(toTaskRecord({ ...task, id }, { solveRate }));
      solveRateSum += solveRate;
      if (learnabilityReward(solveRate) > 0) stats.learnable++;
    }
    appendJsonl(o.out, records, true);
    stats.written += records.length;
    stats.total += records.length;
    stats.meanSolveRate = stats.written ? solveRateSum / stats.written : 0;
    const fmt = Object.values(stats.formatErrors).reduce((a, b) => a + b, 0);
    const rej = Object.values(stats.rejected).reduce((a, b) => a + b, 0);
    log(
      `round ${stats.rounds}: ${slots.length} proposed, ${newTasks.length} valid, ${records.length} written` +
        ` (${stats.total}/${o.tasks} in the dataset) | so far: ${fmt} unparsed, ${rej} rejected,` +
        ` mean solve rate ${stats.meanSolveRate.toFixed(2)}, ${stats.learnable} learnable`,
    );
  }
  return stats;
}

function seedingStats(
  source: SeedingStats['source'],
  lang: Lang,
  types: readonly TaskType[],
  buffers: Map<TaskType, Task[]>,
  rounds: number,
  slots: readonly ProposalSlot[],
  t0: number,
): SeedingStats {
  const held: Partial<Record<TaskType, number>> = {};
  for (const t of types) {
    const identity = keyOf(identityTask(t, lang));
    held[t] = (buffers.get(t) ?? []).filter((x) => keyOf(x) !== identity).length;
  }
  return {
    source,
    held,
    target: 0,
    rounds,
    proposed: slots.length,
    valid: slots.filter((s) => s.verdict?.kind === 'valid').length,
    formatErrors: slots.filter((s) => s.verdict?.kind === 'unparsed').length,
    distinctShare: 0,
    seconds: (performance.now() - t0) / 1000,
  };
}
