// Programs compared as programs. A proposer that repeats a program it was shown, with another input, has
// made no new task: both runs from a pretrained base collapsed onto one such program (docs/results.md).
// Two programs are the same when their normal forms are equal text: the executor's `normalize` request
// (Python's own `ast` in the sandbox, parsed and never run; JavaScript's scanner) drops comments, layout
// and docstrings and renames the program's own variables in order of first binding, so
// `def f(a): return a[::-1]` and `def f(s):\n    return s[::-1]  # reverse` are one program.
//
// Also the diversity figures of the metrics: the share of distinct programs in a list of tasks.
import type { ExecFailure, Executor, Lang } from '../executor/types.js';
import type { Task } from './types.js';

/**
 * Normal forms, asked of the executor once per program text and remembered (a buffer's programs are asked
 * again every iteration). A program that does not parse has none: undefined. Neither has one whose request
 * failed for the machine's sake (a timeout, a sandbox that did not start): that is not remembered, so the
 * program is asked again next time, and it is counted in `failures`.
 */
export class ProgramForms {
  private readonly forms = new Map<string, string | undefined>();
  /** Requests that failed for another reason than the program's syntax, and the last such failure. */
  failures = 0;
  lastFailure: ExecFailure | undefined;

  constructor(private readonly executor: Pick<Executor, 'batch'>) {}

  /** The normal form of each program, in order; one executor batch for those not known yet. */
  async of(lang: Lang, programs: readonly string[]): Promise<(string | undefined)[]> {
    const id = (p: string) => `${lang}\u0000${p}`;
    const missing = [...new Set(programs.filter((p) => !this.forms.has(id(p))))];
    const fresh = new Map<string, string | undefined>();
    if (missing.length > 0) {
      const results = await this.executor.batch(
        missing.map((program) => ({ op: 'normalize' as const, lang, program })),
      );
      missing.forEach((p, i) => {
        const r = results[i];
        if (r?.ok && 'program' in r) this.forms.set(id(p), r.program);
        else if (r && !r.ok && r.kind === 'syntax') this.forms.set(id(p), undefined);
        else {
          this.failures++;
          this.lastFailure = r && !r.ok ? r : { ok: false, kind: 'runtime', message: 'no result', timeMs: 0 };
          fresh.set(id(p), undefined);
        }
      });
    }
    return programs.map((p) => (fresh.has(id(p)) ? undefined : this.forms.get(id(p))));
  }

  /** Programs remembered (each is one executor request saved per later use). */
  get size(): number {
    return this.forms.size;
  }
}

// A string literal (single- or double-quoted, on one line) or a number that is not part of a name.
const LITERAL = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|(?<![\w.$])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?j?/g;

/**
 * A normal form with its literals replaced, numbers by 0 and strings by '': programs that differ only in
 * a constant (`a * 2` and `a * 3`, near-copies the copy check lets through) share their skeleton.
 */
export function skeletonOf(form: string): string {
  return form.replace(LITERAL, (m) => (m[0] === "'" || m[0] === '"' ? "''" : '0'));
}

/** Distinct programs among these normal forms (a program with none counts as distinct). */
export function distinctCount(forms: readonly (string | undefined)[]): number {
  const parsed = forms.filter((f) => f !== undefined);
  return new Set(parsed).size + forms.length - parsed.length;
}

/** Distinct programs over the number of programs (undefined for none). */
export function distinctShare(forms: readonly (string | undefined)[]): number | undefined {
  return forms.length ? distinctCount(forms) / forms.length : undefined;
}

/** The share of distinct programs among the last `window` tasks (undefined for none). */
export async function recentDistinctShare(
  forms: ProgramForms,
  lang: Lang,
  tasks: readonly Task[],
  window: number,
): Promise<number | undefined> {
  const recent = tasks.slice(Math.max(0, tasks.length - window));
  return distinctShare(
    await forms.of(
      lang,
      recent.map((t) => t.program),
    ),
  );
}

/** How varied a list of tasks' programs is (`azr tasks --diversity`). */
export interface ProgramDiversity {
  tasks: number;
  /** Distinct programs (normal forms) and distinct skeletons (normal forms up to their constants). */
  programs: number;
  skeletons: number;
  /** The most frequent programs, most frequent first: a task's program text and how many tasks share its form. */
  top: { program: string; count: number }[];
}

export async function programDiversity(
  forms: ProgramForms,
  lang: Lang,
  tasks: readonly Task[],
  top = 5,
): Promise<ProgramDiversity> {
  const all = await forms.of(
    lang,
    tasks.map((t) => t.program),
  );
  const counts = new Map<string, { program: string; count: number }>();
  all.forEach((f, i) => {
    const key = f ?? `\u0000${i}`; // a program with no form counts alone
    const c = counts.get(key) ?? { program: (tasks[i] as Task).program, count: 0 };
    c.count++;
    counts.set(key, c);
  });
  return {
    tasks: tasks.length,
    programs: distinctCount(all),
    skeletons: distinctCount(all.map((f) => (f === undefined ? f : skeletonOf(f)))),
    top: [...counts.values()].sort((a, b) => b.count - a.count).slice(0, top),
  };
}
