// The (task type, role) pairs an answer grammar is built for, and what precedes a completion where it
// starts, shared by the grammar tests.
import type { AnswerShape } from '../../src/grammar/answer-structure.js';
import type { Role, TaskType } from '../../src/tasks/index.js';

/** Every pair the loop asks for. */
export const ALL_SHAPES: readonly [TaskType, Role][] = [
  ['deduction', 'proposer'],
  ['abduction', 'proposer'],
  ['induction', 'proposer'],
  ['deduction', 'solver'],
  ['abduction', 'solver'],
  ['induction', 'solver'],
];

/** One pair per distinct grammar: the abduction proposer's is the deduction proposer's. */
export const DISTINCT_SHAPES: readonly [TaskType, Role][] = ALL_SHAPES.filter(
  ([type, role]) => !(type === 'abduction' && role === 'proposer'),
);

/** What comes before the completion in the full text parse.ts reads, for each place an answer starts. */
export const TEXT_BEFORE: Record<AnswerShape['startsAt'], string> = {
  'think-text': '<think>',
  'think-tag': '',
  answer: '<think>x</think>',
};
