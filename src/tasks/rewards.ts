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

export type SolverOutcome = { parsed: false } | { parsed: true; correct: boolean };
export type ProposerOutcome =
  | { parsed: false }
  | { parsed: true; valid: false }
  | { parsed: true; valid: true; solveRate: number };

export function solverFinalReward(o: SolverOutcome): number {
  if (!o.parsed) return FORMAT_PENALTY;
  return o.correct ? solverReward(true) : WRONG_PENALTY;
}

export interface ProposerRewardOptions {
  /**
   * What a valid proposal scores when its learnability is zero (no rollout or every rollout solved it).
   * The paper says 0; the reference code was reported to use -0.5, the invalid proposal's score. A value
   * in between keeps valid above invalid while pulling the proposer toward tasks the solver half-solves.
   */
  unlearnableReward?: number;
}

export function proposerFinalReward(o: ProposerOutcome, opts: ProposerRewardOptions = {}): number {
  if (!o.parsed) return FORMAT_PENALTY;
  if (!o.valid) return WRONG_PENALTY;
  const unlearnable = opts.unlearnableReward ?? 0;
  if (!(unlearnable >= WRONG_PENALTY && unlearnable <= 0))
    throw new RangeError(`an unlearnable proposal's reward is in [${WRONG_PENALTY}, 0], got ${unlearnable}`);
  const r = learnabilityReward(o.solveRate);
  return r === 0 ? unlearnable : r;
}
