// Turning parsed proposals into verified tasks, or into counted rejections. All executor work of a batch
// goes out in one executor.batch call.
import type { AnyExecResult, ExecRequest, Executor, FailureKind, Lang } from '../executor/types.js';
import { taskKey } from './normalize.js';
import type { Proposal } from './parse.js';
import type { IOPair, Task, TaskType } from './types.js';

export type RejectionReason = FailureKind | 'duplicate' | 'too_few_inputs';

export type Validation = { ok: true; task: Task } | { ok: false; reason: RejectionReason; detail: string };

export interface ProposalToValidate {
  type: TaskType;
  lang: Lang;
  proposal: Proposal;
  /** Induction: the buffer task whose program the proposer wrote inputs for. */
  subject?: Task;
}

export interface ValidateOptions {
  /** Runs that must agree (the reference uses 2). */
  runs?: number;
  /** Induction: valid, distinct inputs needed to keep the task (default: half of those asked, at least 2). */
  minInductionInputs?: number;
}

function requestsFor(item: ProposalToValidate, runs: number): ExecRequest[] {
  const { lang, proposal } = item;
  if (proposal.kind === 'program')
    return [{ op: 'check', lang, program: proposal.program, input: proposal.input, runs }];
  const program = item.subject?.program ?? '';
  return proposal.inputs.map((input) => ({ op: 'check' as const, lang, program, input, runs }));
}

/** Known tasks are skipped as duplicates; `seen` (task keys) grows with every task accepted here. */
export async function validateProposals(
  executor: Executor,
  items: readonly ProposalToValidate[],
  seen: Set<string>,
  opts: ValidateOptions = {},
): Promise<Validation[]> {
  const runs = opts.runs ?? 2;
  const perItem = items.map((item) => requestsFor(item, runs));
  const results = await executor.batch(perItem.flat());
  let at = 0;
  return items.map((item, i) => {
    const n = (perItem[i] as ExecRequest[]).length;
    const mine = results.slice(at, at + n);
    at += n;
    return judge(item, mine, seen, opts);
  });
}

function judge(
  item: ProposalToValidate,
  results: AnyExecResult[],
  seen: Set<string>,
  opts: ValidateOptions,
): Validation {
  const { type, lang, proposal } = item;
  if (proposal.kind === 'program') {
    const r = results[0];
    if (!r || !('output' in r) || !r.ok) {
      const f = r && !r.ok ? r : { kind: 'runtime' as const, message: 'no result' };
      return { ok: false, reason: f.kind, detail: f.message };
    }
    const key = taskKey(lang, proposal.program, proposal.input);
    if (seen.has(key))
      return { ok: false, reason: 'duplicate', detail: 'this program and input are already in the buffer' };
    seen.add(key);
    return {
      ok: true,
      task: { type, lang, program: proposal.program, input: proposal.input, output: r.output },
    };
  }
  const subject = item.subject;
  if (!subject)
    return { ok: false, reason: 'no_entry', detail: 'an induction proposal needs its subject program' };
  const pairs: IOPair[] = [];
  const inputsSeen = new Set<string>();
  let firstFailure: { kind: FailureKind; message: string } | null = null;
  proposal.inputs.forEach((input, k) => {
    const r = results[k];
    if (r && 'output' in r && r.ok) {
      if (!inputsSeen.has(input)) {
        inputsSeen.add(input);
        pairs.push({ input, output: r.output });
      }
    } else if (r && !r.ok && !firstFailure) firstFailure = { kind: r.kind, message: r.message };
  });
  const need = opts.minInductionInputs ?? Math.max(2, Math.ceil(proposal.inputs.length / 2));
  if (pairs.length < need) {
    const why = firstFailure as { kind: FailureKind; message: string } | null;
    return {
      ok: false,
      reason: 'too_few_inputs',
      detail: `${pairs.length} valid distinct inputs, need ${need}${why ? ` (first failure: ${why.kind}: ${why.message})` : ''}`,
    };
  }
  const key = taskKey(lang, subject.program, pairs.map((p) => p.input).join('\u0001'));
  if (seen.has(key))
    return {
      ok: false,
      reason: 'duplicate',
      detail: 'these inputs for this program are already in the buffer',
    };
  seen.add(key);
  const half = Math.ceil(pairs.length / 2);
  const shown = pairs.slice(0, half);
  const hidden = pairs.slice(half);
  const first = pairs[0] as IOPair;
  return {
    ok: true,
    task: {
      type,
      lang,
      program: subject.program,
      input: first.input,
      output: first.output,
      message: proposal.message,
      shown,
      hidden,
    },
  };
}
