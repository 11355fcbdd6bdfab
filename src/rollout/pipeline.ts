// The one rollout pipeline: propose a batch, validate it, attempt tasks with n samples each, verify the
// answers. Training (src/selfplay), generate mode, the held-out evaluation, CRUXEval and the ceiling
// benchmark all go through these functions, so a task, a prompt, a decoding constraint or a verdict means
// the same thing wherever it is made.
//
// Each step works on plain slots and fills them in, so a caller can put several batches into one generate
// call or one executor batch (training samples learnability rollouts and its solver batch together):
//
//   planProposals      -> ProposalSlot[]   prompts and requests; references drawn from the pool
//   sampleProposals       .completion       one generate call
//   validateProposals     .verdict          parse, then one executor batch per task type
//   planAttempt        -> AttemptSlot      a task's solver prompt and request for n samples
//   sampleAttempts        .completions, .answers     one generate call; answers parsed
//   verifyAttempts        .correct, .closeness       one executor batch
//
// The pipeline draws nothing at random but what its callers hand it (an Rng per task type, a seed per
// attempt), so a seeded run replays exactly.
import type { Executor, Lang } from '../executor/types.js';
import type { Completion, GenerateRequest, Policy } from '../policy/types.js';
import {
  type AnswerFormat,
  answerConstraint,
  closenessBatch,
  type ProgramForms,
  type ProposalToValidate,
  parseProposal,
  parseSolution,
  proposerPromptShowing,
  type Role,
  solverPrompt,
  type Task,
  type TaskType,
  validateProposals as validateParsed,
  verifySolutions,
} from '../tasks/index.js';
import { type Rng, sampleDistinct } from '../util/rng.js';

export interface SamplingSettings {
  temperature: number;
  topP: number;
  proposerMaxTokens: number;
  solverMaxTokens: number;
}

/**
 * What becomes of a deduction/abduction proposal whose program repeats one its prompt showed or one
 * already known (src/tasks/validate.ts): 'invalid', rejected as `copy` and scored as an invalid proposal;
 * 'unlearnable', rejected as `copy` and scored as a valid task no rollout solved; 'allowed', a task like
 * any other (programs are not compared; runs made before the check existed).
 */
export type CopyTreatment = 'invalid' | 'unlearnable' | 'allowed';

/** What a proposal must pass besides running deterministically (src/tasks/validate.ts). */
export interface ValidationSettings {
  inputProbes: number;
  mutatedProbes: number;
  rejectIdentity: boolean;
  /** Reject a deduction/abduction program whose output text is longer; null: no bound. */
  maxOutputChars: number | null;
  copies: CopyTreatment;
}

/** Everything the pipeline needs to know about a run, built once (src/run/config.ts: rolloutSettingsOf). */
export interface RolloutSettings {
  lang: Lang;
  format: AnswerFormat;
  sampling: SamplingSettings;
  validation: ValidationSettings;
  /** Reference tasks shown to a deduction/abduction proposer (K). */
  references: number;
  /**
   * The policy's context in tokens: proposer prompts drop references to leave room for the completion.
   * null: prompts are never cut (a server model with a long context).
   */
  contextLength: number | null;
  /**
   * How the policy counts a prompt's tokens (a real model's tokenizer, its chat template included). Without
   * it, string length stands in, which is the built-in model's byte count on ASCII prompts and three or
   * four times a BPE model's count: its prompts would drop references they have room for.
   */
  promptTokens?: (prompt: string) => number;
}

/** What became of a proposal. */
export type ProposalVerdict =
  | { kind: 'unparsed'; reason: string }
  | { kind: 'rejected'; reason: string; detail: string }
  | { kind: 'valid'; task: Task };

export interface ProposalSlot {
  type: TaskType;
  prompt: string;
  request: GenerateRequest;
  /** Induction: the buffer task whose program the proposer writes inputs for. */
  subject?: Task;
  /** Deduction/abduction: the reference tasks the prompt shows. */
  references?: Task[];
  completion?: Completion;
  verdict?: ProposalVerdict;
}

export interface AttemptSlot {
  task: Task;
  prompt: string;
  request: GenerateRequest;
  completions: Completion[];
  /** Per completion: the parsed answer, or undefined when the completion did not parse. */
  answers: (string | undefined)[];
  /** Per completion: verified right. */
  correct: boolean[];
  /** Per completion: how near the answer came (src/tasks/closeness.ts), when measured; else 0. */
  closeness: number[];
}

/** The task a valid proposal became, if it did. */
export const validTask = (slot: ProposalSlot): Task | undefined =>
  slot.verdict?.kind === 'valid' ? slot.verdict.task : undefined;

/** Why a proposal did not become a task (`format:<reason>` when it did not parse), or undefined. */
export function rejectionOf(slot: ProposalSlot): string | undefined {
  const v = slot.verdict;
  if (!v || v.kind === 'valid') return undefined;
  return v.kind === 'unparsed' ? `format:${v.reason}` : v.reason;
}

/** What a solver attempt needs of the settings (an evaluation has no proposals to validate). */
export type AttemptSettings = Pick<RolloutSettings, 'format' | 'sampling'>;

/** A request of these settings: the role's token budget and the answer's decoding constraint. */
export function requestFor(
  s: AttemptSettings,
  type: TaskType,
  role: Role,
  lang: Lang,
  prompt: string,
  n: number,
  seed: number,
  program?: string,
): GenerateRequest {
  const req: GenerateRequest = {
    prompt,
    n,
    temperature: s.sampling.temperature,
    topP: s.sampling.topP,
    maxTokens: role === 'proposer' ? s.sampling.proposerMaxTokens : s.sampling.solverMaxTokens,
    seed,
  };
  const constraint = answerConstraint(s.format, type, role, lang, program);
  if (constraint) req.constraint = constraint;
  return req;
}

/**
 * The tasks a proposer of `type` may be shown: deduction and abduction draw from both their buffers
 * (their tasks are the same kind of triplet), induction takes its subject program from any buffer.
 */
export function referencePool(
  buffers: (type: TaskType) => readonly Task[],
  types: readonly TaskType[],
  type: TaskType,
): Task[] {
  if (type === 'induction') return types.flatMap((t) => [...buffers(t)]);
  const same = types.filter((t) => t !== 'induction').flatMap((t) => [...buffers(t)]);
  return same.length ? same : [...buffers(type)];
}

/**
 * `perType` proposer prompts for each type, in type order. Per slot, from that type's Rng: the references
 * (K distinct programs, fewer when the pool has fewer; induction: one subject), then the request's seed.
 * Distinct, and uniform over programs rather than tasks: at the start both buffers hold the identity seed,
 * so a prompt showed it twice, and copies of it were a third of Qwen2.5-Coder-0.5B's rejected deduction
 * and abduction proposals at iteration 0; later, a program the buffer holds many times is not shown more.
 */
export function planProposals(
  s: RolloutSettings,
  buffers: (type: TaskType) => readonly Task[],
  types: readonly TaskType[],
  perType: number,
  rngFor: (type: TaskType) => Rng,
): ProposalSlot[] {
  const slots: ProposalSlot[] = [];
  const room =
    s.contextLength === null ? undefined : Math.max(128, s.contextLength - s.sampling.proposerMaxTokens - 8);
  const budget =
    room === undefined
      ? {}
      : s.promptTokens
        ? { maxTokens: { max: room, count: s.promptTokens } }
        : { maxChars: room };
  for (const type of types) {
    const rng = rngFor(type);
    const pool = referencePool(buffers, types, type);
    if (pool.length === 0) throw new RangeError(`no ${type} reference to show: the buffers are empty`);
    const programs = type === 'induction' ? pool : distinctPrograms(pool);
    for (let i = 0; i < perType; i++) {
      const refs = type === 'induction' ? [rng.pick(pool)] : sampleDistinct(rng, programs, s.references);
      const subject = type === 'induction' ? refs[0] : undefined;
      const { prompt, shown } = proposerPromptShowing(type, s.lang, refs, {
        style: s.format.style,
        inductionInputs: s.format.inductionInputs,
        ...budget,
      });
      const slot: ProposalSlot = {
        type,
        prompt,
        request: requestFor(s, type, 'proposer', s.lang, prompt, 1, rng.seed(), subject?.program),
      };
      if (subject) slot.subject = subject;
      else slot.references = shown;
      slots.push(slot);
    }
  }
  return slots;
}

/** The first task of each program text, in pool order. */
function distinctPrograms(pool: readonly Task[]): Task[] {
  const first = new Map<string, Task>();
  for (const t of pool) if (!first.has(t.program)) first.set(t.program, t);
  return [...first.values()];
}

/** One generate call for every slot's request. */
export async function sampleProposals(
  policy: Pick<Policy, 'generate'>,
  slots: ProposalSlot[],
): Promise<void> {
  const out = await policy.generate(slots.map((s) => s.request));
  slots.forEach((slot, i) => {
    slot.completion = out[i]?.[0] ?? { text: '', finishReason: 'stop' };
  });
}

/** What the new proposals of a task type are compared with: its known tasks (a buffer) and their keys. */
export interface KnownTasks {
  /** The tasks' keys (TaskBuffer.keySet()); grows with each proposal accepted. */
  keys: Set<string>;
  tasks: readonly Task[];
}

/**
 * Parse every proposal, then validate the parsed ones with one executor batch per task type (in
 * parallel; with a copy check, one batch before it for the normal forms not yet in `forms`).
 */
export async function validateProposals(
  executor: Executor,
  s: RolloutSettings,
  slots: ProposalSlot[],
  known: (type: TaskType) => KnownTasks,
  forms: ProgramForms,
): Promise<void> {
  const byType = new Map<TaskType, { slot: ProposalSlot; item: ProposalToValidate }[]>();
  for (const slot of slots) {
    const p = parseProposal(
      slot.type,
      s.lang,
      slot.completion?.text ?? '',
      s.format.style,
      s.format.inductionInputs,
    );
    if (!p.ok) {
      slot.verdict = { kind: 'unparsed', reason: p.reason };
      continue;
    }
    const item: ProposalToValidate = { type: slot.type, lang: s.lang, proposal: p.proposal };
    if (slot.subject) item.subject = slot.subject;
    if (slot.references) item.references = slot.references;
    const list = byType.get(slot.type) ?? [];
    list.push({ slot, item });
    byType.set(slot.type, list);
  }
  const v = s.validation;
  await Promise.all(
    [...byType].map(async ([type, list]) => {
      const { keys, tasks } = known(type);
      const results = await validateParsed(
        executor,
        list.map((x) => x.item),
        keys,
        {
          // The induction minimum counts against the inputs asked for, not the ones written.
          inductionInputs: s.format.inductionInputs,
          probes: v.inputProbes,
          mutatedProbes: v.mutatedProbes,
          rejectIdentity: v.rejectIdentity,
          ...(v.maxOutputChars !== null ? { maxOutputChars: v.maxOutputChars } : {}),
          ...(v.copies !== 'allowed' ? { copies: { forms, known: tasks } } : {}),
        },
      );
      results.forEach((r, k) => {
        const slot = (list[k] as { slot: ProposalSlot }).slot;
        slot.verdict = r.ok
          ? { kind: 'valid', task: r.task }
          : { kind: 'rejected', reason: r.reason, detail: r.detail };
      });
    }),
  );
}

/** A solver attempt at `task`: its prompt and a request for `n` samples. */
export function planAttempt(s: AttemptSettings, task: Task, n: number, seed: number): AttemptSlot {
  const prompt = solverPrompt(task, { style: s.format.style });
  return {
    task,
    prompt,
    request: requestFor(s, task.type, 'solver', task.lang, prompt, n, seed, task.program),
    completions: [],
    answers: [],
    correct: [],
    closeness: [],
  };
}

/** One generate call for every attempt; each completion's answer is parsed. */
export async function sampleAttempts(
  policy: Pick<Policy, 'generate'>,
  s: Pick<RolloutSettings, 'format'>,
  attempts: AttemptSlot[],
): Promise<void> {
  const out = await policy.generate(attempts.map((a) => a.request));
  attempts.forEach((a, i) => {
    a.completions = out[i] ?? [];
    a.answers = a.completions.map((c) => {
      const parsed = parseSolution(a.task.type, a.task.lang, c.text, s.format.style);
      return parsed.ok ? parsed.answer : undefined;
    });
    a.correct = a.completions.map(() => false);
    a.closeness = a.completions.map(() => 0);
  });
}

/**
 * Verify every parsed answer with one executor batch; with `closeness`, also measure how near each wrong
 * answer came (for partial credit), in the same round of executor work.
 */
export async function verifyAttempts(
  executor: Executor,
  attempts: AttemptSlot[],
  opts: { closeness?: boolean } = {},
): Promise<void> {
  const toVerify: { attempt: AttemptSlot; k: number; answer: string }[] = [];
  for (const attempt of attempts)
    attempt.answers.forEach((answer, k) => {
      if (answer !== undefined) toVerify.push({ attempt, k, answer });
    });
  const items = toVerify.map((v) => ({ task: v.attempt.task, answer: v.answer }));
  const closeness = opts.closeness ? closenessBatch(items) : undefined;
  const [verdicts, closenessResults] = await Promise.all([
    verifySolutions(executor, items),
    closeness?.requests.length ? executor.batch(closeness.requests) : Promise.resolve([]),
  ]);
  const scores = closeness?.scores(closenessResults);
  toVerify.forEach((v, i) => {
    v.attempt.correct[v.k] = verdicts[i] === true;
    v.attempt.closeness[v.k] = scores?.[i] ?? 0;
  });
}

/** The share of an attempt's samples that were right. */
export const solveRate = (a: AttemptSlot): number =>
  a.correct.length ? a.correct.filter(Boolean).length / a.correct.length : 0;
