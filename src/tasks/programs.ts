// Programs compared as programs. A proposer that repeats a program it was shown, with another input, has
// made no new task: both runs from a pretrained base collapsed onto one such program (docs/results.md).
// Two programs are the same when their normal forms are equal text: the executor's `normalize` request
// (Python's own `ast` in the sandbox, parsed and never run; JavaScript's scanner) drops comments, layout
// and docstrings and renames the program's own variables in order of first binding, so
// `def f(a): return a[::-1]` and `def f(s):\n    return s[::-1]  # reverse` are one program.
//
// Also the diversity figures of the metrics: the share of distinct programs in a list of tasks.
import type { Executor, Lang } from '../executor/types.js';
import type { Task } from './types.js';

/**
 * Normal forms, asked of the executor once per program text and remembered (a buffer's programs are asked
 * again every iteration). A program that does not parse has none: undefined.
 */
export class ProgramForms {
  private readonly forms = new Map<string, string | undefined>();

  constructor(private readonly executor: Pick<Executor, 'batch'>) {}

  /** The normal form of each program, in order; one executor batch for those not seen before. */
  async of(lang: Lang, programs: readonly string[]): Promise<(string | undefined)[]> {
    const id = (p: string) => `${lang}\u0000${p}`;
    const missing = [...new Set(programs.filter((p) => !this.forms.has(id(p))))];
    if (missing.length > 0) {
      const results = await this.executor.batch(
        missing.map((program) => ({ op: 'normalize' as const, lang, program })),
      );
      missing.forEach((p, i) => {
        const r = results[i];
        this.forms.set(id(p), r?.ok && 'program' in r ? r.program : undefined);
      });
    }
    return programs.map((p) => this.forms.get(id(p)));
  }

  /** Programs remembered (each is one executor request saved per later use). */
  get size(): number {
    return this.forms.size;
  }
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
