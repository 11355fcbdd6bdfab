// One Absolute Zero iteration in six phases over plain data. Every random draw happens in a fixed order
// (a forked Rng per task type, used by propose then solve), so a run is reproducible from its seed.
//   propose    one generate call: a proposer prompt per slot and task type (K references from the buffers)
//   validate   one executor batch per task type (in parallel): proposals -> tasks or counted rejections
//   solve      one generate call: n learnability rollouts per new task, and the solver batch (new tasks
//              padded with buffer tasks); then one executor batch verifies every answer
//   reward     proposer and solver rewards, then TRR++ advantages over the six (type x role) groups
//   learn      one policy update over every sample
//   record     new tasks join the buffers; metrics and samples are written (selfplay/metrics.ts)
// The solver learns from the solver batch and from the learnability rollouts: both are verified answers to
// real tasks, and using the rollouts multiplies the solver's signal at no extra sampling cost.
import type { Executor } from '../executor/types.js';
import type { Policy, TrainingSample, UpdateStats } from '../policy/types.js';
import { trrAdvantages } from '../rl/trrpp.js';
import {
  type AttemptSlot,
  type ProposalSlot,
  planAttempt,
  planProposals,
  type RolloutSettings,
  sampleAttempts,
  sampleProposals,
  solveRate,
  validateProposals,
  validTask,
  verifyAttempts,
} from '../rollout/pipeline.js';
import type { SelfPlayConfig } from '../run/config.js';
import {
  groupKey,
  type ProgramForms,
  proposerFinalReward,
  skeletonOf,
  solverFinalReward,
  type Task,
  type TaskBuffer,
  type TaskType,
} from '../tasks/index.js';
import { type Rng, sampleDistinct } from '../util/rng.js';

export interface IterationEnv {
  config: SelfPlayConfig;
  settings: RolloutSettings;
  policy: Policy;
  executor: Executor;
  buffers: Record<TaskType, TaskBuffer>;
  /** Normal forms of programs, remembered across iterations (copy check and diversity figures). */
  forms: ProgramForms;
}

/** A solver attempt of the iteration: a learnability rollout of a new proposal, or the solver batch. */
export interface SolveAttempt extends AttemptSlot {
  type: TaskType;
  /** The proposal whose learnability these rollouts measure; absent for the solver batch. */
  proposal?: ProposalSlot;
}

/** Rewards of an iteration, aligned with its proposals and with each attempt's completions. */
export interface Rewards {
  proposer: number[];
  solver: number[][];
}

/** Where an iteration's time went, in milliseconds, and what it sampled. */
export interface PhaseClock {
  sampleMs: number;
  sampledTokens: number;
  executeMs: number;
  updateMs: number;
}

export const newClock = (): PhaseClock => ({ sampleMs: 0, sampledTokens: 0, executeMs: 0, updateMs: 0 });

/** The policy's generate, timed into `clock`. */
export function timedPolicy(policy: Pick<Policy, 'generate'>, clock: PhaseClock): Pick<Policy, 'generate'> {
  return {
    async generate(requests) {
      const t0 = performance.now();
      const out = await policy.generate(requests);
      clock.sampleMs += performance.now() - t0;
      for (const cs of out) for (const c of cs) clock.sampledTokens += c.tokenIds?.length ?? 0;
      return out;
    },
  };
}

async function timed<T>(clock: PhaseClock, key: 'executeMs' | 'updateMs', work: Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await work;
  clock[key] += performance.now() - t0;
  return out;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export async function propose(
  env: IterationEnv,
  rngs: Map<TaskType, Rng>,
  clock: PhaseClock,
): Promise<ProposalSlot[]> {
  const sp = env.config.selfplay;
  const slots = planProposals(
    env.settings,
    (t) => env.buffers[t].all(),
    sp.taskTypes,
    sp.proposerBatch,
    (t) => rngs.get(t) as Rng,
  );
  await sampleProposals(timedPolicy(env.policy, clock), slots);
  return slots;
}

export async function validate(
  env: IterationEnv,
  proposals: ProposalSlot[],
  clock: PhaseClock,
): Promise<void> {
  await timed(
    clock,
    'executeMs',
    validateProposals(
      env.executor,
      env.settings,
      proposals,
      (t) => ({ keys: env.buffers[t].keySet(), tasks: env.buffers[t].all() }),
      env.forms,
    ),
  );
}

/** Partial credit needs closeness; the method does not. */
export const measuresCloseness = (c: SelfPlayConfig): boolean =>
  c.experimental.partialCredit > 0 || c.experimental.proposerPartialCredit > 0;

export async function solve(
  env: IterationEnv,
  proposals: ProposalSlot[],
  rngs: Map<TaskType, Rng>,
  clock: PhaseClock,
): Promise<SolveAttempt[]> {
  const sp = env.config.selfplay;
  const attempts: SolveAttempt[] = [];
  for (const type of sp.taskTypes) {
    const rng = rngs.get(type) as Rng;
    const fresh = proposals.filter((p) => p.type === type && validTask(p));
    for (const p of fresh) {
      const slot = planAttempt(env.settings, validTask(p) as Task, sp.learnabilityRollouts, rng.seed());
      attempts.push({ ...slot, type, proposal: p });
    }
    // A frozen proposer (selfplay.propose false): tasks from the fixed pool stand in for new proposals.
    if (!sp.propose)
      for (const task of sampleDistinct(rng, env.buffers[type].all(), sp.proposerBatch))
        attempts.push({ ...planAttempt(env.settings, task, sp.learnabilityRollouts, rng.seed()), type });
    // The solver batch: the new tasks first, padded with tasks drawn from the buffer.
    const batch = fresh.slice(0, sp.solverBatch).map((p) => validTask(p) as Task);
    while (batch.length < sp.solverBatch) batch.push(rng.pick(env.buffers[type].all()));
    for (const task of batch) attempts.push({ ...planAttempt(env.settings, task, 1, rng.seed()), type });
  }
  await sampleAttempts(timedPolicy(env.policy, clock), env.settings, attempts);
  await timed(
    clock,
    'executeMs',
    verifyAttempts(env.executor, attempts, { closeness: measuresCloseness(env.config) }),
  );
  return attempts;
}

/** The reward of completion k of an attempt: right, wrong (with partial credit, if any) or unparsed. */
export function solverRewardOf(c: SelfPlayConfig, a: AttemptSlot, k: number): number {
  return solverFinalReward(
    a.answers[k] !== undefined
      ? { parsed: true, correct: a.correct[k] === true, closeness: a.closeness[k] ?? 0 }
      : { parsed: false },
    { partialCredit: c.experimental.partialCredit },
  );
}

/**
 * The valid deduction/abduction proposals whose program's skeleton (normal form up to its constants) is
 * new to both buffers and to the proposals before it in the batch (experimental.noveltyReward). Asked
 * before the iteration's tasks join the buffers.
 */
export async function novelProposals(
  env: IterationEnv,
  proposals: ProposalSlot[],
): Promise<Set<ProposalSlot>> {
  const novel = new Set<ProposalSlot>();
  const types: readonly TaskType[] = env.config.selfplay.taskTypes.filter((t) => t !== 'induction');
  const lang = env.settings.lang;
  const known = new Set<string>();
  for (const t of types) {
    const forms = await env.forms.of(
      lang,
      env.buffers[t].all().map((x) => x.program),
    );
    for (const f of forms) if (f !== undefined) known.add(skeletonOf(f));
  }
  const mine = proposals.filter((p) => types.includes(p.type) && validTask(p));
  const forms = await env.forms.of(
    lang,
    mine.map((p) => (validTask(p) as Task).program),
  );
  mine.forEach((p, i) => {
    const f = forms[i];
    if (f === undefined || known.has(skeletonOf(f))) return;
    known.add(skeletonOf(f));
    novel.add(p);
  });
  return novel;
}

/**
 * Proposer rewards (learnability from the rollouts, plus experimental.noveltyReward for the `novel`
 * proposals) and solver rewards.
 */
export function reward(
  c: SelfPlayConfig,
  proposals: ProposalSlot[],
  attempts: SolveAttempt[],
  novel: ReadonlySet<ProposalSlot> = new Set(),
): Rewards {
  const rollouts = new Map<ProposalSlot, SolveAttempt>();
  for (const a of attempts) if (a.proposal) rollouts.set(a.proposal, a);
  const options = {
    unlearnableReward: c.experimental.proposerUnlearnableReward,
    partialCredit: c.experimental.proposerPartialCredit,
  };
  const proposer = proposals.map((p) => {
    const v = p.verdict;
    if (!v || v.kind === 'unparsed') return proposerFinalReward({ parsed: false });
    // A copy under 'unlearnable' scores what a valid task no rollout solved scores, without rollouts.
    if (v.kind === 'rejected' && v.reason === 'copy' && c.validation.copies === 'unlearnable')
      return proposerFinalReward({ parsed: true, valid: true, solveRate: 0, closeness: 0 }, options);
    if (v.kind === 'rejected') return proposerFinalReward({ parsed: true, valid: false });
    const r = rollouts.get(p) as SolveAttempt;
    // A right answer counts as fully close; an unparsed one as not at all.
    const closeness = mean(
      r.completions.map((_, k) =>
        r.correct[k] ? 1 : r.answers[k] !== undefined ? (r.closeness[k] ?? 0) : 0,
      ),
    );
    const bonus = novel.has(p) ? c.experimental.noveltyReward : 0;
    return (
      proposerFinalReward({ parsed: true, valid: true, solveRate: solveRate(r), closeness }, options) + bonus
    );
  });
  const solver = attempts.map((a) => a.completions.map((_, k) => solverRewardOf(c, a, k)));
  return { proposer, solver };
}

/**
 * Every completion of the iteration as a training sample, proposals first, with its TRR++ advantage: the
 * reward normalised within its (task type x role) group.
 */
export function trainingSamples(
  proposals: ProposalSlot[],
  attempts: SolveAttempt[],
  rewards: Rewards,
): TrainingSample[] {
  const samples: (TrainingSample & { reward: number })[] = [];
  proposals.forEach((p, i) => {
    if (!p.completion) return;
    const group = groupKey(p.type, 'proposer');
    samples.push({
      prompt: p.prompt,
      completion: p.completion,
      advantage: 0,
      group,
      reward: rewards.proposer[i] as number,
    });
  });
  attempts.forEach((a, i) => {
    const group = groupKey(a.type, 'solver');
    a.completions.forEach((completion, k) => {
      const reward = (rewards.solver[i] as number[])[k] as number;
      samples.push({ prompt: a.prompt, completion, advantage: 0, group, reward });
    });
  });
  const advantages = trrAdvantages(samples);
  return samples.map(({ reward: _, ...s }, i) => ({ ...s, advantage: advantages[i] as number }));
}

const NO_UPDATE: UpdateStats = { loss: 0, gradNorm: 0, learningRate: 0, tokens: 0, timeMs: 0 };

/** One policy update over the samples (a policy that cannot learn reports zeros). */
export async function learn(
  policy: Policy,
  samples: readonly TrainingSample[],
  clock: PhaseClock,
): Promise<UpdateStats> {
  return timed(clock, 'updateMs', policy.update ? policy.update(samples) : Promise.resolve(NO_UPDATE));
}
