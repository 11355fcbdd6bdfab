// Generate mode: Absolute Zero's propose-validate-solve cycle without the learning step, for policies that
// cannot update weights (a model behind an OpenAI-compatible server). What it makes is a dataset: every
// verified task with the rate at which the same model solved it, the self-made curriculum a user feeds to
// their own trainer.
//
// One round:
//   1. propose   `batch` proposer prompts per task type, each with K references drawn from the buffers
//                (seeded with the identity program; deduction and abduction draw from both their buffers,
//                induction takes one program from any buffer as its subject)
//   2. validate  parse, then the executor: runs, determinism, limits, duplicates
//   3. solve     `rollouts` solver samples per new task from the same model, verified by the executor;
//                solveRate = right / rollouts (learnability = 1 - solveRate when 0 < solveRate < 1)
//   4. write     append the new tasks to the dataset (eval/README.md format plus `solveRate`) with one
//                write, and to the buffers so later proposals see them as references
// Resumable: an existing dataset is read first (its tasks seed the buffers and the duplicate check, and
// count towards the target), and new tasks are appended.
import { existsSync } from 'node:fs';
import type { Executor, Lang } from '../executor/types.js';
import type { GenerateRequest, Policy } from '../policy/types.js';
import {
  fromTaskRecord,
  identityTask,
  keyOf,
  learnabilityReward,
  type PromptStyle,
  type ProposalToValidate,
  parseProposal,
  parseSolution,
  proposerPrompt,
  readTaskFile,
  sampleWithoutReplacement,
  solverPrompt,
  type Task,
  type TaskRecord,
  type TaskType,
  toTaskRecord,
  validateProposals,
  verifySolutions,
} from '../tasks/index.js';
import { appendJsonl } from '../util/jsonl.js';
import { Rng } from '../util/rng.js';

export interface GenerateModeOptions {
  policy: Policy;
  executor: Executor;
  lang: Lang;
  /** The dataset file; created, or appended to. */
  out: string;
  /** Tasks the dataset should hold when done (those already in it count). */
  tasks: number;
  types?: readonly TaskType[];
  /** Solver samples per new task (n). */
  rollouts?: number;
  /** References per proposer prompt (K). */
  references?: number;
  /** Proposer prompts per task type per round. */
  batch?: number;
  /** Stop after this many rounds even when the target is not reached. */
  maxRounds?: number;
  temperature?: number;
  topP?: number;
  proposerMaxTokens?: number;
  solverMaxTokens?: number;
  style?: PromptStyle;
  /** Inputs asked of an induction proposer (N). */
  inductionInputs?: number;
  /** Write only tasks with 0 < solveRate < 1 (learnability > 0). */
  learnableOnly?: boolean;
  seed?: number;
  /** Checked between rounds: true stops after the round in flight. */
  shouldStop?: () => boolean;
  log?: (line: string) => void;
}

export interface GenerateStats {
  rounds: number;
  proposed: number;
  /** Completions that did not parse, by format error. */
  formatErrors: Record<string, number>;
  /** Parsed proposals the executor or the duplicate check refused, by reason. */
  rejected: Record<string, number>;
  valid: number;
  /** Valid tasks left out by learnableOnly. */
  skipped: number;
  written: number;
  /** Tasks in the dataset before this run, and now. */
  before: number;
  total: number;
  /** Mean solve rate of the tasks written in this run (0 when none). */
  meanSolveRate: number;
  /** Written tasks with 0 < solveRate < 1. */
  learnable: number;
  /** Why the run ended. */
  stopped: 'target' | 'max_rounds' | 'stopped';
}

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

export async function runGenerateMode(o: GenerateModeOptions): Promise<GenerateStats> {
  const types = o.types ?? ['deduction', 'abduction', 'induction'];
  const rollouts = o.rollouts ?? 8;
  const K = o.references ?? 6;
  const batch = o.batch ?? 8;
  const maxRounds = o.maxRounds ?? 100;
  const style = o.style ?? 'reference';
  const N = o.inductionInputs ?? 10;
  const log = o.log ?? (() => {});
  if (!Number.isInteger(o.tasks) || o.tasks < 1) throw new RangeError(`tasks must be >= 1, got ${o.tasks}`);
  if (!Number.isInteger(rollouts) || rollouts < 1)
    throw new RangeError(`rollouts must be >= 1, got ${rollouts}`);
  if (types.length === 0) throw new RangeError('give at least one task type');

  // Buffers: the identity program, then whatever the dataset already holds (in this language).
  const buffers = new Map<TaskType, Task[]>(types.map((t) => [t, [identityTask(t, o.lang)]]));
  const seen = new Map<TaskType, Set<string>>(
    types.map((t) => [t, new Set([keyOf(identityTask(t, o.lang))])]),
  );
  const existing = existsSync(o.out) ? readTaskFile(o.out) : [];
  for (const r of existing) {
    if (r.lang !== o.lang || !buffers.has(r.type)) continue;
    const task = fromTaskRecord(r);
    buffers.get(r.type)?.push(task);
    seen.get(r.type)?.add(keyOf(task));
  }
  const usedIds = new Set(existing.map((r) => r.id).filter((id): id is string => id !== undefined));
  const stats: GenerateStats = {
    rounds: 0,
    proposed: 0,
    formatErrors: {},
    rejected: {},
    valid: 0,
    skipped: 0,
    written: 0,
    before: existing.length,
    total: existing.length,
    meanSolveRate: 0,
    learnable: 0,
    stopped: 'target',
  };
  let solveRateSum = 0;
  // A resumed run continues from a different point of the stream than a fresh one.
  const rng = new Rng((o.seed ?? 0) + 1_000_003 * existing.length);
  const request = (prompt: string, n: number, maxTokens: number): GenerateRequest => ({
    prompt,
    n,
    temperature: o.temperature ?? 1,
    topP: o.topP ?? 1,
    maxTokens,
    seed: rng.seed(),
  });
  const programPool = (type: TaskType): Task[] => {
    if (type === 'induction') return types.flatMap((t) => buffers.get(t) ?? []);
    const same = types.filter((t) => t !== 'induction').flatMap((t) => buffers.get(t) ?? []);
    return same.length ? same : (buffers.get(type) ?? []);
  };

  while (stats.total < o.tasks) {
    if (stats.rounds >= maxRounds) {
      stats.stopped = 'max_rounds';
      break;
    }
    if (o.shouldStop?.()) {
      stats.stopped = 'stopped';
      break;
    }
    stats.rounds++;

    // 1. propose
    const slots: { type: TaskType; subject?: Task }[] = [];
    const proposeReqs: GenerateRequest[] = [];
    for (const type of types) {
      for (let i = 0; i < batch; i++) {
        const pool = programPool(type);
        const refs = type === 'induction' ? [rng.pick(pool)] : sampleWithoutReplacement(rng, pool, K);
        slots.push(type === 'induction' ? { type, subject: refs[0] as Task } : { type });
        const prompt = proposerPrompt(type, o.lang, refs, { style, inductionInputs: N });
        proposeReqs.push(request(prompt, 1, o.proposerMaxTokens ?? 2048));
      }
    }
    const proposals = await o.policy.generate(proposeReqs);
    stats.proposed += slots.length;

    // 2. validate (one executor batch per type, so each type's duplicate check sees its own tasks)
    const newTasks: Task[] = [];
    for (const type of types) {
      const items: ProposalToValidate[] = [];
      slots.forEach((s, k) => {
        if (s.type !== type) return;
        const p = parseProposal(type, o.lang, proposals[k]?.[0]?.text ?? '', style, N);
        if (!p.ok) {
          bump(stats.formatErrors, p.reason);
          return;
        }
        const item: ProposalToValidate = { type, lang: o.lang, proposal: p.proposal };
        if (s.subject) item.subject = s.subject;
        items.push(item);
      });
      if (items.length === 0) continue;
      const results = await validateProposals(o.executor, items, seen.get(type) as Set<string>, {
        inductionInputs: N,
      });
      for (const r of results) {
        if (r.ok) newTasks.push(r.task);
        else bump(stats.rejected, r.reason);
      }
    }
    stats.valid += newTasks.length;

    // 3. solve: n rollouts per new task
    const rates: number[] = [];
    if (newTasks.length > 0) {
      const solveReqs = newTasks.map((t) =>
        request(solverPrompt(t, { style }), rollouts, o.solverMaxTokens ?? 1024),
      );
      const answers = await o.policy.generate(solveReqs);
      const toVerify: { task: Task; answer: string; index: number }[] = [];
      newTasks.forEach((task, i) => {
        for (const c of answers[i] ?? []) {
          const s = parseSolution(task.type, task.lang, c.text, style);
          if (s.ok) toVerify.push({ task, answer: s.answer, index: i });
        }
      });
      const verdicts = await verifySolutions(o.executor, toVerify);
      const right = new Array<number>(newTasks.length).fill(0);
      toVerify.forEach((v, k) => {
        if (verdicts[k]) right[v.index] = (right[v.index] as number) + 1;
      });
      for (const r of right) rates.push(r / rollouts);
    }

    // 4. write: new tasks join the buffers (as references) and the dataset
    const records: TaskRecord[] = [];
    for (const [i, task] of newTasks.entries()) {
      const solveRate = rates[i] as number;
      buffers.get(task.type)?.push(task);
      if (o.learnableOnly && learnabilityReward(solveRate) === 0) {
        stats.skipped++;
        continue;
      }
      if (stats.total + records.length >= o.tasks) break;
      let n = stats.total + records.length;
      let id = `${o.lang}-${task.type}-${n}`;
      while (usedIds.has(id)) id = `${o.lang}-${task.type}-${++n}`;
      usedIds.add(id);
      records.push(toTaskRecord({ ...task, id }, { solveRate }));
      solveRateSum += solveRate;
      if (learnabilityReward(solveRate) > 0) stats.learnable++;
    }
    appendJsonl(o.out, records, true);
    stats.written += records.length;
    stats.total += records.length;
    stats.meanSolveRate = stats.written ? solveRateSum / stats.written : 0;
    const fmt = Object.values(stats.formatErrors).reduce((a, b) => a + b, 0);
    const rej = Object.values(stats.rejected).reduce((a, b) => a + b, 0);
    log(
      `round ${stats.rounds}: ${slots.length} proposed, ${newTasks.length} valid, ${records.length} written` +
        ` (${stats.total}/${o.tasks} in the dataset) | so far: ${fmt} unparsed, ${rej} rejected,` +
        ` mean solve rate ${stats.meanSolveRate.toFixed(2)}, ${stats.learnable} learnable`,
    );
  }
  return stats;
}
