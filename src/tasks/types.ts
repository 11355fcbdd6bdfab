// The Absolute Zero environment's plain data: task types, roles, tasks.
import type { Lang } from '../executor/types.js';

export type TaskType = 'deduction' | 'abduction' | 'induction';
export const TASK_TYPES: readonly TaskType[] = ['deduction', 'abduction', 'induction'];

export type Role = 'proposer' | 'solver';
export const ROLES: readonly Role[] = ['proposer', 'solver'];

/** One of the six (task type x role) groups; TRR++ keeps one baseline per group. */
export type GroupKey = `${TaskType}/${Role}`;
export const groupKey = (type: TaskType, role: Role): GroupKey => `${type}/${role}`;

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
