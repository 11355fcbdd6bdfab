// Turning parsed proposals into verified tasks, or into counted rejections. All executor work of a batch
// goes out in one executor.batch call.
//
// A deduction or abduction proposal is valid when the executor's `check` passes (size limits, the static
// policy: no banned modules or names, exactly one top-level function f; the input is a literal argument
// list; `runs` runs agree; the output is within limits) and it is not a duplicate. An induction proposal
// runs each input on the subject program; it is kept when enough inputs ran and are distinct, and its
// pairs are split into shown and hidden halves. Rejection reasons are the executor's failure kinds plus
// 'duplicate', 'copy' and 'too_few_inputs' (format errors are found earlier, by parse.ts).
//
// A duplicate repeats a known task: program and input. With `copies`, a deduction or abduction proposal
// whose program alone repeats one (in normal form, programs.ts: the same program up to comments, layout
// and the names of its variables) is a 'copy': of one of the references its prompt showed, of a known
// task, or of a program accepted earlier in the batch. The proposers of both runs from a pretrained base
// collapsed onto one program that way, a new input each time (docs/results.md). Duplicates and copies are
// not run.
//
// Optionally (`probes`), a deduction or abduction program is also run on the inputs of other proposals of
// the batch; when every probe that runs gives the same output as the program's own input, the program
// ignores its input (`def f(a): return 40`) and is rejected as 'ignores_input'. A small model drifts to
// such programs because they are easy to make valid and to solve, and solving them teaches nothing about
// running code (docs/results.md). A probe that fails (wrong arity or type) is no evidence either way, and
// a program none of whose probes run is kept. With `rejectIdentity` as well, a program that returns one of
// its arguments unchanged on its own input and on every probe that runs is rejected as 'returns_input':
// under masked updates the proposer drifted to dressed-up copies of the identity seed (`y = x; return x`),
// and with one-line programs to `def f(a, b): return a`, valid and solvable by echoing, and as useless for
// learning to run code as a constant.
import type {
  AnyExecResult,
  ExecRequest,
  ExecSuccess,
  Executor,
  FailureKind,
  Lang,
} from '../executor/types.js';
import { normalizeInput, taskKey } from './normalize.js';
import type { Proposal } from './parse.js';
import type { ProgramForms } from './programs.js';
import type { IOPair, Task, TaskType } from './types.js';

export type RejectionReason =
  | FailureKind
  | 'duplicate'
  | 'copy'
  | 'too_few_inputs'
  | 'ignores_input'
  | 'returns_input'
  | 'output_too_long';

export type Validation = { ok: true; task: Task } | { ok: false; reason: RejectionReason; detail: string };

export interface ProposalToValidate {
  type: TaskType;
  lang: Lang;
  proposal: Proposal;
  /** Induction: the buffer task whose program the proposer wrote inputs for. */
  subject?: Task;
  /** Deduction/abduction: the tasks its prompt showed (a program repeating one's is a copy). */
  references?: readonly Task[];
}

/** What a proposal's program is compared with (see the file comment). */
export interface CopyCheck {
  forms: ProgramForms;
  /** The known tasks of the proposals' type (a buffer). */
  known: readonly Task[];
}

export interface ValidateOptions {
  /** Runs that must agree (the reference uses 2). */
  runs?: number;
  /** Induction: the number of inputs the proposer was asked for (N); sets the default minimum below. */
  inductionInputs?: number;
  /**
   * Induction: valid, distinct inputs needed to keep the task. Default: half of N (or, without N, half of
   * the inputs given), and never fewer than 2, so that both the shown and the hidden half are non-empty.
   */
  minInductionInputs?: number;
  /**
   * Deduction/abduction: other inputs each program is run on, taken from the other proposals of the batch
   * (at most this many per program, distinct from its own input); 0 or absent turns the check off.
   */
  probes?: number;
  /**
   * Deduction/abduction: also run each program on this many variants of its own input with every
   * argument changed and its type kept (`mutatedInputs`). A neighbour's input often has another type or
   * arity, and a probe that fails is no evidence, so two-parameter programs were seldom really probed.
   */
  mutatedProbes?: number;
  /** With probes: reject programs that return their input unchanged on every input tried. */
  rejectIdentity?: boolean;
  /**
   * Deduction/abduction: reject a program whose output's canonical text is longer than this. A valid
   * 30-element list is a task no cold-start rollout ever answers, so it earns the proposer nothing.
   */
  maxOutputChars?: number;
  /** Deduction/abduction: reject copies (see the file comment); absent, only whole tasks are compared. */
  copies?: CopyCheck;
}

/**
 * Induction: the valid, distinct inputs a proposal asked for `asked` must give by default: half, and never
 * fewer than 2, so that both the shown and the hidden half are non-empty.
 */
export function inductionInputsNeeded(asked: number): number {
  return Math.max(2, Math.ceil(asked / 2));
}

/** The deduplication key a proposal would have as a task (induction: before invalid inputs are dropped). */
function proposalKey(item: ProposalToValidate): string | undefined {
  const { lang, proposal } = item;
  if (proposal.kind === 'program') return taskKey(lang, proposal.program, proposal.input);
  return undefined; // known only after running: the key is over the valid inputs
}

function requestsFor(item: ProposalToValidate, runs: number, probes: readonly string[]): ExecRequest[] {
  const { lang, proposal } = item;
  if (proposal.kind === 'program')
    return [
      { op: 'check', lang, program: proposal.program, input: proposal.input, runs },
      ...probes.map((input) => ({ op: 'run' as const, lang, program: proposal.program, input })),
    ];
  if (!item.subject) return [];
  const program = item.subject.program;
  return proposal.inputs.map((input) => ({ op: 'check' as const, lang, program, input, runs }));
}

/**
 * Validate a batch of parsed proposals with one executor.batch call. `seen` holds the keys of known tasks
 * (TaskBuffer.keySet()); a proposal already in it is a duplicate and is not run at all, and `seen` grows
 * with every task accepted here, so a batch cannot accept the same task twice.
 */
export async function validateProposals(
  executor: Executor,
  items: readonly ProposalToValidate[],
  seen: Set<string>,
  opts: ValidateOptions = {},
): Promise<Validation[]> {
  const runs = opts.runs ?? 2;
  const known = items.map((item) => {
    const key = proposalKey(item);
    return key !== undefined && seen.has(key);
  });
  const copies = opts.copies ? await findCopies(items, opts.copies) : undefined;
  const skip = items.map((_, i) => known[i] || copies?.copyOf[i] !== undefined);
  const probes = probeInputs(items, opts.probes ?? 0, opts.mutatedProbes ?? 0);
  const perItem = items.map((item, i) => (skip[i] ? [] : requestsFor(item, runs, probes[i] as string[])));
  const results = perItem.some((r) => r.length > 0) ? await executor.batch(perItem.flat()) : [];
  // Normal forms of the programs accepted so far in this batch -> the proposal's number.
  const accepted = new Map<string, number>();
  let at = 0;
  return items.map((item, i) => {
    const n = (perItem[i] as ExecRequest[]).length;
    const mine = results.slice(at, at + n);
    at += n;
    if (known[i]) return DUPLICATE;
    const copyOf = copies?.copyOf[i];
    if (copyOf !== undefined) return { ok: false, reason: 'copy', detail: copyOf };
    const form = copies?.forms[i];
    // Asked last, when the proposal would otherwise be accepted.
    const batchCopy = (): string | undefined => {
      if (form === undefined) return undefined;
      const earlier = accepted.get(form);
      if (earlier !== undefined) return `the program repeats proposal ${earlier + 1} of this batch`;
      accepted.set(form, i);
      return undefined;
    };
    return judge(item, mine, seen, opts, probes[i], batchCopy);
  });
}

/** A program in a rejection's detail: its text as a JSON string, cut to 160 characters. */
const quoted = (program: string) =>
  JSON.stringify(program.length > 160 ? `${program.slice(0, 160)}...` : program);

/**
 * The normal form of each program proposal (undefined for induction, and for a program that does not
 * parse) and, for a copy, what it repeats: one executor batch for the forms not yet known.
 */
async function findCopies(
  items: readonly ProposalToValidate[],
  check: CopyCheck,
): Promise<{ forms: (string | undefined)[]; copyOf: (string | undefined)[] }> {
  const forms: (string | undefined)[] = items.map(() => undefined);
  const copyOf: (string | undefined)[] = items.map(() => undefined);
  for (const lang of new Set(items.map((it) => it.lang))) {
    const mine = items.flatMap((it, i) =>
      it.lang === lang && it.proposal.kind === 'program'
        ? [{ i, program: it.proposal.program, refs: (it.references ?? []).filter((t) => t.lang === lang) }]
        : [],
    );
    if (mine.length === 0) continue;
    const known = check.known.filter((t) => t.lang === lang);
    const refs = mine.flatMap((m) => m.refs);
    const all = await check.forms.of(lang, [
      ...mine.map((m) => m.program),
      ...refs.map((t) => t.program),
      ...known.map((t) => t.program),
    ]);
    const knownForms = new Map<string, Task>();
    known.forEach((t, k) => {
      const f = all[mine.length + refs.length + k];
      if (f !== undefined && !knownForms.has(f)) knownForms.set(f, t);
    });
    let at = mine.length; // where this proposal's references' forms start
    for (const [n, m] of mine.entries()) {
      const f = all[n];
      const refForms = all.slice(at, at + m.refs.length);
      at += m.refs.length;
      if (f === undefined) continue; // no form (it does not parse, or the request failed): not compared
      forms[m.i] = f;
      const k = refForms.indexOf(f);
      const task = knownForms.get(f);
      if (k >= 0)
        copyOf[m.i] =
          `the program repeats reference ${k + 1} of its prompt: ${quoted((m.refs[k] as Task).program)}`;
      else if (task) copyOf[m.i] = `the program repeats a known ${task.type} task's: ${quoted(task.program)}`;
    }
  }
  return { forms, copyOf };
}

/**
 * For each program proposal, up to `max` inputs of the batch's other program proposals in the same
 * language, distinct from its own and from each other, taken in a rotating order so that every proposal
 * is probed by different neighbours.
 */
function probeInputs(items: readonly ProposalToValidate[], max: number, mutated: number): string[][] {
  const inputs = items.map((it) =>
    it.proposal.kind === 'program' ? normalizeInput(it.lang, it.proposal.input) : undefined,
  );
  return items.map((item, i) => {
    if ((max <= 0 && mutated <= 0) || item.proposal.kind !== 'program') return [];
    const own = inputs[i] as string;
    const picked = new Set<string>();
    const out: string[] = [];
    for (const m of mutatedInputs(item.lang, item.proposal.input, mutated)) {
      if (m === own || picked.has(m)) continue;
      picked.add(m);
      out.push(m);
    }
    const batchMax = out.length + max;
    for (let d = 1; d < items.length && out.length < batchMax; d++) {
      const j = (i + d) % items.length;
      const other = items[j] as ProposalToValidate;
      const norm = inputs[j];
      if (norm === undefined || other.lang !== item.lang || norm === own || picked.has(norm)) continue;
      picked.add(norm);
      out.push((other.proposal as { input: string }).input);
    }
    return out;
  });
}

/** The arguments of a normalized argument list (no spacing outside strings), split at top-level commas. */
export function topLevelArgs(input: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  let quote: string | undefined;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '(' || c === '{') depth++;
    else if (c === ']' || c === ')' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(input.slice(from, i));
      from = i + 1;
    }
  }
  out.push(input.slice(from));
  return out;
}

/**
 * Up to `count` variants of an argument list with every argument changed and its literal type kept
 * (integers, strings, lists; k = 1, 2, ...: n+1 and -n-2, a letter appended or the text reversed behind
 * one, an element appended or prepended). Empty when an argument is of another kind. Normalized text.
 */
export function mutatedInputs(lang: Lang, input: string, count: number): string[] {
  const args = topLevelArgs(normalizeInput(lang, input));
  const out: string[] = [];
  for (let k = 1; k <= count; k++) {
    const changed = args.map((a) => mutateLiteral(a, k));
    if (changed.some((c) => c === undefined)) return [];
    out.push(changed.join(','));
  }
  return out;
}

function mutateLiteral(a: string, k: number): string | undefined {
  if (/^-?[0-9]+$/.test(a)) {
    const n = Number(a);
    return String(k % 2 === 1 ? n + k : -n - k);
  }
  const q = a[0];
  if ((q === "'" || q === '"') && a.length >= 2 && a.endsWith(q)) {
    const body = a.slice(1, -1);
    if (body.includes('\\')) return undefined;
    const letter = 'ewk'[(k - 1) % 3] as string;
    return k % 2 === 1 ? `${q}${body}${letter}${q}` : `${q}${letter}${[...body].reverse().join('')}${q}`;
  }
  if (a.startsWith('[') && a.endsWith(']')) {
    const inner = a.slice(1, -1);
    const x = String(k % 2 === 1 ? k : -k - 1);
    if (inner === '') return `[${x}]`;
    return k % 2 === 1 ? `[${inner},${x}]` : `[${x},${inner}]`;
  }
  return undefined;
}

const DUPLICATE: Validation = {
  ok: false,
  reason: 'duplicate',
  detail: 'this program and input are already in the buffer',
};

function judge(
  item: ProposalToValidate,
  results: AnyExecResult[],
  seen: Set<string>,
  opts: ValidateOptions,
  /** The probe inputs, in the order of their results after results[0]. */
  probes?: readonly string[],
  /** Why the program is a copy of one accepted earlier in the batch, if it is (asked last). */
  batchCopy?: () => string | undefined,
): Validation {
  const { type, lang, proposal } = item;
  if (proposal.kind === 'program') {
    const r = results[0];
    if (!r || !('output' in r) || !r.ok) {
      const f = r && !r.ok ? r : { kind: 'runtime' as const, message: 'no result' };
      return { ok: false, reason: f.kind, detail: f.message };
    }
    if (opts.maxOutputChars !== undefined && r.output.length > opts.maxOutputChars)
      return {
        ok: false,
        reason: 'output_too_long',
        detail: `the output has ${r.output.length} characters, more than ${opts.maxOutputChars}`,
      };
    const key = taskKey(lang, proposal.program, proposal.input);
    if (seen.has(key)) return DUPLICATE;
    const probeTexts = probes ?? [];
    const ran = results
      .slice(1)
      .map((p, k) => ({ p, input: probeTexts[k] as string }))
      .filter((x): x is { p: ExecSuccess; input: string } => 'output' in x.p && x.p.ok);
    if (ran.length > 0 && ran.every(({ p }) => p.output === r.output))
      return {
        ok: false,
        reason: 'ignores_input',
        detail: `f gives ${r.output} on its input and on ${ran.length} other input(s)`,
      };
    // The output's canonical text against each argument's literal, all without cosmetic spacing.
    const echoes = (input: string, output: string) =>
      topLevelArgs(normalizeInput(lang, input)).includes(normalizeInput(lang, output));
    if (
      opts.rejectIdentity &&
      ran.length > 0 &&
      echoes(proposal.input, r.output) &&
      ran.every(({ p, input }) => echoes(input, p.output))
    )
      return {
        ok: false,
        reason: 'returns_input',
        detail: `f returns an argument unchanged on its input and on ${ran.length} other input(s)`,
      };
    const copy = batchCopy?.();
    if (copy !== undefined) return { ok: false, reason: 'copy', detail: copy };
    seen.add(key);
    return {
      ok: true,
      task: { type, lang, program: proposal.program, input: proposal.input, output: r.output },
    };
  }
  const subject = item.subject;
  if (!subject)
    return { ok: false, reason: 'no_entry', detail: 'an induction proposal needs its subject program' };
  // Keep each input that ran, once (inputs that differ only in spacing are the same input).
  const pairs: IOPair[] = [];
  const inputsSeen = new Set<string>();
  let firstFailure: { kind: FailureKind; message: string } | undefined;
  proposal.inputs.forEach((input, k) => {
    const r = results[k];
    if (r && 'output' in r && r.ok) {
      const norm = normalizeInput(lang, input);
      if (!inputsSeen.has(norm)) {
        inputsSeen.add(norm);
        pairs.push({ input, output: r.output });
      }
    } else if (r && !r.ok && !firstFailure) firstFailure = { kind: r.kind, message: r.message };
  });
  const asked = opts.inductionInputs ?? proposal.inputs.length;
  const need = opts.minInductionInputs ?? inductionInputsNeeded(asked);
  if (pairs.length < need) {
    const why = firstFailure ? ` (first failure: ${firstFailure.kind}: ${firstFailure.message})` : '';
    return {
      ok: false,
      reason: 'too_few_inputs',
      detail: `${pairs.length} valid distinct inputs, need ${need}${why}`,
    };
  }
  const key = taskKey(
    lang,
    subject.program,
    pairs.map((p) => p.input),
  );
  if (seen.has(key))
    return {
      ok: false,
      reason: 'duplicate',
      detail: 'these inputs for this program are already in the buffer',
    };
  seen.add(key);
  const { shown, hidden } = splitPairs(pairs);
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

/**
 * The induction split, deterministic: the first half of the pairs (rounded up) is shown to the solver, the
 * rest are the hidden tests. Proposals keep the proposer's order, so the proposer decides which inputs
 * reveal the function and which test it.
 */
export function splitPairs(pairs: readonly IOPair[]): { shown: IOPair[]; hidden: IOPair[] } {
  const half = Math.ceil(pairs.length / 2);
  return { shown: pairs.slice(0, half), hidden: pairs.slice(half) };
}
