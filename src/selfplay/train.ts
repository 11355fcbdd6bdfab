// The main job: open the run directory, build the executor, the policy the config's backend names (the
// built-in model in process, or a LoRA model on a Tinker server) and the buffers, run the loop, and stop
// cleanly on Ctrl-C (the iteration in flight finishes and is committed with a checkpoint; a second Ctrl-C
// exits at once, and the last commit still holds). This is the one place that knows which backend runs:
// the loop sees a Policy.
import { existsSync } from 'node:fs';
import { HELDOUT_FILE, heldoutScores } from '../eval/heldout.js';
import { createExecutor } from '../executor/index.js';
import { constraintFor, pretrainedConstraints } from '../grammar/index.js';
import { parameterCount } from '../model/config.js';
import { isPretrainedModel, openPretrained } from '../model/resolve-model.js';
import {
  type BuiltinPolicy,
  type BuiltinPolicyOptions,
  createBuiltinPolicy,
  initBuiltinPolicy,
  loadBuiltinPolicy,
  modelConfigFor,
} from '../policy/builtin.js';
import { createPretrainedPolicy, resumePretrainedPolicy } from '../policy/pretrained.js';
import { createTinkerPolicy, loadTinkerPolicy, type TinkerPolicyOptions } from '../policy/tinker/policy.js';
import type { Policy } from '../policy/types.js';
import { rolloutSettingsOf, type SelfPlayConfig } from '../run/config.js';
import type { EvalScores } from '../run/metrics.js';
import { openSession, SessionError } from '../run/session.js';
import { ProgramForms, readTaskFile, TaskBuffer, type TaskType } from '../tasks/index.js';
import { makeIterationRunner } from './iteration.js';
import { runSelfPlay } from './loop.js';
import { seedTrainingRun } from './seeding.js';

/** What `azr train` was asked to do: a validated config and the run directory, new or resumed. */
export interface TrainInvocation {
  config: SelfPlayConfig;
  outDir: string;
  resume: boolean;
}

export async function runTraining(
  inv: TrainInvocation,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  let session: ReturnType<typeof openSession>;
  try {
    session = openSession(inv.outDir, inv.config, inv.resume);
  } catch (e) {
    if (e instanceof SessionError) {
      process.stderr.write(`azr train: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const c = session.config;
  const modelConfig = modelConfigFor(c.model.preset, c.model.contextLength);
  const b = c.backend;
  const pretrained = c.model.init !== null && isPretrainedModel(c.model.init);
  const model =
    b.kind === 'tinker'
      ? `tinker ${b.url} | base ${b.baseModel}, LoRA rank ${b.loraRank}`
      : pretrained
        ? `pretrained ${c.model.init} (context ${c.model.contextLength}) | LoRA rank ${c.model.lora?.rank ?? '-'} on ${c.model.lora?.targets.join(',') ?? '-'}`
        : `model ${c.model.preset} (${(parameterCount(modelConfig) / 1e6).toFixed(2)}M params, context ${c.model.contextLength})` +
          ` | ${c.model.init === null ? 'random weights' : `base ${c.model.init}`}`;
  log(
    `azr train: ${session.resumed ? `resuming at iteration ${session.state.iteration} in` : 'new run in'} ${inv.outDir}` +
      ` | ${c.lang} | ${model} | seed ${c.seed} | budget ${c.iterations ?? '-'} iterations, ${c.minutes ?? '-'} minutes`,
  );
  const executor = await createExecutor({
    workers: c.executor.workers,
    limits: { timeoutMs: c.executor.timeoutMs, memoryMb: c.executor.memoryMb },
    langs: [c.lang],
  });
  let policy: Policy;
  try {
    policy = await openPolicy(
      c,
      session.state.checkpoint ? session.dir.checkpointPath(session.state.checkpoint) : null,
      modelConfig,
      log,
    );
  } catch (e) {
    await executor.close();
    throw e;
  }
  const buffers = {} as Record<TaskType, TaskBuffer>;
  for (const type of ['deduction', 'abduction', 'induction'] as const) {
    const keep = session.resumed ? (session.state.bufferSizes[type] ?? 1) : undefined;
    buffers[type] = TaskBuffer.open(session.dir.bufferPath(type), type, c.lang, keep);
  }
  let evaluate: ((p: Policy) => Promise<EvalScores>) | undefined;
  if (c.evalEvery !== null && existsSync(HELDOUT_FILE)) {
    const heldout = readTaskFile(HELDOUT_FILE);
    evaluate = (p) => heldoutScores(p, executor, heldout, c);
  }

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      process.stderr.write('\nazr train: stopping now; the last committed iteration is kept\n');
      process.exit(130);
    }
    process.stderr.write(
      '\nazr train: finishing this iteration, then saving (Ctrl-C again to stop at once)\n',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const settings = { ...rolloutSettingsOf(c), ...promptCounting(c, policy) };
    const forms = new ProgramForms(executor);
    const seeding = await seedTrainingRun({
      session,
      settings,
      policy,
      executor,
      buffers,
      forms,
      log,
      signal: controller.signal,
    });
    if (seeding === 'stopped') {
      log(`azr train: stopped during the seeding stage; --resume ${inv.outDir} continues it`);
      return 0;
    }
    const iterate = makeIterationRunner({
      config: c,
      settings,
      policy,
      executor,
      buffers,
      forms,
      dir: session.dir,
    });
    const loopDeps: Parameters<typeof runSelfPlay>[1] = { policy, iterate, log, signal: controller.signal };
    if (evaluate) loopDeps.evaluate = evaluate;
    const result = await runSelfPlay(session, loopDeps);
    log(
      `azr train: stopped (${result.stoppedBy}) after iteration ${result.iteration}, ${(result.elapsedS / 60).toFixed(1)} min;` +
        ` checkpoint ${session.state.checkpoint ?? '-'}; metrics in ${session.dir.metricsPath}`,
    );
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await executor.close();
    await policy.close();
  }
}

/** The policy the run's backend names: new, or restored from the committed checkpoint folder. */
async function openPolicy(
  c: SelfPlayConfig,
  checkpointDir: string | null,
  modelConfig: ReturnType<typeof modelConfigFor>,
  log: (line: string) => void,
): Promise<Policy> {
  const b = c.backend;
  if (b.kind === 'tinker') {
    const apiKey = process.env[b.apiKeyEnv];
    if (apiKey === undefined)
      log(`azr train: ${b.apiKeyEnv} is not set; sending no API key (fine for SkyRL's server)`);
    const o = c.optimizer;
    const opts: TinkerPolicyOptions = {
      url: b.url,
      ...(apiKey === undefined ? {} : { apiKey }),
      baseModel: b.baseModel,
      loraRank: b.loraRank,
      ...(b.loraSeed === null ? {} : { loraSeed: b.loraSeed }),
      tokenizerDir: b.tokenizer,
      reduction: b.reduction,
      ...(b.init === null ? {} : { init: b.init }),
      // The built-in engine's schedule: linear warmup over warmupSteps, then constant.
      adam: (step) => ({
        learning_rate:
          o.warmupSteps > 0 && step < o.warmupSteps
            ? (o.learningRate * step) / o.warmupSteps
            : o.learningRate,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: 1e-8,
        weight_decay: o.weightDecay,
        grad_clip_norm: o.gradClip,
      }),
      log: (line) => log(`azr train: ${line}`),
    };
    return checkpointDir ? loadTinkerPolicy(checkpointDir, opts) : createTinkerPolicy(opts);
  }
  const policyOpts: BuiltinPolicyOptions = {
    threads: c.model.threads,
    constraints: constraintFor,
    trainUnderMask: c.optimizer.trainUnderMask,
  };
  if (c.optimizer.clipEpsilon !== null) policyOpts.clipEpsilon = c.optimizer.clipEpsilon;
  if (c.model.init !== null && isPretrainedModel(c.model.init)) {
    const lora = c.model.lora;
    if (!lora)
      throw new Error(
        `model.init ${c.model.init} is a pretrained model, whose weights stay frozen: set model.lora (the adapters to train; --preset smollm2 has them)`,
      );
    if (c.optimizer.trainUnderMask)
      throw new Error(
        'optimizer.trainUnderMask records a vocabulary mask per sampled token; over a pretrained vocabulary (tens of thousands of ids) that is gigabytes an iteration: set it to false',
      );
    const base = openPretrained(c.model.init);
    // Constrained requests decode under the answer structure over the model's own vocabulary (the
    // byte-level grammars mean nothing there). Training scores the samples unmasked (trainUnderMask is
    // false, see above): the update's log-probabilities are the full softmax's, while the sampler's (PPO's
    // old log-probabilities) are renormalized over the tokens the grammar allowed. Where the grammar forces
    // a token the model thought unlikely, the ratio starts below 1 by that token's allowed mass; with
    // clipEpsilon a negative advantage there is clipped from the first step (no push away from a token the
    // grammar required anyway), a positive one still raises it. Under the full softmax a positive
    // advantage also takes probability from the tokens the grammar refused (the model learns the format
    // it is held to), and a negative one hands them some, which constrained sampling never draws: the
    // drift builtin.ts describes, which trainUnderMask would prevent at the cost of the masks' memory.
    const { constraints: _bytes, ...engineOpts } = policyOpts;
    const common = {
      ...engineOpts,
      ...(c.answers.constrainedDecoding ? { constraints: pretrainedConstraints } : {}),
      contextLength: c.model.contextLength,
      chat: c.model.chat,
    };
    if (checkpointDir)
      return resumePretrainedPolicy(base, checkpointDir, { ...common, optimizer: c.optimizer });
    return createPretrainedPolicy(base, { ...common, lora, seed: c.seed, optimizer: c.optimizer });
  }
  if (checkpointDir) return loadBuiltinPolicy(checkpointDir, { ...policyOpts, optimizer: c.optimizer });
  const fresh = { seed: c.seed, optimizer: c.optimizer };
  return c.model.init === null
    ? createBuiltinPolicy(modelConfig, fresh, policyOpts)
    : initBuiltinPolicy(c.model.init, modelConfig, fresh, policyOpts);
}

/** A real model in the engine counts its prompts in its own tokens (the byte model: string length stands in). */
function promptCounting(c: SelfPlayConfig, policy: Policy): { promptTokens?: (prompt: string) => number } {
  if (c.model.init === null || !isPretrainedModel(c.model.init) || !('codec' in policy)) return {};
  const { codec } = policy as BuiltinPolicy;
  return { promptTokens: (prompt) => codec.promptTokens(prompt).length };
}
