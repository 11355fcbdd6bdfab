// The Absolute Zero environment's plain data: task types, roles, tasks.
import type { Lang } from '../executor/types.js';

export const TASK_TYPES = ['deduction', 'abduction', 'induction'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const ROLES = ['proposer', 'solver'] as const;
export type Role = (typeof ROLES)[number];

/** One of the six (task type x role) groups; TRR++ keeps one baseline per group. */
export type GroupKey = `${TaskType}/${Role}`;
export const groupKey = (type: TaskType, role: Role): GroupKey => `${type}/${role}`;

/** The six groups as (type, role) pairs: every proposer, then every solver. */
export const GROUPS: readonly (readonly [TaskType, Role])[] = ROLES.flatMap((role) =>
  TASK_TYPES.map((type) => [type, role] as const),
);

export interface IOPair {
  input: string;
  output: string;
}

/**
 * A verified task: `output` is what `program` returns on `input`, as computed by the executor. Induction
 * tasks also carry the pairs shown to the solver, the hidden pairs its program must pass, and a message.
 */
export interface Task {
  type: TaskType;
  lang: Lang;
  program: string;
  input: string;
  output: string;
  message?: string;
  shown?: IOPair[];
  hidden?: IOPair[];
  difficulty?: number;
  id?: string;
}

/** The answer style: 'reference' is the paper's long prompts with <think>; 'compact' suits a small model. */
export type PromptStyle = 'compact' | 'reference';
