export { pretrainedConstraints } from './answer-structure.js';
export {
  type AzrGrammarOptions,
  azrConstraint,
  azrGrammarSource,
  constraintFor,
  startRule,
} from './azr.js';
export { type Grammar, GrammarError, parseGrammar } from './gbnf.js';
export { GrammarMatcher, grammarConstraint } from './matcher.js';
