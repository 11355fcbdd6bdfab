// A task buffer: the verified tasks of one type, seeded with the identity program only. Append-only JSONL
// on disk (one task a line, tagged with the iteration that made it), reloaded on resume.
//
// Crash safety: a record is one line written with one write() call. A kill mid-write leaves at most a
// torn last line, which `open` cuts off. The self-play loop commits an iteration by storing each buffer's
// `size` in its state file; on resume `open(..., keep = size)` cuts the lines an uncommitted iteration
// appended, so the buffers and the rest of the state agree again. `size` is always the number of records
// in the file, which is what makes that count usable as a cut point.
import { existsSync } from 'node:fs';
import type { Lang } from '../executor/types.js';
import { appendJsonl, readJsonl, truncateJsonl } from '../util/jsonl.js';
import type { Rng } from '../util/rng.js';
import { fromTaskRecord, parseTaskRecord, type TaskRecord, toTaskRecord, writeTaskFile } from './dataset.js';
import { taskKey } from './normalize.js';
import type { Task, TaskType } from './types.js';

/** The single seed task: f(a) = a on one string, in each language (the grammar's parameter name). */
export function identityTask(type: TaskType, lang: Lang): Task {
  const program = lang === 'python' ? 'def f(a):\n    return a' : 'function f(a) {\n  return a;\n}';
  const input = lang === 'python' ? "'Hello World'" : '"Hello World"';
  const task: Task = { type, lang, program, input, output: input };
  if (type === 'induction') {
    task.message = 'returns its argument unchanged';
    task.shown = [{ input, output: input }];
    task.hidden = [{ input, output: input }];
  }
  return task;
}

/** The deduplication key of a task: normalised program text and input (induction: all its inputs). */
export function keyOf(task: Task): string {
  if (task.type === 'induction') {
    const inputs = [...(task.shown ?? []), ...(task.hidden ?? [])].map((p) => p.input);
    return taskKey(task.lang, task.program, inputs);
  }
  return taskKey(task.lang, task.program, task.input);
}

/**
 * min(k, n) items drawn uniformly without replacement (a partial Fisher-Yates shuffle), e.g. K distinct
 * references from a pool spanning several buffers, so a prompt does not spend its budget on repeats.
 */
export function sampleWithoutReplacement<T>(rng: Rng, items: readonly T[], k: number): T[] {
  const idx = items.map((_, i) => i);
  const n = Math.min(k, idx.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(idx.length - i);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, n).map((i) => items[i] as T);
}

interface Entry {
  task: Task;
  iteration: number;
}

export class TaskBuffer {
  private readonly entries: Entry[] = [];
  private readonly keys = new Set<string>();

  private constructor(
    readonly file: string,
    readonly type: TaskType,
    readonly lang: Lang,
  ) {}

  /**
   * Open (or create) the buffer file of one task type. `keep`: the number of records committed (the
   * `size` stored with the last committed iteration); later records are cut from the file. Without it,
   * every complete record is loaded and only a torn last line is cut. An empty buffer is seeded with the
   * identity task (iteration 0). Throws, naming the file and line, on a record that is not a task or is of
   * another type or language than asked for (a run resumed with a different language, say).
   */
  static open(file: string, type: TaskType, lang: Lang, keep?: number): TaskBuffer {
    if (keep !== undefined && !(Number.isInteger(keep) && keep >= 0))
      throw new RangeError(`keep must be a count of records, got ${keep}`);
    const b = new TaskBuffer(file, type, lang);
    const parse = (value: unknown): TaskRecord => {
      const r = parseTaskRecord(value);
      if (r.type !== type || r.lang !== lang)
        throw new Error(`a ${r.lang} ${r.type} task in the ${lang} ${type} buffer`);
      return r;
    };
    let records: TaskRecord[] = [];
    if (existsSync(file)) {
      // Validate every complete line first (readable errors), then cut what is not committed.
      records = readJsonl(file, parse).records;
      if (keep !== undefined && keep < records.length) records = records.slice(0, keep);
      let n = 0;
      truncateJsonl(file, () => n++ < records.length);
    }
    // Every record is loaded, even one whose key repeats (it can, if normalisation changed between
    // versions), so that `size` keeps counting lines.
    for (const r of records) b.remember(fromTaskRecord(r), r.iteration ?? 0, true);
    if (b.size === 0) b.add(identityTask(type, lang), 0);
    return b;
  }

  /** Number of records (tasks) in the buffer and its file. */
  get size(): number {
    return this.entries.length;
  }

  all(): readonly Task[] {
    return this.entries.map((e) => e.task);
  }

  has(task: Task): boolean {
    return this.keys.has(keyOf(task));
  }

  /** Keys of every task held, for deduplicating new proposals (validateProposals). */
  keySet(): Set<string> {
    return new Set(this.keys);
  }

  /** Append a task (skipped, returning false, when already held). */
  add(task: Task, iteration: number): boolean {
    return this.addAll([task], iteration) === 1;
  }

  /** Append many tasks with one write; returns how many were new (duplicates are skipped). */
  addAll(tasks: readonly Task[], iteration: number): number {
    for (const t of tasks) {
      if (t.type !== this.type || t.lang !== this.lang)
        throw new Error(`a ${t.lang} ${t.type} task cannot go into the ${this.lang} ${this.type} buffer`);
    }
    const fresh = tasks.filter((t) => this.remember(t, iteration, false));
    appendJsonl(
      this.file,
      fresh.map((t) => toTaskRecord(t, { iteration })),
    );
    return fresh.length;
  }

  /** The buffer as dataset records (the eval/README.md format, with the iteration of each task). */
  toRecords(): TaskRecord[] {
    return this.entries.map((e) => toTaskRecord(e.task, { iteration: e.iteration }));
  }

  /** Write the buffer as a dataset file (write-then-rename, so a reader never sees half a file). */
  exportTo(file: string): void {
    writeTaskFile(file, this.toRecords());
  }

  private remember(task: Task, iteration: number, always: boolean): boolean {
    const key = keyOf(task);
    if (this.keys.has(key) && !always) return false;
    this.keys.add(key);
    this.entries.push({ task, iteration });
    return true;
  }
}
