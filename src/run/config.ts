// The self-play run's configuration: one validated object built from a named preset, an optional file
// (JSON or YAML) and command-line flags, in that order of precedence. The resolved config is written into
// the run directory, so a resumed run continues with exactly what it started with.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LORA_TARGETS } from '../model/config.js';
import type { RolloutSettings } from '../rollout/pipeline.js';
import type { AnswerFormat } from '../tasks/answer-format.js';
import { TASK_TYPES } from '../tasks/types.js';

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

/** The layout this code writes; `migrateConfig` brings older run directories' config.json up to it. */
export const CONFIG_VERSION = 2;

export const SelfPlayConfigSchema = z
  .object({
    version: z.literal(CONFIG_VERSION),
    seed: z.number().int().nonnegative(),
    lang: z.enum(['python', 'javascript']),
    /** Stop after this many iterations (null: no limit). */
    iterations: positiveInt.nullable(),
    /** Stop after this many minutes of wall time (null: no limit). */
    minutes: z.number().positive().nullable(),
    model: z
      .object({
        preset: z.enum(['tiny', 'small', 'medium', 'large']),
        contextLength: positiveInt,
        threads: positiveInt,
        /**
         * Start from this checkpoint: a base of the built-in model (`azr pretrain`; its weights, with a fresh
         * optimizer; its model must be the preset at this context length), or a pretrained model (a GGUF file,
         * a Hugging Face folder, or a name `azr pull` fetched), whose weights stay frozen while `lora`
         * adapters train. null: the built-in model from random weights.
         */
        init: z.string().min(1).nullable(),
        /** The SHA-256 of the base's weights file, recorded when the run starts (null without a base). */
        initSha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .nullable(),
        /** The adapters a pretrained model trains (src/model/config.ts LoraSettings); null otherwise. */
        lora: z
          .object({
            rank: positiveInt,
            alpha: z.number().positive(),
            targets: z.array(z.enum(LORA_TARGETS)).min(1),
          })
          .strict()
          .nullable(),
        /** A pretrained model reads each prompt as the user turn of its chat template (false: plain text). */
        chat: z.boolean(),
      })
      .strict(),
    optimizer: z
      .object({
        learningRate: z.number().positive(),
        warmupSteps: z.number().int().nonnegative(),
        weightDecay: z.number().nonnegative(),
        gradClip: z.number().positive(),
        beta1: probability,
        beta2: probability,
        /** Score each update under the vocabulary masks its samples were drawn with (src/policy/builtin.ts). */
        trainUnderMask: z.boolean(),
        /** PPO ratio clipping against the sampler's log-probabilities; null: plain REINFORCE. */
        clipEpsilon: z.number().gt(0).lt(1).nullable(),
      })
      .strict(),
    selfplay: z
      .object({
        taskTypes: z.array(z.enum(TASK_TYPES)).min(1),
        /** Proposer prompts per task type and iteration (B). */
        proposerBatch: positiveInt,
        /** Solver tasks per task type and iteration. */
        solverBatch: positiveInt,
        /** Reference triplets shown to a deduction/abduction proposer (K). */
        references: z.number().int().nonnegative(),
        /** Solver rollouts per valid proposal to estimate learnability (n). */
        learnabilityRollouts: positiveInt,
        /** Inputs an induction proposer writes (N); half are shown, half hidden. */
        inductionInputs: z.number().int().min(2),
        /**
         * The seeding stage before iteration 1 (src/selfplay/seeding.ts): the model proposes until each
         * buffer holds seedBatchFactor x proposerBatch valid, distinct tasks (the paper's S = 4); 0: none,
         * the buffers start from the identity program.
         */
        seedBatchFactor: z.number().int().nonnegative(),
        /** A dataset file (eval/README.md format) whose tasks seed the buffers instead; null: none. */
        seedTasks: z.string().min(1).nullable(),
        /**
         * false: the control arm with a frozen proposer. No proposer phase and no proposer updates; in place
         * of the new proposals, each iteration draws proposerBatch distinct tasks per type from the buffers
         * (which then hold only their seeds: seedTasks, or the seeding stage's) and attempts each with the
         * learnability rollouts, then the solver batch as usual. Only the solver learns.
         */
        propose: z.boolean(),
      })
      .strict(),
    /** How tasks are asked and answered: together they are the run's AnswerFormat (answerFormatOf). */
    answers: z
      .object({
        promptStyle: z.enum(['compact', 'reference']),
        /**
         * Constrain the engine's decoding with the answer-format grammars (src/grammar/): for the built-in
         * GPT the compact style's typed program grammar or the answer structure, over its bytes; for a
         * pretrained model the answer structure over its own vocabulary (the reference style only).
         */
        constrainedDecoding: z.boolean(),
        /** Answers about a program take as many arguments as its `def f(...)` line shows. */
        matchArity: z.boolean(),
        /** Nesting depth of program expressions below the top-level operator. */
        exprDepth: z.number().int().min(1).max(2),
        /** Proposed inputs are short literals (src/grammar/azr.ts). */
        shortInputs: z.boolean(),
        /** A program may return a condition (True/False). */
        boolReturns: z.boolean(),
      })
      .strict(),
    /** What a proposal must pass besides running deterministically (src/tasks/validate.ts). */
    validation: z
      .object({
        /**
         * Deduction/abduction programs are also run on this many other inputs of the batch, and rejected
         * ('ignores_input') when the output never changes; 0 turns the check off.
         */
        inputProbes: z.number().int().nonnegative(),
        /** ... and on this many variants of their own input (each argument changed, its type kept). */
        mutatedProbes: z.number().int().nonnegative(),
        /** Also reject ('returns_input') a program that returns its input unchanged on every input tried. */
        rejectIdentity: z.boolean(),
        /**
         * A deduction/abduction proposal whose program repeats one its prompt showed or one already in the
         * buffer (comments, layout and variable names aside): 'invalid' (rejected as `copy`), 'unlearnable'
         * (rejected as `copy`, scored as a valid task no rollout solved) or 'allowed' (a new task).
         */
        copies: z.enum(['invalid', 'unlearnable', 'allowed']),
      })
      .strict(),
    sampling: z
      .object({
        temperature: z.number().positive(),
        topP: z.number().gt(0).max(1),
        proposerMaxTokens: positiveInt,
        solverMaxTokens: positiveInt,
      })
      .strict(),
    executor: z
      .object({
        workers: positiveInt,
        timeoutMs: positiveInt,
        memoryMb: positiveInt,
      })
      .strict(),
    /**
     * Where the policy lives and learns: the built-in model in this process, or a LoRA model on a server
     * speaking the Tinker API (hosted Tinker, or SkyRL's open server; docs/distributed.md). With 'tinker', the
     * `model` block's preset and threads are unused, `optimizer` gives the Adam settings (trainUnderMask and
     * clipEpsilon do not apply: the loss is Tinker's unclipped importance sampling), and the answer grammar
     * is not applied (the server samples freely; the environment parses the text either way).
     */
    backend: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('builtin') }).strict(),
      z
        .object({
          kind: z.literal('tinker'),
          /** Server origin, e.g. http://127.0.0.1:8000 (routes are under /api/v1). */
          url: z.string().url(),
          /** The base model's name as the server knows it (SkyRL: its --base-model). */
          baseModel: z.string().min(1),
          loraRank: positiveInt,
          /** Seed of the LoRA initialisation (null: the server's choice). */
          loraSeed: z.number().int().nonnegative().nullable(),
          /** A local folder with the base model's tokenizer.json and tokenizer_config.json. */
          tokenizer: z.string().min(1),
          /** The environment variable holding the API key (its value is never written to the run). */
          apiKeyEnv: z.string().min(1),
          /** How the server reduces the loss: 'sum' (hosted Tinker) or 'sequenceMean' (SkyRL's JAX backend). */
          reduction: z.enum(['sum', 'sequenceMean']),
          /**
           * Start from these saved LoRA weights (a `tinker://…/weights/NAME` path from save_weights, e.g. an
           * SFT'd model) with a fresh optimizer; null: a new LoRA on baseModel. Like model.init for the
           * built-in model.
           */
          init: z.string().min(1).nullable(),
        })
        .strict(),
    ]),
    /** Write a checkpoint every this many iterations (and always on exit). */
    checkpointEvery: positiveInt,
    /** Run the held-out evaluation every this many iterations (null: never during training). */
    evalEvery: positiveInt.nullable(),
    /** Proposals and solutions per task type written to samples.jsonl each iteration. */
    samplesPerIteration: z.number().int().nonnegative(),
    /**
     * Departures from the method that were tried and did not help (docs/results.md has each one's record).
     * Every preset leaves them at the method's values; they stay so that those runs can be resumed and
     * repeated.
     */
    experimental: z
      .object({
        /**
         * What a valid proposal with zero learnability scores, between the invalid proposal's -0.5 and the
         * paper's 0 (the reference code was reported to use -0.5).
         */
        proposerUnlearnableReward: z.number().min(-0.5).max(0),
        /** Solver: a wrong answer scores -0.5 + partialCredit * closeness (src/tasks/closeness.ts). */
        partialCredit: probability,
        /** Proposer: a task no rollout solved adds proposerPartialCredit * the rollouts' mean closeness. */
        proposerPartialCredit: probability,
        /** Reject ('output_too_long') a deduction/abduction program whose output text is longer; null: no bound. */
        maxOutputChars: positiveInt.nullable(),
        /** With constrainedDecoding: programs are a single `return` line. */
        returnOnly: z.boolean(),
        /**
         * Added to the reward of a valid deduction/abduction proposal whose program's skeleton (its normal
         * form with the constants blanked, src/tasks/programs.ts) no task of either buffer and no earlier
         * proposal of the batch has: a price on near-copies (`a * 2` after `a * 3`), which the copy check
         * lets through. Unlike the paper's intrinsic rewards it counts when learnability is 0 too.
         */
        noveltyReward: probability,
      })
      .strict(),
  })
  .strict();

export type SelfPlayConfig = z.infer<typeof SelfPlayConfigSchema>;

type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
export type ConfigOverrides = DeepPartial<SelfPlayConfig>;

const base: SelfPlayConfig = {
  version: CONFIG_VERSION,
  seed: 1,
  lang: 'python',
  iterations: null,
  minutes: 30,
  model: {
    preset: 'small',
    contextLength: 512,
    threads: 2,
    init: null,
    initSha256: null,
    lora: null,
    chat: false,
  },
  optimizer: {
    // An update takes several micro-steps (16 sequences each); at 1e-3 the policy lost its entropy within
    // ten iterations and proposed the same few programs (docs/results.md).
    learningRate: 3e-4,
    warmupSteps: 10,
    weightDecay: 0.01,
    gradClip: 1.0,
    beta1: 0.9,
    beta2: 0.99,
    // Without it the gradient norm grew 50-fold after iteration 40 of the default run (docs/results.md).
    trainUnderMask: true,
    // An update takes several steps; the reference method clips at 0.2 too.
    clipEpsilon: 0.2,
  },
  selfplay: {
    taskTypes: ['deduction', 'abduction', 'induction'],
    proposerBatch: 16,
    solverBatch: 16,
    references: 2,
    learnabilityRollouts: 4,
    inductionInputs: 4,
    // Not measured to help the built-in model from random weights (its first proposals are its grammar's
    // random walks, already varied); real models copy the identity program without it (issue 32).
    seedBatchFactor: 0,
    seedTasks: null,
    propose: true,
  },
  answers: {
    promptStyle: 'compact',
    constrainedDecoding: true,
    // Before it, most abduction answers to one-parameter programs carried two arguments (docs/results.md).
    matchArity: true,
    exprDepth: 2,
    // Random walks through a literal rule nearly always reach its maximum length: 12-character strings
    // and 2-digit numbers made every output long and hard to predict (docs/results.md).
    shortInputs: true,
    // With conditions as returns, most outputs were True/False and the solver learned to answer False.
    boolReturns: false,
  },
  validation: {
    // Without it the default run drifted to constant programs within 60 iterations (docs/results.md).
    inputProbes: 2,
    // A neighbour's input is often of another type, so the probes above seldom ran on two-parameter
    // programs; variants of the program's own input always fit its signature.
    mutatedProbes: 2,
    // With masked updates the proposer drifted to copies of the identity seed (docs/results.md).
    rejectIdentity: true,
    // Both runs from a pretrained base collapsed onto one program shown as a reference (docs/results.md).
    copies: 'invalid',
  },
  sampling: { temperature: 1.0, topP: 1.0, proposerMaxTokens: 160, solverMaxTokens: 96 },
  executor: { workers: 2, timeoutMs: 2000, memoryMb: 256 },
  backend: { kind: 'builtin' },
  checkpointEvery: 1,
  evalEvery: 20,
  samplesPerIteration: 2,
  experimental: {
    proposerUnlearnableReward: 0,
    partialCredit: 0,
    proposerPartialCredit: 0,
    maxOutputChars: null,
    returnOnly: false,
    noveltyReward: 0,
  },
};

/** A run that trains LoRA adapters on a pulled pretrained model (the presets below). */
function pretrainedPreset(init: string): SelfPlayConfig {
  return merge(base, {
    model: {
      init,
      contextLength: 2048,
      lora: { rank: 16, alpha: 32, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
      chat: false,
    },
    // Adapters start at zero change and move only a few directions: a LoRA rate is an order of magnitude
    // above a full fine-tune's. Masks over a pretrained vocabulary would be gigabytes an iteration, so
    // samples drawn under the answer grammar are scored by the full softmax (selfplay/train.ts says what
    // that does to the update).
    optimizer: { learningRate: 1e-4, warmupSteps: 5, trainUnderMask: false },
    // No seeding stage (seedBatchFactor 0): untrained, these models propose almost no valid task, so
    // filling the buffers first would take hours (docs/benchmarks.md, the answer grammar at iteration 0).
    selfplay: { proposerBatch: 4, solverBatch: 4, references: 2, learnabilityRollouts: 4 },
    // Reference prompts, answers decoded under the answer structure over the model's vocabulary: unaided,
    // SmolLM2-135M at iteration 0 leaves the format on nearly every proposal.
    answers: { promptStyle: 'reference', constrainedDecoding: true },
    sampling: { proposerMaxTokens: 384, solverMaxTokens: 256 },
    evalEvery: 10,
  });
}

export const PRESETS = {
  /** Seconds per iteration; for tests and smoke runs. */
  tiny: merge(base, {
    minutes: null,
    iterations: 2,
    model: { preset: 'tiny', contextLength: 384, threads: 1 },
    selfplay: { proposerBatch: 4, solverBatch: 4, learnabilityRollouts: 2, inductionInputs: 4 },
    sampling: { proposerMaxTokens: 96, solverMaxTokens: 48 },
    executor: { workers: 1 },
    checkpointEvery: 1,
    evalEvery: null,
  }),
  /** Visible progress on a 2-core laptop in 30 minutes. */
  default: base,
  /** The `medium` model with batches closer to the reference method's, for two hours or more. */
  long: merge(base, {
    minutes: 120,
    model: { preset: 'medium', contextLength: 1024 },
    optimizer: { learningRate: 5e-4 },
    selfplay: {
      proposerBatch: 32,
      solverBatch: 32,
      references: 6,
      learnabilityRollouts: 8,
      inductionInputs: 10,
    },
    sampling: { proposerMaxTokens: 384, solverMaxTokens: 192 },
    checkpointEvery: 5,
  }),
  /**
   * SmolLM2-135M-Instruct (`npx azr pull smollm2-135m`) training LoRA adapters on every linear layer,
   * sized for 2 cores: small batches, reference prompts, answers held to the answer structure.
   */
  smollm2: pretrainedPreset('smollm2-135m'),
  /** Qwen2.5-Coder-0.5B-Instruct (`npx azr pull qwen2.5-coder-0.5b`), the paper's model family; as smollm2. */
  'qwen-coder-0.5b': pretrainedPreset('qwen2.5-coder-0.5b'),
} satisfies Record<string, SelfPlayConfig>;

export type PresetName = keyof typeof PRESETS;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars in `over` replace those in `base`. */
export function merge<T>(baseValue: T, over: DeepPartial<T> | Record<string, unknown>): T {
  if (!isPlainObject(baseValue) || !isPlainObject(over)) return over as T;
  const out: Record<string, unknown> = { ...baseValue };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(out[k]) && isPlainObject(v) ? merge(out[k], v) : v;
  }
  return out as T;
}

/** Validate any object as a full config, with errors that name the offending field. */
export function validateConfig(value: unknown, source = 'config'): SelfPlayConfig {
  const r = SelfPlayConfigSchema.safeParse(value);
  if (r.success) {
    const c = r.data;
    if (c.iterations === null && c.minutes === null) {
      throw new ConfigError(`${source}: set iterations or minutes (or both); a run must end`);
    }
    if (c.model.contextLength < c.sampling.proposerMaxTokens + 64) {
      throw new ConfigError(
        `${source}: model.contextLength (${c.model.contextLength}) leaves no room for a prompt next to ` +
          `sampling.proposerMaxTokens (${c.sampling.proposerMaxTokens})`,
      );
    }
    if (c.optimizer.clipEpsilon !== null && (c.sampling.temperature !== 1 || c.sampling.topP !== 1)) {
      throw new ConfigError(
        `${source}: optimizer.clipEpsilon compares against the sampler's log-probabilities, which are the ` +
          `policy's own only at sampling.temperature 1 and sampling.topP 1 (got ${c.sampling.temperature} ` +
          `and ${c.sampling.topP}); set optimizer.clipEpsilon to null or sample at 1 and 1`,
      );
    }
    const sp = c.selfplay;
    if (!sp.propose && sp.seedTasks === null && sp.seedBatchFactor === 0) {
      throw new ConfigError(
        `${source}: a frozen proposer (--frozen-proposer, selfplay.propose false) trains on seed tasks ` +
          'alone: give --seed-tasks FILE or --seed-factor S (selfplay.seedTasks, selfplay.seedBatchFactor)',
      );
    }
    if (c.backend.kind === 'tinker' && c.model.init !== null) {
      throw new ConfigError(
        `${source}: model.init starts the built-in model from a checkpoint; the tinker backend starts from ` +
          `backend.baseModel (${c.backend.baseModel}): set model.init to null`,
      );
    }
    return c;
  }
  const lines = r.error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(top level)';
    // A hand-written file in the version-1 layout: say where each field went.
    const moved =
      i.code === 'unrecognized_keys'
        ? i.keys.flatMap((k) => {
            const to = V1_FIELDS[`${where}.${k}`]?.to;
            return to && to !== `${where}.${k}` ? [`${where}.${k} is now ${to}`] : [];
          })
        : [];
    return `  ${where}: ${i.message}${moved.length ? ` (${moved.join('; ')})` : ''}`;
  });
  throw new ConfigError(`${source} is not a valid config:\n${lines.join('\n')}`);
}

/** How the run's tasks are asked and answered: one value for training and every evaluation of the run. */
export function answerFormatOf(c: SelfPlayConfig): AnswerFormat {
  const a = c.answers;
  return {
    style: a.promptStyle,
    inductionInputs: c.selfplay.inductionInputs,
    grammar: a.constrainedDecoding
      ? {
          matchArity: a.matchArity,
          returnOnly: c.experimental.returnOnly,
          exprDepth: a.exprDepth,
          shortInputs: a.shortInputs,
          boolReturns: a.boolReturns,
        }
      : null,
  };
}

/** The rollout pipeline's settings of a run (src/rollout/pipeline.ts). */
export function rolloutSettingsOf(c: SelfPlayConfig): RolloutSettings {
  return {
    lang: c.lang,
    format: answerFormatOf(c),
    sampling: c.sampling,
    validation: { ...c.validation, maxOutputChars: c.experimental.maxOutputChars },
    references: c.selfplay.references,
    contextLength: c.model.contextLength,
  };
}

/**
 * Where each field of version 1 (one flat `selfplay` block) lives in version 2, and the value a version-1
 * config.json written before the field existed ran with: a resumed run continues exactly as it started.
 */
const V1_FIELDS: Record<string, { to: string; absent: unknown }> = {
  'model.init': { to: 'model.init', absent: null },
  'model.initSha256': { to: 'model.initSha256', absent: null },
  'optimizer.trainUnderMask': { to: 'optimizer.trainUnderMask', absent: false },
  'optimizer.clipEpsilon': { to: 'optimizer.clipEpsilon', absent: null },
  'selfplay.promptStyle': { to: 'answers.promptStyle', absent: undefined },
  'selfplay.constrainedDecoding': { to: 'answers.constrainedDecoding', absent: undefined },
  'selfplay.matchArity': { to: 'answers.matchArity', absent: false },
  'selfplay.exprDepth': { to: 'answers.exprDepth', absent: 2 },
  'selfplay.shortInputs': { to: 'answers.shortInputs', absent: false },
  'selfplay.boolReturns': { to: 'answers.boolReturns', absent: true },
  'selfplay.inputProbes': { to: 'validation.inputProbes', absent: undefined },
  'selfplay.mutatedProbes': { to: 'validation.mutatedProbes', absent: 0 },
  'selfplay.rejectIdentity': { to: 'validation.rejectIdentity', absent: false },
  'selfplay.proposerUnlearnableReward': { to: 'experimental.proposerUnlearnableReward', absent: 0 },
  'selfplay.partialCredit': { to: 'experimental.partialCredit', absent: 0 },
  'selfplay.proposerPartialCredit': { to: 'experimental.proposerPartialCredit', absent: 0 },
  'selfplay.maxOutputChars': { to: 'experimental.maxOutputChars', absent: null },
  'selfplay.returnOnly': { to: 'experimental.returnOnly', absent: false },
};

/**
 * Bring a run directory's config.json of an earlier version to the current layout (the one place that
 * knows old layouts). A value that is not an object, or is already current, comes back unchanged for
 * validateConfig to judge.
 */
export function migrateConfig(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  if (value.version === CONFIG_VERSION) return withLaterFields(value);
  if (value.version !== undefined) return value;
  // Version 1 had no version field.
  const out = structuredClone(value) as Record<string, Record<string, unknown>>;
  const sp = isPlainObject(out.selfplay) ? out.selfplay : {};
  for (const [from, { to, absent }] of Object.entries(V1_FIELDS)) {
    const [fromBlock, fromKey] = from.split('.') as [string, string];
    const [toBlock, toKey] = to.split('.') as [string, string];
    const source = isPlainObject(out[fromBlock]) ? (out[fromBlock] as Record<string, unknown>) : {};
    const v = fromKey in source ? source[fromKey] : absent;
    delete source[fromKey];
    if (v === undefined) continue;
    out[toBlock] = { ...(isPlainObject(out[toBlock]) ? out[toBlock] : {}), [toKey]: v };
  }
  // proposerZeroAsPenalty was the reference code's -0.5 for an unlearnable proposal: that value of the one knob.
  if (sp.proposerZeroAsPenalty === true)
    (out.experimental as Record<string, unknown>).proposerUnlearnableReward = -0.5;
  delete sp.proposerZeroAsPenalty;
  return withLaterFields({ version: CONFIG_VERSION, ...out });
}

/**
 * A version-2 config with the fields added since, at the values runs made before them ran with (the
 * value itself when it lacks none).
 */
function withLaterFields(value: Record<string, unknown>): Record<string, unknown> {
  let out = value;
  // The built-in model: the only backend before the backend block existed.
  if (!('backend' in out)) out = { ...out, backend: { kind: 'builtin' } };
  // ... and before pretrained models, without adapters or chat templates.
  if (isPlainObject(out.model) && !('lora' in out.model))
    out = { ...out, model: { lora: null, chat: false, ...out.model } };
  // Programs were not compared before validation.copies.
  if (isPlainObject(out.validation) && !('copies' in out.validation))
    out = { ...out, validation: { ...out.validation, copies: 'allowed' } };
  if (isPlainObject(out.experimental) && !('noveltyReward' in out.experimental))
    out = { ...out, experimental: { ...out.experimental, noveltyReward: 0 } };
  // ... and before the seeding stage, without one.
  if (isPlainObject(out.selfplay) && !('seedBatchFactor' in out.selfplay))
    out = { ...out, selfplay: { seedBatchFactor: 0, seedTasks: null, ...out.selfplay } };
  // ... and before the frozen-proposer control, always proposing.
  if (isPlainObject(out.selfplay) && !('propose' in out.selfplay))
    out = { ...out, selfplay: { ...out.selfplay, propose: true } };
  return out;
}

/** A run directory's config.json, of any version, as the current config. */
export function readRunConfig(path: string): SelfPlayConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read the run's config ${path}: ${(e as Error).message}`);
  }
  return validateConfig(migrateConfig(value), path);
}

/** Read a JSON or YAML config file (partial: it overrides a preset). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} does not parse: ${(e as Error).message}`);
  }
  if (!isPlainObject(value))
    throw new ConfigError(`config file ${path} must hold an object at the top level`);
  return value;
}

/** What a tinker backend block takes when it leaves a field out (url, baseModel and tokenizer have none). */
export const TINKER_BACKEND_DEFAULTS = {
  loraRank: 32,
  loraSeed: null,
  apiKeyEnv: 'TINKER_API_KEY',
  reduction: 'sum',
  init: null,
} as const;

/** A tinker backend block with its defaults filled in; missing required fields named with their flags. */
function withBackendDefaults(value: unknown, source: string): unknown {
  if (!isPlainObject(value) || !isPlainObject(value.backend) || value.backend.kind !== 'tinker') return value;
  const backend = { ...TINKER_BACKEND_DEFAULTS, ...value.backend };
  const required = { url: '--tinker-url URL', baseModel: '--base-model NAME', tokenizer: '--tokenizer DIR' };
  const missing = Object.entries(required).filter(
    ([k]) => (backend as Record<string, unknown>)[k] === undefined,
  );
  if (missing.length) {
    throw new ConfigError(
      `${source}: the tinker backend needs ${missing.map(([k, flag]) => `backend.${k} (${flag})`).join(', ')}`,
    );
  }
  return { ...value, backend };
}

export function resolveConfig(opts: {
  preset?: string;
  file?: string;
  overrides?: ConfigOverrides;
}): SelfPlayConfig {
  const presetName = opts.preset ?? 'default';
  if (!(presetName in PRESETS)) {
    throw new ConfigError(`unknown preset '${presetName}' (choose from: ${Object.keys(PRESETS).join(', ')})`);
  }
  let value: unknown = PRESETS[presetName as PresetName];
  if (opts.file) value = merge(value, readConfigFile(opts.file));
  if (opts.overrides) value = merge(value, opts.overrides);
  const source = opts.file ?? `preset '${presetName}'`;
  return validateConfig(withBackendDefaults(value, source), source);
}
