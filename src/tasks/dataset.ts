// The task file format shared by the held-out set (eval/heldout.jsonl), `azr tasks` exports and
// `azr generate` datasets: one task a line, see eval/README.md. Validated line by line with errors that
// name the line.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/**
 * Read a task file. Throws with file:line on a line that is not a task, and on a repeated `id`. A last
 * line without its newline is read when it is a complete JSON value (a hand-written file) and ignored
 * otherwise (a write cut short by a kill). A missing file is an error.
 */
export function readTaskFile(file: string): TaskRecord[] {
  if (!existsSync(file)) throw new Error(`${file}: no such task file`);
  const { records, validBytes, torn } = readJsonl(file, parseTaskRecord);
  if (torn) {
    const buf = readFileSync(file);
    const tail = buf.subarray(validBytes).toString('utf8');
    const line = buf.subarray(0, validBytes).toString('utf8').split('\n').length;
    let value: unknown;
    let complete = true;
    try {
      value = JSON.parse(tail);
    } catch {
      complete = false;
    }
    if (complete) {
      try {
        records.push(parseTaskRecord(value));
      } catch (e) {
        throw new Error(`${file}:${line}: ${(e as Error).message}`);
      }
    }
  }
  const ids = new Map<string, number>();
  records.forEach((r, i) => {
    if (r.id === undefined) return;
    const before = ids.get(r.id);
    if (before !== undefined)
      throw new Error(`${file}: id '${r.id}' is used by record ${before + 1} and record ${i + 1}`);
    ids.set(r.id, i);
  });
  return records;
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

/** Write a task file, each record validated first; write-then-rename, so readers never see half a file. */
export function writeTaskFile(file: string, records: readonly TaskRecord[]): void {
  const text = records.map((r, i) => {
    try {
      return `${JSON.stringify(parseTaskRecord(r))}\n`;
    } catch (e) {
      throw new Error(`record ${i + 1}: ${(e as Error).message}`);
    }
  });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text.join(''));
  renameSync(tmp, file);
}
