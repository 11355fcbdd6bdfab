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
   * The reference code was reported to turn a valid proposal's zero learnability into -0.5, unlike the
   * paper; off (the paper's rule) by default.
   */
  zeroAsPenalty?: boolean;
}

export function proposerFinalReward(o: ProposerOutcome, opts: ProposerRewardOptions = {}): number {
  if (!o.parsed) return FORMAT_PENALTY;
  if (!o.valid) return WRONG_PENALTY;
  const r = learnabilityReward(o.solveRate);
  return r === 0 && opts.zeroAsPenalty ? WRONG_PENALTY : r;
}
