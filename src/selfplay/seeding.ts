// The seeding stage, before self-play's first iteration (the paper's, section "seeding" of the method):
// the base model proposes with the same prompts, references and validation as self-play, K references
// drawn from the seeds found so far, until each task type's buffer holds `target` valid, distinct tasks
// besides the identity program. Nothing is learned. It replaces a cold start from the identity program
// alone, which a real model at iteration 0 copies (issue 32); a user may instead hand over a seed file.
//
// The stage works on anything that holds tasks (SeedBuffer): the run's TaskBuffers in `azr train`, the
// dataset's buffers in `azr generate`. The caller persists after every round (onRound), so a stage cut
// short by a kill resumes with every round it finished.
import type { Executor } from '../executor/types.js';
import type { Policy } from '../policy/types.js';
import {
  type ProposalSlot,
  planProposals,
  type RolloutSettings,
  sampleProposals,
  validateProposals,
  validTask,
} from '../rollout/pipeline.js';
import { appendMetrics } from '../run/metrics.js';
import type { Session } from '../run/session.js';
import {
  fromTaskRecord,
  identityTask,
  keyOf,
  type ProgramForms,
  readTaskFile,
  type Task,
  type TaskBuffer,
  type TaskType,
} from '../tasks/index.js';
import { truncateJsonl } from '../util/jsonl.js';
import { Rng } from '../util/rng.js';
import { type IterationResult, iterationMetrics } from './metrics.js';

/** What the stage needs of a buffer (TaskBuffer has it). */
export interface SeedBuffer {
  all(): readonly Task[];
  /** Keys of the tasks held, for the duplicate check. */
  keySet(): Set<string>;
  /** Append tasks (iteration 0); returns how many were new. */
  addAll(tasks: readonly Task[], iteration: number): number;
}

export interface SeedingOptions {
  policy: Pick<Policy, 'generate'>;
  executor: Executor;
  settings: RolloutSettings;
  types: readonly TaskType[];
  buffers: Partial<Record<TaskType, SeedBuffer>>;
  /** Tasks each buffer must hold besides the identity program (seedBatchFactor x proposerBatch). */
  target: number;
  /** Proposer prompts per task type per round (the proposer batch). */
  batch: number;
  /** Rounds after which the stage gives up on buffers still short (default 25 x target / batch). */
  maxRounds?: number;
  /** Draws the references and seeds; forked per type each round. */
  rng: Rng;
  /** Programs' normal forms, for the copy check the settings' validation names (shared with the loop). */
  forms: ProgramForms;
  /** Checked before each round: true ends the stage (it resumes later from the buffers). */
  shouldStop?: () => boolean;
  /** After each round, once its tasks are in the buffers: show progress, persist. */
  onRound?: (round: SeedRound) => void | Promise<void>;
}

export interface SeedRound {
  round: number;
  /** This round's proposals with their verdicts. */
  slots: ProposalSlot[];
  /** Tasks each buffer holds besides the identity program, after the round. */
  held: Partial<Record<TaskType, number>>;
  target: number;
}

export interface SeedingResult {
  rounds: number;
  /** Every proposal of the stage (this session's), with its verdict. */
  slots: ProposalSlot[];
  held: Partial<Record<TaskType, number>>;
  /** Valid proposals that were new, over valid proposals and duplicates: how distinct the seeds are. */
  distinctShare: number;
  stopped: 'filled' | 'max_rounds' | 'stopped';
}

/** Tasks a buffer holds besides the identity program. */
export function seedsHeld(buffer: SeedBuffer, type: TaskType, lang: Task['lang']): number {
  const identity = keyOf(identityTask(type, lang));
  return buffer.all().filter((t) => keyOf(t) !== identity).length;
}

export async function runSeeding(o: SeedingOptions): Promise<SeedingResult> {
  const { settings, types } = o;
  if (!Number.isInteger(o.target) || o.target < 1)
    throw new RangeError(`target must be >= 1, got ${o.target}`);
  const maxRounds = o.maxRounds ?? Math.max(1, Math.ceil((25 * o.target) / o.batch));
  const bufferOf = (t: TaskType): SeedBuffer => {
    const b = o.buffers[t];
    if (!b) throw new Error(`no ${t} buffer to seed`);
    return b;
  };
  const heldNow = () =>
    Object.fromEntries(types.map((t) => [t, seedsHeld(bufferOf(t), t, settings.lang)])) as Record<
      TaskType,
      number
    >;
  const all: ProposalSlot[] = [];
  let rounds = 0;
  let stopped: SeedingResult['stopped'] = 'filled';
  for (;;) {
    const held = heldNow();
    const short = types.filter((t) => held[t] < o.target);
    if (short.length === 0) break;
    if (rounds >= maxRounds) {
      stopped = 'max_rounds';
      break;
    }
    if (o.shouldStop?.()) {
      stopped = 'stopped';
      break;
    }
    rounds++;
    const rngs = new Map(types.map((t) => [t, o.rng.fork()]));
    // Every type is planned (the draws stay the same whichever are full); only the short ones are asked.
    const slots = planProposals(
      settings,
      (t) => bufferOf(t).all(),
      types,
      o.batch,
      (t) => rngs.get(t) as Rng,
    ).filter((s) => short.includes(s.type));
    await sampleProposals(o.policy, slots);
    const seen = new Map(types.map((t) => [t, bufferOf(t).keySet()]));
    await validateProposals(
      o.executor,
      settings,
      slots,
      (t) => ({ keys: seen.get(t) as Set<string>, tasks: bufferOf(t).all() }),
      o.forms,
    );
    for (const t of short) {
      const fresh = slots.filter((s) => s.type === t).flatMap((s) => validTask(s) ?? []);
      bufferOf(t).addAll(fresh, 0);
    }
    all.push(...slots);
    await o.onRound?.({ round: rounds, slots, held: heldNow(), target: o.target });
  }
  const valid = all.filter((s) => validTask(s)).length;
  const duplicates = all.filter(
    (s) => s.verdict?.kind === 'rejected' && s.verdict.reason === 'duplicate',
  ).length;
  return {
    rounds,
    slots: all,
    held: heldNow(),
    distinctShare: valid + duplicates ? valid / (valid + duplicates) : 0,
    stopped,
  };
}

/** One line of progress for a seeding round. */
export function seedRoundLine(r: SeedRound): string {
  const valid = r.slots.filter((s) => validTask(s)).length;
  const unparsed = r.slots.filter((s) => s.verdict?.kind === 'unparsed').length;
  const duplicates = r.slots.filter(
    (s) => s.verdict?.kind === 'rejected' && s.verdict.reason === 'duplicate',
  ).length;
  const held = Object.entries(r.held)
    .map(([t, n]) => `${t.slice(0, 3)} ${n}/${r.target}`)
    .join(' ');
  return (
    `seed round ${r.round}: ${r.slots.length} proposed, ${valid} valid, ${unparsed} unparsed, ${duplicates} duplicates` +
    ` | seeds ${held}`
  );
}

/** Everything `azr train` seeds with: its session, the rollout settings, policy, executor and buffers. */
export interface TrainingSeedEnv {
  session: Session;
  settings: RolloutSettings;
  policy: Pick<Policy, 'generate'>;
  executor: Executor;
  buffers: Record<TaskType, TaskBuffer>;
  /** Programs' normal forms, shared with the loop that follows. */
  forms: ProgramForms;
  log: (line: string) => void;
  /** Aborted: the stage ends after the round in flight (committed), to resume with the run. */
  signal?: AbortSignal;
}

const NO_UPDATE = { loss: 0, gradNorm: 0, learningRate: 0, tokens: 0, timeMs: 0 };

/**
 * The seeding stage of a training run, when its config asks for one and it is not done yet: seeds from
 * selfplay.seedTasks, or proposed until each buffer holds seedBatchFactor x proposerBatch. Every round is
 * committed (state.json names the buffers' sizes, iteration 0), so a killed stage resumes where it was;
 * at the end one metrics line, iteration 0, records the stage's proposals (this session's), and
 * state.json marks the stage done. Returns 'stopped' when the signal cut it short.
 */
export async function seedTrainingRun(env: TrainingSeedEnv): Promise<'none' | 'done' | 'stopped'> {
  const { session, buffers, log } = env;
  const c = session.config;
  const sp = c.selfplay;
  const state = session.state;
  if (state.iteration > 0 || state.seeded === true) return 'none';
  if (sp.seedTasks === null && sp.seedBatchFactor === 0) return 'none';
  const t0 = performance.now();
  const execsBefore = env.executor.executions;
  const sizes = () => Object.fromEntries(sp.taskTypes.map((t) => [t, buffers[t].size]));
  const commit = (seeded: boolean) => {
    session.state = {
      ...session.state,
      bufferSizes: sizes(),
      elapsedS: state.elapsedS + (performance.now() - t0) / 1000,
      ...(seeded ? { seeded: true } : {}),
    };
    session.dir.writeState(session.state);
  };
  let slots: ProposalSlot[] = [];
  if (sp.seedTasks !== null) {
    const tasks = readTaskFile(sp.seedTasks)
      .map(fromTaskRecord)
      .filter((t) => t.lang === c.lang);
    for (const t of sp.taskTypes)
      buffers[t].addAll(
        tasks.filter((x) => x.type === t),
        0,
      );
    log(
      `azr train: seeds from ${sp.seedTasks}: ${sp.taskTypes.map((t) => `${t} ${seedsHeld(buffers[t], t, c.lang)}`).join(', ')}`,
    );
  } else {
    const target = sp.seedBatchFactor * sp.proposerBatch;
    const held = sp.taskTypes.reduce((a, t) => a + seedsHeld(buffers[t], t, c.lang), 0);
    log(`azr train: seeding stage: each buffer to ${target} tasks (${held} held)`);
    const r = await runSeeding({
      policy: env.policy,
      executor: env.executor,
      settings: env.settings,
      types: sp.taskTypes,
      buffers,
      target,
      batch: sp.proposerBatch,
      // A resumed stage draws afresh (its buffers differ from the first session's).
      rng: new Rng(c.seed + 7_000_003 + 1_000_003 * held),
      forms: env.forms,
      shouldStop: () => env.signal?.aborted === true,
      onRound: (round) => {
        commit(false);
        log(`azr train: ${seedRoundLine(round)}`);
      },
    });
    slots = r.slots;
    if (r.stopped === 'stopped') return 'stopped';
    log(
      `azr train: seeding stage ${r.stopped === 'filled' ? 'done' : `stopped after ${r.rounds} rounds (max)`} in` +
        ` ${((performance.now() - t0) / 1000).toFixed(0)} s; distinct share ${r.distinctShare.toFixed(2)}`,
    );
  }
  const iterationS = (performance.now() - t0) / 1000;
  const result: IterationResult = {
    iteration: 0,
    proposals: slots,
    attempts: [],
    rewards: { proposer: slots.map(() => 0), solver: [] },
    update: NO_UPDATE,
    bufferSizes: sizes(),
    clock: { sampleMs: 0, sampledTokens: 0, executeMs: 0, updateMs: 0 },
    // The seeds' diversity is the stage's distinct share (logged); the per-type figures are the loop's.
    diversity: {},
  };
  // A line left by a stage killed between its metrics and its commit is replaced, not repeated.
  truncateJsonl(session.dir.metricsPath, (r: { iteration?: unknown }) => r.iteration !== 0);
  appendMetrics(
    session.dir.metricsPath,
    iterationMetrics(c, result, {
      timeS: state.elapsedS + iterationS,
      iterationS,
      executions: env.executor.executions - execsBefore,
    }),
  );
  commit(true);
  return 'done';
}
