export {
  type AzrGrammarOptions,
  azrConstraint,
  azrGrammarSource,
  constraintFor,
  startRule,
} from './azr.js';
export { type Grammar, GrammarError, parseGrammar } from './gbnf.js';
export { GrammarMatcher, grammarConstraint } from './matcher.js';

import type { ConstraintMatcher } from '../model/constraint.js';
import type { Rng } from '../util/rng.js';

/** A uniformly random walk through a grammar: pick any allowed token until nothing more is allowed. */
export function randomSentence(m: ConstraintMatcher, rng: Rng, vocab: number, maxTokens = 2000): number[] {
  const mask = new Uint8Array(vocab);
  const out: number[] = [];
  while (out.length < maxTokens) {
    m.allowedTokens(mask);
    const ids: number[] = [];
    for (let i = 0; i < vocab; i++) if (mask[i]) ids.push(i);
    if (ids.length === 0) break;
    const id = rng.pick(ids);
    m.accept(id);
    out.push(id);
  }
  return out;
}
