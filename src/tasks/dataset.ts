// The task file format shared by the held-out set (eval/heldout.jsonl), `azr tasks` exports and
// `azr generate` datasets: one task a line, see eval/README.md. Validated line by line with errors that
// name the line.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { readJsonl } from '../util/jsonl.js';
import type { Task } from './types.js';

const Pair = z.object({ input: z.string(), output: z.string() }).strict();

export const TaskRecordSchema = z
  .object({
    id: z.string().optional(),
    lang: z.enum(['python', 'javascript']),
    type: z.enum(['deduction', 'abduction', 'induction']),
    difficulty: z.number().int().optional(),
    program: z.string().min(1),
    input: z.string(),
    output: z.string(),
    message: z.string().optional(),
    shown: z.array(Pair).optional(),
    hidden: z.array(Pair).optional(),
    /** `azr generate`: the solver's success rate when the task was made. */
    solveRate: z.number().min(0).max(1).optional(),
    /** `azr tasks`: the iteration that produced the task. */
    iteration: z.number().int().nonnegative().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (
      t.type === 'induction' &&
      (!t.hidden || t.hidden.length === 0 || !t.shown || t.message === undefined)
    ) {
      ctx.addIssue({ code: 'custom', message: 'an induction task needs message, shown and hidden pairs' });
    }
  });

export type TaskRecord = z.infer<typeof TaskRecordSchema>;

export function parseTaskRecord(value: unknown): TaskRecord {
  const r = TaskRecordSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new Error(`not a task: ${where}${issue?.message ?? 'invalid'}`);
}

/** Read a task file; throws with file:line on the first bad line. A torn last line is ignored. */
export function readTaskFile(file: string): TaskRecord[] {
  return readJsonl(file, parseTaskRecord).records;
}

export function toTaskRecord(task: Task, extra: { solveRate?: number; iteration?: number } = {}): TaskRecord {
  const r: TaskRecord = {
    ...(task.id !== undefined ? { id: task.id } : {}),
    lang: task.lang,
    type: task.type,
    ...(task.difficulty !== undefined ? { difficulty: task.difficulty } : {}),
    program: task.program,
    input: task.input,
    output: task.output,
    ...(task.message !== undefined ? { message: task.message } : {}),
    ...(task.shown ? { shown: task.shown } : {}),
    ...(task.hidden ? { hidden: task.hidden } : {}),
    ...extra,
  };
  return parseTaskRecord(r);
}

export function fromTaskRecord(r: TaskRecord): Task {
  const t: Task = { type: r.type, lang: r.lang, program: r.program, input: r.input, output: r.output };
  if (r.message !== undefined) t.message = r.message;
  if (r.shown) t.shown = r.shown;
  if (r.hidden) t.hidden = r.hidden;
  if (r.difficulty !== undefined) t.difficulty = r.difficulty;
  if (r.id !== undefined) t.id = r.id;
  return t;
}

export function writeTaskFile(file: string, records: readonly TaskRecord[]): void {
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
