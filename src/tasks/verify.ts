// Checking solver answers with the executor: deduction by value equality with the task's output,
// abduction by running the program on the proposed input (any input that gives the output is right),
// induction by running the proposed program on every hidden pair (all must pass).
import type { AnyExecResult, ExecRequest, Executor } from '../executor/types.js';
import type { Task } from './types.js';

export interface SolutionToVerify {
  task: Task;
  /** The parsed answer: output literal, argument list, or program. */
  answer: string;
}

export function verificationRequests({ task, answer }: SolutionToVerify): ExecRequest[] {
  const { lang } = task;
  switch (task.type) {
    case 'deduction':
      return [{ op: 'equal', lang, a: answer, b: task.output }];
    case 'abduction':
      return [{ op: 'matches', lang, program: task.program, input: answer, expected: task.output }];
    case 'induction': {
      const pairs =
        task.hidden && task.hidden.length > 0 ? task.hidden : [{ input: task.input, output: task.output }];
      return pairs.map((p) => ({
        op: 'matches' as const,
        lang,
        program: answer,
        input: p.input,
        expected: p.output,
      }));
    }
  }
}

/** Right only if every check ran and said equal; any failure (syntax, timeout, ...) is wrong. */
export function verdict(results: readonly AnyExecResult[]): boolean {
  return results.length > 0 && results.every((r) => r.ok && 'equal' in r && r.equal);
}

/**
 * The executor requests that verify many answers, and the function that turns their results (in request
 * order) back into one verdict per answer. Lets a caller merge verification into a larger executor batch.
 */
export function verificationBatch(items: readonly SolutionToVerify[]): {
  requests: ExecRequest[];
  verdicts(results: readonly AnyExecResult[]): boolean[];
} {
  const perItem = items.map(verificationRequests);
  return {
    requests: perItem.flat(),
    verdicts(results) {
      let at = 0;
      return perItem.map((reqs) => {
        const mine = results.slice(at, at + reqs.length);
        at += reqs.length;
        return verdict(mine);
      });
    },
  };
}

/** Verify many answers with one executor batch; one boolean per item, in order. */
export async function verifySolutions(
  executor: Executor,
  items: readonly SolutionToVerify[],
): Promise<boolean[]> {
  if (items.length === 0) return [];
  const batch = verificationBatch(items);
  return batch.verdicts(await executor.batch(batch.requests));
}

/** One answer to one task of any type (batch with verifySolutions when there are many). */
export const verifySolution = (executor: Executor, task: Task, answer: string): Promise<boolean> =>
  verifySolutions(executor, [{ task, answer }]).then((r) => r[0] === true);
