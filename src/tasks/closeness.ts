// How close a wrong answer came, for partial credit (selfplay.partialCredit).
//
// The method's solver reward is exact match. For a model that starts from random weights almost every
// answer is wrong, so almost every reward is the same -0.5 and the update has nothing to point along: in
// the runs of docs/results.md the deduction solver drifted to one constant answer. Closeness compares the
// text of what an answer produced with the text it should have produced, so an answer that copies the
// right list with one element wrong scores above one of the wrong type. It shapes the solver's reward
// only; the verdict, the proposer's learnability and the held-out evaluation stay exact.
import type { AnyExecResult, ExecRequest } from '../executor/types.js';
import type { SolutionToVerify } from './verify.js';

/** Texts are cut to this many characters before comparing, which bounds the quadratic edit distance. */
const MAX_CHARS = 256;

/** Edit distance (insertions, deletions, substitutions) between two strings; O(|a|·|b|) time, O(|b|) space. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] as number;
}

/**
 * 1 - edit distance / longer length, over the literal texts with whitespace removed (so `[1,2]` and
 * `[1, 2]` are the same text); 1 for equal texts, 0 for texts with nothing in common.
 */
export function textCloseness(got: string, want: string): number {
  const g = got.replace(/\s+/g, '').slice(0, MAX_CHARS);
  const w = want.replace(/\s+/g, '').slice(0, MAX_CHARS);
  const longer = Math.max(g.length, w.length);
  return longer === 0 ? 1 : 1 - editDistance(g, w) / longer;
}

/**
 * The executor requests that measure the closeness of many answers, and the function that turns their
 * results (in request order) into one closeness in [0, 1] per answer:
 * - deduction: the answer literal against the task's output (no request);
 * - abduction: what the program returns on the answer, against the task's output;
 * - induction: the mean over the hidden pairs of what the answer program returns, against each output.
 * A run that fails scores 0.
 */
export function closenessBatch(items: readonly SolutionToVerify[]): {
  requests: ExecRequest[];
  scores(results: readonly AnyExecResult[]): number[];
} {
  const perItem = items.map(({ task, answer }): { requests: ExecRequest[]; wants: string[] } => {
    const { lang } = task;
    if (task.type === 'deduction') return { requests: [], wants: [] };
    if (task.type === 'abduction')
      return { requests: [{ op: 'run', lang, program: task.program, input: answer }], wants: [task.output] };
    const pairs =
      task.hidden && task.hidden.length > 0 ? task.hidden : [{ input: task.input, output: task.output }];
    return {
      requests: pairs.map((p) => ({ op: 'run' as const, lang, program: answer, input: p.input })),
      wants: pairs.map((p) => p.output),
    };
  });
  return {
    requests: perItem.flatMap((p) => p.requests),
    scores(results) {
      let at = 0;
      return perItem.map((p, i) => {
        const item = items[i] as SolutionToVerify;
        if (item.task.type === 'deduction') return textCloseness(item.answer, item.task.output);
        let sum = 0;
        for (const want of p.wants) {
          const r = results[at++];
          if (r?.ok && 'output' in r) sum += textCloseness(r.output, want);
        }
        return p.wants.length ? sum / p.wants.length : 0;
      });
    },
  };
}
