// A task buffer: the verified tasks of one type, seeded with the identity program only. Append-only JSONL
// on disk (one task a line, tagged with the iteration that made it), reloaded on resume; a torn last line
// from a kill is dropped, and `keep` cuts records of an iteration that never committed.
import { existsSync } from 'node:fs';
import type { Lang } from '../executor/types.js';
import { appendJsonl, readJsonl, truncateJsonl } from '../util/jsonl.js';
import type { Rng } from '../util/rng.js';
import { fromTaskRecord, parseTaskRecord, type TaskRecord, toTaskRecord } from './dataset.js';
import { taskKey } from './normalize.js';
import type { Task, TaskType } from './types.js';

/** The single seed task: f(x) = x on one string, in each language. */
export function identityTask(type: TaskType, lang: Lang): Task {
  const program = lang === 'python' ? 'def f(x):\n    return x' : 'function f(x) {\n  return x;\n}';
  const input = lang === 'python' ? "'Hello World'" : '"Hello World"';
  const task: Task = { type, lang, program, input, output: input };
  if (type === 'induction') {
    task.message = 'returns its argument unchanged';
    task.shown = [{ input, output: input }];
    task.hidden = [{ input, output: input }];
  }
  return task;
}

export function keyOf(task: Task): string {
  const inputs =
    task.type === 'induction'
      ? [...(task.shown ?? []), ...(task.hidden ?? [])].map((p) => p.input).join('\u0001')
      : task.input;
  return taskKey(task.lang, task.program, inputs);
}

export class TaskBuffer {
  private readonly tasks: Task[] = [];
  private readonly keys = new Set<string>();

  private constructor(
    readonly file: string,
    readonly type: TaskType,
    readonly lang: Lang,
  ) {}

  /**
   * Open (or create) the buffer file. `keep`: number of records to keep (resume after a kill drops the
   * rest); an empty buffer is seeded with the identity task.
   */
  static open(file: string, type: TaskType, lang: Lang, keep?: number): TaskBuffer {
    const b = new TaskBuffer(file, type, lang);
    let records: TaskRecord[];
    if (keep !== undefined && existsSync(file)) {
      let n = 0;
      records = truncateJsonl(file, () => n++ < keep, parseTaskRecord);
    } else {
      records = readJsonl(file, parseTaskRecord).records;
      if (existsSync(file)) truncateJsonl(file, () => true, parseTaskRecord); // drop a torn tail
    }
    for (const r of records) b.remember(fromTaskRecord(r));
    if (b.size === 0) b.add(identityTask(type, lang), 0);
    return b;
  }

  get size(): number {
    return this.tasks.length;
  }

  all(): readonly Task[] {
    return this.tasks;
  }

  has(task: Task): boolean {
    return this.keys.has(keyOf(task));
  }

  /** Keys of every task held, for deduplicating new proposals. */
  keySet(): Set<string> {
    return new Set(this.keys);
  }

  /** Append a task (skipped, returning false, when already held). */
  add(task: Task, iteration: number): boolean {
    if (!this.remember(task)) return false;
    appendJsonl(this.file, [toTaskRecord(task, { iteration })]);
    return true;
  }

  /** Append many tasks with one write; returns how many were new. */
  addAll(tasks: readonly Task[], iteration: number): number {
    const fresh = tasks.filter((t) => this.remember(t));
    appendJsonl(
      this.file,
      fresh.map((t) => toTaskRecord(t, { iteration })),
    );
    return fresh.length;
  }

  /** k tasks drawn uniformly with replacement (the buffer may hold fewer than k). */
  sample(rng: Rng, k: number): Task[] {
    return Array.from({ length: k }, () => rng.pick(this.tasks));
  }

  private remember(task: Task): boolean {
    const key = keyOf(task);
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    this.tasks.push(task);
    return true;
  }
}
