// Rewards of the Absolute Zero method (paper, eqs. 4-6).

/** Proposer reward from the solver's success rate on the new task: 1 - s when 0 < s < 1, else 0. */
export function learnabilityReward(solveRate: number): number {
  if (!(solveRate >= 0 && solveRate <= 1))
    throw new RangeError(`a solve rate is in [0, 1], got ${solveRate}`);
  return solveRate > 0 && solveRate < 1 ? 1 - solveRate : 0;
}

/** Solver reward: 1 when verified correct, else 0. */
export function solverReward(correct: boolean): number {
  return correct ? 1 : 0;
}

/** Format penalties: the role reward when well formed and passable; -0.5 when well formed but wrong; -1 when unparseable. */
export const WRONG_PENALTY = -0.5;
export const FORMAT_PENALTY = -1;

/** `closeness` (in [0, 1], src/tasks/closeness.ts) is how near a wrong answer came; it counts only with partial credit. */
export type SolverOutcome = { parsed: false } | { parsed: true; correct: boolean; closeness?: number };
export type ProposerOutcome =
  | { parsed: false }
  | { parsed: true; valid: false }
  | { parsed: true; valid: true; solveRate: number; closeness?: number };

/** `x` itself when it lies in [0, 1]; a RangeError naming `what` otherwise (NaN included). */
function unitInterval(what: string, x: number): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`${what} is in [0, 1], got ${x}`);
  return x;
}

export interface SolverRewardOptions {
  /**
   * Partial credit: a wrong answer scores WRONG_PENALTY + partialCredit * closeness, so with a value in
   * [0, 1] it stays below 0.5 and a right answer's 1 keeps its lead. 0 (the method's reward) by default.
   */
  partialCredit?: number;
}

export function solverFinalReward(o: SolverOutcome, opts: SolverRewardOptions = {}): number {
  if (!o.parsed) return FORMAT_PENALTY;
  if (o.correct) return solverReward(true);
  const credit = unitInterval('partial credit', opts.partialCredit ?? 0);
  return WRONG_PENALTY + credit * unitInterval('closeness', o.closeness ?? 0);
}

export interface ProposerRewardOptions {
  /**
   * What a valid proposal scores when its learnability is zero (no rollout or every rollout solved it).
   * The paper says 0; the reference code was reported to use -0.5, the invalid proposal's score. A value
   * in between keeps valid above invalid while pulling the proposer toward tasks the solver half-solves.
   */
  unlearnableReward?: number;
  /**
   * Partial credit for a task no rollout solved: it adds partialCredit * closeness (the rollouts' mean
   * closeness, src/tasks/closeness.ts) to the unlearnable score, so a task the solver nearly answers
   * scores above one it is nowhere near and above one it always answers. 0 (the method) by default.
   */
  partialCredit?: number;
}

export function proposerFinalReward(o: ProposerOutcome, opts: ProposerRewardOptions = {}): number {
  if (!o.parsed) return FORMAT_PENALTY;
  if (!o.valid) return WRONG_PENALTY;
  const unlearnable = opts.unlearnableReward ?? 0;
  if (!(unlearnable >= WRONG_PENALTY && unlearnable <= 0))
    throw new RangeError(`an unlearnable proposal's reward is in [${WRONG_PENALTY}, 0], got ${unlearnable}`);
  const credit = unitInterval('partial credit', opts.partialCredit ?? 0);
  const r = learnabilityReward(o.solveRate);
  if (r !== 0) return r;
  // Learnability 0 means no rollout solved the task or every one did; only the first earns credit.
  if (o.solveRate > 0 || credit === 0) return unlearnable;
  return unlearnable + credit * unitInterval('closeness', o.closeness ?? 0);
}
