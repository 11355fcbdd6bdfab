// For the grammar tests: the (task type, role) pairs with a grammar of their own, and what precedes a
// completion where it starts. Every pair is src/tasks' GROUPS.
import type { AnswerShape } from '../../src/grammar/answer-structure.js';
import { GROUPS, type Role, type TaskType } from '../../src/tasks/index.js';

/** One pair per distinct grammar: the abduction proposer's is the deduction proposer's. */
export const DISTINCT_SHAPES: readonly (readonly [TaskType, Role])[] = GROUPS.filter(
  ([type, role]) => !(type === 'abduction' && role === 'proposer'),
);

/** What comes before the completion in the full text parse.ts reads, for each place an answer starts. */
export const TEXT_BEFORE: Record<AnswerShape['startsAt'], string> = {
  'think-text': '<think>',
  'think-tag': '',
  answer: '<think>x</think>',
};
