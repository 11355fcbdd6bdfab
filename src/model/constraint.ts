// The sampler's mask hook, as the grammar side implements it. One matcher follows one sequence: before
// each sampled token the sampler asks which ids are allowed, then tells the matcher which one it chose.

export interface ConstraintMatcher {
  /**
   * Sets mask[id] = 1 for every token id allowed next and 0 for the rest (mask.length = vocab size). With
   * `remaining` (tokens left in the budget), only tokens after which the sentence can still be completed
   * within the budget are allowed, so a constrained sample never runs out of tokens mid-answer.
   */
  allowedTokens(mask: Uint8Array, remaining?: number): void;
  /** Consumes one token; false (state unchanged) if it was not allowed. */
  accept(tokenId: number): boolean;
  /** The text so far is a complete sentence: the sampler may stop here (and must stop if nothing is allowed). */
  isComplete(): boolean;
}

/** A compiled constraint (e.g. a grammar); `start` gives a fresh matcher per sequence. */
export interface DecodeConstraint {
  readonly name: string;
  start(): ConstraintMatcher;
}
