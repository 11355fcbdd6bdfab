export {
  type Arity,
  type AzrGrammarOptions,
  azrConstraint,
  azrGrammarSource,
  type ConstraintNameOptions,
  constraintByName,
  constraintName,
  programArity,
  startRule,
} from './azr.js';
export { type Grammar, GrammarError, parseGrammar } from './gbnf.js';
export { GrammarMatcher, grammarConstraint } from './matcher.js';
