// One Absolute Zero iteration, in four phases so that every random draw happens in a fixed order and a
// run is reproducible from its seed:
//   1. propose    one generate call: a proposer prompt per slot and task type (K references from the buffers)
//   2. validate   one executor batch per task type (in parallel): proposals -> tasks or counted rejections
//   3. solve      one generate call: n learnability rollouts per new task, and the solver batch (new tasks
//                 padded with buffer tasks); then one executor batch verifies every answer
//   4. learn      rewards, TRR++ advantages over the six (type x role) groups, one policy update; new tasks
//                 are appended to the buffers
// The solver learns from the solver batch and from the learnability rollouts: both are verified answers to
// real tasks, and using the rollouts multiplies the solver's signal at no extra sampling cost.
import type { Executor } from '../executor/types.js';
import { constraintName, programArity } from '../grammar/index.js';
import type { Completion, GenerateRequest, Policy, TrainingSample } from '../policy/types.js';
import { trrAdvantages } from '../rl/trrpp.js';
import type { SelfPlayConfig } from '../run/config.js';
import { appendMetrics, type IterationMetrics, type SampleRecord, type TypeMetrics } from '../run/metrics.js';
import type { RunDir } from '../run/rundir.js';
import {
  closenessBatch,
  groupKey,
  normalizeProgram,
  type ProposalToValidate,
  parseProposal,
  parseSolution,
  proposerFinalReward,
  proposerPrompt,
  solverFinalReward,
  solverPrompt,
  type Task,
  type TaskBuffer,
  type TaskType,
  validateProposals,
  verifySolutions,
  WRONG_PENALTY,
} from '../tasks/index.js';
import { appendJsonl } from '../util/jsonl.js';
import type { Rng } from '../util/rng.js';
import type { IterationContext, IterationOutcome, IterationRunner } from './loop.js';
import { formatProgressLine } from './progress.js';

export interface IterationEnv {
  config: SelfPlayConfig;
  policy: Policy;
  executor: Executor;
  buffers: Record<TaskType, TaskBuffer>;
  dir: RunDir;
}

interface ProposalSlot {
  type: TaskType;
  prompt: string;
  subject?: Task;
  completion?: Completion;
  parsed: boolean;
  formatReason?: string;
  valid?: Task;
  rejection?: string;
  solveRate?: number;
  /** Mean closeness of the learnability rollouts (a right answer counts 1, an unparsed one 0). */
  closeness?: number;
  reward?: number;
}

interface SolveSlot {
  type: TaskType;
  task: Task;
  prompt: string;
  /** Index of the proposal whose learnability this rollout measures, if any. */
  proposal?: number;
  completions: Completion[];
  correct: boolean[];
  parsed: boolean[];
  /** How near each answer came (measured only when either role has partial credit; else 0). */
  closeness: number[];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function makeIterationRunner(env: IterationEnv): IterationRunner {
  const { config, policy, executor, buffers, dir } = env;
  const sp = config.selfplay;
  const lang = config.lang;
  const style = sp.promptStyle;
  // Prompts must leave room for the completion in the model's context (bytes ~ tokens here).
  const promptBudget = (maxTokens: number) => Math.max(128, config.model.contextLength - maxTokens - 8);
  /** A sampling request of this run's settings; the grammar for (type, role) when decoding is constrained. */
  const request = (
    type: TaskType,
    role: 'proposer' | 'solver',
    prompt: string,
    n: number,
    seed: number,
    program?: string,
  ): GenerateRequest => {
    const req: GenerateRequest = {
      prompt,
      n,
      temperature: config.sampling.temperature,
      topP: config.sampling.topP,
      maxTokens: role === 'proposer' ? config.sampling.proposerMaxTokens : config.sampling.solverMaxTokens,
      seed,
    };
    if (sp.constrainedDecoding) {
      const arity = sp.matchArity && program !== undefined ? programArity(program) : undefined;
      req.constraint = constraintName(type, role, lang, {
        inductionInputs: sp.inductionInputs,
        ...(arity ? { arity } : {}),
        returnOnly: sp.returnOnly,
        exprDepth: sp.exprDepth,
        shortInputs: sp.shortInputs,
        boolReturns: sp.boolReturns,
      });
    }
    return req;
  };

  const referencePool = (type: TaskType): Task[] => {
    if (type === 'induction') {
      // Any program in any buffer can be the subject of an induction task.
      return sp.taskTypes.flatMap((t) => [...buffers[t].all()]);
    }
    const same = sp.taskTypes.filter((t) => t !== 'induction').flatMap((t) => [...buffers[t].all()]);
    return same.length ? same : [...buffers[type].all()];
  };

  return async (ctx: IterationContext): Promise<IterationOutcome> => {
    const t0 = performance.now();
    const execsBefore = executor.executions;
    let genMs = 0;
    let genTokens = 0;
    let execMs = 0;
    const generate = async (reqs: GenerateRequest[]) => {
      const g0 = performance.now();
      const out = await policy.generate(reqs);
      genMs += performance.now() - g0;
      for (const cs of out) for (const c of cs) genTokens += c.tokenIds?.length ?? 0;
      return out;
    };
    const timedExec = async <T>(p: Promise<T>) => {
      const e0 = performance.now();
      const r = await p;
      execMs += performance.now() - e0;
      return r;
    };
    const rngs = new Map<TaskType, Rng>(sp.taskTypes.map((t) => [t, ctx.rng.fork()]));

    // 1. propose
    const proposals: ProposalSlot[] = [];
    const proposeReqs: GenerateRequest[] = [];
    for (const type of sp.taskTypes) {
      const rng = rngs.get(type) as Rng;
      const pool = referencePool(type);
      for (let i = 0; i < sp.proposerBatch; i++) {
        const refs =
          type === 'induction'
            ? [rng.pick(pool)]
            : Array.from({ length: sp.references }, () => rng.pick(pool));
        const slot: ProposalSlot = {
          type,
          prompt: proposerPrompt(type, lang, refs, {
            style,
            maxChars: promptBudget(config.sampling.proposerMaxTokens),
            inductionInputs: sp.inductionInputs,
          }),
          parsed: false,
        };
        if (type === 'induction') slot.subject = refs[0] as Task;
        proposals.push(slot);
        proposeReqs.push(request(type, 'proposer', slot.prompt, 1, rng.seed(), slot.subject?.program));
      }
    }
    const proposed = await generate(proposeReqs);

    // 2. validate
    const toValidate = new Map<TaskType, { slot: number; item: ProposalToValidate }[]>();
    proposals.forEach((slot, i) => {
      slot.completion = proposed[i]?.[0] as Completion;
      const p = parseProposal(slot.type, lang, slot.completion.text, style, sp.inductionInputs);
      if (!p.ok) {
        slot.formatReason = p.reason;
        return;
      }
      slot.parsed = true;
      const item: ProposalToValidate = { type: slot.type, lang, proposal: p.proposal };
      if (slot.subject) item.subject = slot.subject;
      const list = toValidate.get(slot.type) ?? [];
      list.push({ slot: i, item });
      toValidate.set(slot.type, list);
    });
    await timedExec(
      Promise.all(
        [...toValidate].map(async ([type, list]) => {
          // The induction minimum counts against the inputs asked for, not the ones written.
          const results = await validateProposals(
            executor,
            list.map((x) => x.item),
            buffers[type].keySet(),
            {
              inductionInputs: sp.inductionInputs,
              probes: sp.inputProbes,
              mutatedProbes: sp.mutatedProbes,
              rejectIdentity: sp.rejectIdentity,
              ...(sp.maxOutputChars !== null ? { maxOutputChars: sp.maxOutputChars } : {}),
            },
          );
          results.forEach((r, k) => {
            const slot = proposals[(list[k] as { slot: number }).slot] as ProposalSlot;
            if (r.ok) slot.valid = r.task;
            else slot.rejection = r.reason;
          });
        }),
      ),
    );

    // 3. solve: learnability rollouts for new tasks, and the solver batch
    const solves: SolveSlot[] = [];
    const solveReqs: GenerateRequest[] = [];
    const addSolve = (type: TaskType, task: Task, n: number, rng: Rng, proposal?: number) => {
      const prompt = solverPrompt(task, { style });
      const slot: SolveSlot = { type, task, prompt, completions: [], correct: [], parsed: [], closeness: [] };
      if (proposal !== undefined) slot.proposal = proposal;
      solves.push(slot);
      solveReqs.push(request(type, 'solver', prompt, n, rng.seed(), task.program));
    };
    for (const type of sp.taskTypes) {
      const rng = rngs.get(type) as Rng;
      const fresh = proposals.map((p, i) => ({ p, i })).filter(({ p }) => p.type === type && p.valid);
      for (const { p, i } of fresh) addSolve(type, p.valid as Task, sp.learnabilityRollouts, rng, i);
      // Solver batch: the new tasks first, padded with tasks drawn from the buffer.
      const batch = fresh.slice(0, sp.solverBatch).map(({ p }) => p.valid as Task);
      while (batch.length < sp.solverBatch) batch.push(rng.pick(buffers[type].all()));
      for (const task of batch) addSolve(type, task, 1, rng);
    }
    const solved = await generate(solveReqs);
    const toVerify: { slot: SolveSlot; k: number; answer: string }[] = [];
    solves.forEach((slot, i) => {
      slot.completions = solved[i] ?? [];
      for (const [k, c] of slot.completions.entries()) {
        const s = parseSolution(slot.type, lang, c.text, style);
        slot.parsed[k] = s.ok;
        slot.correct[k] = false;
        if (s.ok) toVerify.push({ slot, k, answer: s.answer });
      }
    });
    const items = toVerify.map((v) => ({ task: v.slot.task, answer: v.answer }));
    const measureCloseness = sp.partialCredit > 0 || sp.proposerPartialCredit > 0;
    const closeness = measureCloseness ? closenessBatch(items) : undefined;
    const [verdicts, closenessResults] = await timedExec(
      Promise.all([
        verifySolutions(executor, items),
        closeness?.requests.length ? executor.batch(closeness.requests) : Promise.resolve([]),
      ]),
    );
    const scores = closeness?.scores(closenessResults);
    toVerify.forEach((v, i) => {
      v.slot.correct[v.k] = verdicts[i] === true;
      v.slot.closeness[v.k] = scores?.[i] ?? 0;
    });
    const solverReward = (s: SolveSlot, k: number) =>
      solverFinalReward(
        s.parsed[k]
          ? { parsed: true, correct: s.correct[k] === true, closeness: s.closeness[k] ?? 0 }
          : { parsed: false },
        { partialCredit: sp.partialCredit },
      );

    // 4. learn
    for (const slot of solves) {
      if (slot.proposal === undefined) continue;
      const p = proposals[slot.proposal] as ProposalSlot;
      p.solveRate = mean(slot.correct.map((c) => (c ? 1 : 0)));
      p.closeness = mean(
        slot.completions.map((_, k) => (slot.correct[k] ? 1 : slot.parsed[k] ? (slot.closeness[k] ?? 0) : 0)),
      );
    }
    const samples: TrainingSample[] = [];
    const rewards: { group: string; reward: number }[] = [];
    for (const p of proposals) {
      p.reward = !p.parsed
        ? proposerFinalReward({ parsed: false })
        : !p.valid
          ? proposerFinalReward({ parsed: true, valid: false })
          : proposerFinalReward(
              { parsed: true, valid: true, solveRate: p.solveRate ?? 0, closeness: p.closeness ?? 0 },
              {
                unlearnableReward: sp.proposerZeroAsPenalty ? WRONG_PENALTY : sp.proposerUnlearnableReward,
                partialCredit: sp.proposerPartialCredit,
              },
            );
      samples.push({
        prompt: p.prompt,
        completion: p.completion as Completion,
        advantage: 0,
        group: groupKey(p.type, 'proposer'),
      });
      rewards.push({ group: groupKey(p.type, 'proposer'), reward: p.reward });
    }
    for (const slot of solves) {
      slot.completions.forEach((c, k) => {
        const reward = solverReward(slot, k);
        samples.push({
          prompt: slot.prompt,
          completion: c,
          advantage: 0,
          group: groupKey(slot.type, 'solver'),
        });
        rewards.push({ group: groupKey(slot.type, 'solver'), reward });
      });
    }
    const advantages = trrAdvantages(rewards);
    samples.forEach((s, i) => {
      s.advantage = advantages[i] as number;
    });
    const u0 = performance.now();
    const update = policy.update
      ? await policy.update(samples)
      : { loss: 0, gradNorm: 0, learningRate: 0, tokens: 0, timeMs: 0 };
    const updateMs = performance.now() - u0;

    const bufferSizes: Record<string, number> = {};
    for (const type of sp.taskTypes) {
      const fresh = proposals.filter((p) => p.type === type && p.valid).map((p) => p.valid as Task);
      buffers[type].addAll(fresh, ctx.iteration);
    }
    for (const type of sp.taskTypes) bufferSizes[type] = buffers[type].size;

    // Metrics and samples
    const types: Record<string, TypeMetrics> = {};
    sp.taskTypes.forEach((type, ti) => {
      const ps = proposals.filter((p) => p.type === type);
      const batchSolves = solves.filter((s) => s.type === type && s.proposal === undefined);
      const allSolves = solves.filter((s) => s.type === type);
      const solverRewards = batchSolves.flatMap((s) => s.completions.map((_, k) => solverReward(s, k)));
      const valid = ps.filter((p) => p.valid);
      const rejections: Record<string, number> = {};
      for (const p of ps) {
        const why = p.valid ? undefined : p.parsed ? p.rejection : `format:${p.formatReason}`;
        if (why) rejections[why] = (rejections[why] ?? 0) + 1;
      }
      const distinct = new Set(valid.map((p) => normalizeProgram(lang, (p.valid as Task).program)));
      const solverCompletions = allSolves.flatMap((s) => s.completions);
      const solverParsed = allSolves.flatMap((s) => s.parsed);
      const wrongCloseness = batchSolves.flatMap((s) =>
        s.completions.flatMap((_, k) => (s.parsed[k] && !s.correct[k] ? [s.closeness[k] ?? 0] : [])),
      );
      types[type] = {
        solveRate: mean(batchSolves.flatMap((s) => s.correct.map((c) => (c ? 1 : 0)))),
        solverReward: mean(solverRewards),
        ...(measureCloseness ? { closeness: mean(wrongCloseness) } : {}),
        proposerReward: mean(ps.map((p) => p.reward ?? 0)),
        validRate: ps.length ? valid.length / ps.length : 0,
        duplicateRate: ps.length ? (rejections.duplicate ?? 0) / ps.length : 0,
        learnability: mean(valid.map((p) => p.reward ?? 0)),
        rejections,
        programChars: mean(valid.map((p) => (p.valid as Task).program.length)),
        diversity: ps.length ? distinct.size / ps.length : 0,
        bufferSize: bufferSizes[type] ?? 0,
        proposerTokens: mean(ps.map((p) => p.completion?.tokenIds?.length ?? 0)),
        solverTokens: mean(solverCompletions.map((c) => c.tokenIds?.length ?? 0)),
        proposerFormatErrors: ps.length ? ps.filter((p) => !p.parsed).length / ps.length : 0,
        solverFormatErrors: solverParsed.length
          ? solverParsed.filter((x) => !x).length / solverParsed.length
          : 0,
      };
      void ti;
    });
    const iterationS = (performance.now() - t0) / 1000;
    const record: IterationMetrics = {
      version: 1,
      iteration: ctx.iteration,
      timeS: ctx.elapsedS + iterationS,
      iterationS,
      types,
      loss: update.loss,
      gradNorm: update.gradNorm,
      learningRate: update.learningRate,
      tokensPerS: genMs > 0 ? genTokens / (genMs / 1000) : 0,
      execsPerS: execMs > 0 ? (executor.executions - execsBefore) / (execMs / 1000) : 0,
      phases: { sample: genMs / 1000, execute: execMs / 1000, update: updateMs / 1000 },
      rssMb: Math.round(process.memoryUsage.rss() / 1e6),
    };
    if (ctx.eval) record.eval = ctx.eval;

    const sampleLines: SampleRecord[] = [];
    for (const type of sp.taskTypes) {
      const ps = proposals.filter((p) => p.type === type);
      // Prefer valid proposals so the table shows what the run is producing.
      const shown = [...ps.filter((p) => p.valid), ...ps.filter((p) => !p.valid)].slice(
        0,
        config.samplesPerIteration,
      );
      for (const p of shown) {
        const line: SampleRecord = {
          iteration: ctx.iteration,
          type,
          role: 'proposer',
          lang,
          prompt: p.prompt.slice(-400),
          completion: p.completion?.text ?? '',
          reward: p.reward ?? 0,
          ok: p.valid !== undefined,
        };
        const reason = p.valid ? undefined : p.parsed ? p.rejection : `format:${p.formatReason}`;
        if (reason) line.reason = reason;
        if (p.valid)
          Object.assign(line, { program: p.valid.program, input: p.valid.input, output: p.valid.output });
        sampleLines.push(line);
      }
      const ss = solves
        .filter((s) => s.type === type && s.proposal === undefined)
        .slice(0, config.samplesPerIteration);
      for (const s of ss) {
        sampleLines.push({
          iteration: ctx.iteration,
          type,
          role: 'solver',
          lang,
          prompt: s.prompt.slice(-400),
          completion: s.completions[0]?.text ?? '',
          reward: solverReward(s, 0),
          ok: s.correct[0] === true,
          program: s.task.program,
          input: s.task.input,
          output: s.task.output,
        });
      }
    }
    appendJsonl(dir.samplesPath, sampleLines);
    appendMetrics(dir.metricsPath, record);
    return { bufferSizes, progressLine: formatProgressLine(record) };
  };
}
