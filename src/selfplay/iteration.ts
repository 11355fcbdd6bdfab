// One iteration: the six phases of phases.ts in order, then its lines go to the run directory. The loop
// (loop.ts) owns everything around it: budget, evaluation, commits.
import { validTask } from '../rollout/pipeline.js';
import { appendMetrics, BUFFER_DISTINCT_WINDOW } from '../run/metrics.js';
import type { RunDir } from '../run/rundir.js';
import { recentDistinctShare, type Task, type TaskType } from '../tasks/index.js';
import { appendJsonl } from '../util/jsonl.js';
import type { Rng } from '../util/rng.js';
import type { IterationContext, IterationOutcome, IterationRunner } from './loop.js';
import { type IterationResult, iterationMetrics, sampleRecords, type TypeDiversity } from './metrics.js';
import {
  type IterationEnv,
  learn,
  newClock,
  novelProposals,
  propose,
  reward,
  solve,
  trainingSamples,
  validate,
} from './phases.js';
import { formatProgressLine } from './progress.js';

/** Run the phases of one iteration; `record` stores its new tasks and writes its lines under `dir`. */
export async function runIteration(env: IterationEnv, ctx: IterationContext): Promise<IterationResult> {
  const clock = newClock();
  const sp = env.config.selfplay;
  const rngs = new Map<TaskType, Rng>(sp.taskTypes.map((t) => [t, ctx.rng.fork()]));
  const proposals = sp.propose ? await propose(env, rngs, clock) : [];
  await validate(env, proposals, clock);
  const attempts = await solve(env, proposals, rngs, clock);
  const novel =
    env.config.experimental.noveltyReward > 0 ? await novelProposals(env, proposals) : new Set<never>();
  const rewards = reward(env.config, proposals, attempts, novel);
  const update = await learn(env.policy, trainingSamples(proposals, attempts, rewards), clock);
  const bufferSizes: Record<string, number> = {};
  const diversity: IterationResult['diversity'] = {};
  for (const type of sp.taskTypes) {
    const fresh = proposals.filter((p) => p.type === type).flatMap((p) => validTask(p) ?? ([] as Task[]));
    env.buffers[type].addAll(fresh, ctx.iteration);
    bufferSizes[type] = env.buffers[type].size;
    diversity[type] = await typeDiversity(env, fresh, type, clock);
  }
  return { iteration: ctx.iteration, proposals, attempts, rewards, update, bufferSizes, diversity, clock };
}

/** The normal forms of the new tasks' programs and the buffer's recent distinct share (executor time). */
async function typeDiversity(
  env: IterationEnv,
  fresh: readonly Task[],
  type: TaskType,
  clock: IterationResult['clock'],
): Promise<TypeDiversity> {
  const t0 = performance.now();
  const lang = env.settings.lang;
  const validForms = await env.forms.of(
    lang,
    fresh.map((t) => t.program),
  );
  const buffer = env.buffers[type].all();
  const bufferDistinctShare = await recentDistinctShare(env.forms, lang, buffer, BUFFER_DISTINCT_WINDOW);
  clock.executeMs += performance.now() - t0;
  return { validForms, bufferDistinctShare };
}

export function makeIterationRunner(env: IterationEnv & { dir: RunDir }): IterationRunner {
  return async (ctx: IterationContext): Promise<IterationOutcome> => {
    const t0 = performance.now();
    const execsBefore = env.executor.executions;
    const result = await runIteration(env, ctx);
    const iterationS = (performance.now() - t0) / 1000;
    const record = iterationMetrics(env.config, result, {
      timeS: ctx.elapsedS + iterationS,
      iterationS,
      executions: env.executor.executions - execsBefore,
      ...(ctx.eval ? { eval: ctx.eval } : {}),
    });
    appendJsonl(env.dir.samplesPath, sampleRecords(env.config, result));
    appendMetrics(env.dir.metricsPath, record);
    return { bufferSizes: result.bufferSizes, progressLine: formatProgressLine(record) };
  };
}
