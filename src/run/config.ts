// The self-play run's configuration: one validated object built from a named preset, an optional file
// (JSON or YAML) and command-line flags, in that order of precedence. The resolved config is written into
// the run directory, so a resumed run continues with exactly what it started with.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const SelfPlayConfigSchema = z
  .object({
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
        /**
         * Score each update under the vocabulary masks its samples were drawn with (built-in policy; see
         * src/policy/builtin.ts). A config without the field (a run from before it existed) resumes
         * with the full-softmax update it started with.
         */
        trainUnderMask: z.boolean().default(false),
        /** PPO ratio clipping against the sampler's log-probabilities; null: plain REINFORCE. */
        clipEpsilon: z.number().gt(0).lt(1).nullable().default(null),
      })
      .strict(),
    selfplay: z
      .object({
        taskTypes: z.array(z.enum(['deduction', 'abduction', 'induction'])).min(1),
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
        promptStyle: z.enum(['compact', 'reference']),
        /** Reference-code quirk: a valid proposal with zero learnability scores -0.5 instead of 0. */
        proposerZeroAsPenalty: z.boolean(),
        /**
         * What a valid proposal with zero learnability (solved by no rollout, or by all) scores, between
         * the invalid proposal's -0.5 and the paper's 0; proposerZeroAsPenalty overrides it with -0.5.
         * Absent in configs from before it: 0.
         */
        proposerUnlearnableReward: z.number().min(-0.5).max(0).default(0),
        /**
         * Partial credit for the solver: a wrong answer scores -0.5 + partialCredit * closeness, where
         * closeness compares the text of what the answer produced with the expected output
         * (src/tasks/closeness.ts). 0 is the method's exact-match reward. Absent in configs from before it: 0.
         */
        partialCredit: probability.default(0),
        /**
         * Partial credit for the proposer: a valid task that no learnability rollout solved scores
         * proposerPartialCredit * the rollouts' mean closeness (plus proposerUnlearnableReward) instead
         * of the flat unlearnable score. 0 is the method. Absent in configs from before it: 0.
         */
        proposerPartialCredit: probability.default(0),
        /** Constrain the built-in model's decoding with the answer-format grammars. */
        constrainedDecoding: z.boolean(),
        /**
         * Deduction/abduction programs are also run on this many other inputs of the batch, and rejected
         * ('ignores_input') when the output never changes; 0 turns the check off (src/tasks/validate.ts).
         */
        inputProbes: z.number().int().nonnegative(),
        /**
         * Deduction/abduction programs are also run on this many variants of their own input (each argument
         * changed, its type kept) for the same check. Absent in configs from before it: 0.
         */
        mutatedProbes: z.number().int().nonnegative().default(0),
        /**
         * With inputProbes: also reject ('returns_input') a program that returns its input unchanged on
         * its own input and every probe. Absent in configs from before it: off.
         */
        rejectIdentity: z.boolean().default(false),
        /**
         * Reject ('output_too_long') a deduction/abduction program whose output's text is longer than
         * this; null: no bound. Absent in configs from before it: null.
         */
        maxOutputChars: positiveInt.nullable().default(null),
        /**
         * With constrainedDecoding: answers about a program (abduction inputs, induction programs, an
         * induction proposal's inputs) may only take as many arguments as its `def f(...)` line shows.
         * Absent in configs from before it: off.
         */
        matchArity: z.boolean().default(false),
        /** With constrainedDecoding: programs are a single `return` line (no statements, loops or branches). */
        returnOnly: z.boolean().default(false),
        /** With constrainedDecoding: nesting depth of program expressions below the top-level operator. */
        exprDepth: z.number().int().min(1).max(2).default(2),
        /** With constrainedDecoding: proposed inputs are short literals (src/grammar/azr.ts). */
        shortInputs: z.boolean().default(false),
        /** With constrainedDecoding: a program may return a condition (True/False). */
        boolReturns: z.boolean().default(true),
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
    /** Write a checkpoint every this many iterations (and always on exit). */
    checkpointEvery: positiveInt,
    /** Run the held-out evaluation every this many iterations (null: never during training). */
    evalEvery: positiveInt.nullable(),
    /** Proposals and solutions per task type written to samples.jsonl each iteration. */
    samplesPerIteration: z.number().int().nonnegative(),
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
  seed: 1,
  lang: 'python',
  iterations: null,
  minutes: 30,
  model: { preset: 'small', contextLength: 512, threads: 2 },
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
    promptStyle: 'compact',
    proposerZeroAsPenalty: false,
    proposerUnlearnableReward: 0,
    partialCredit: 0,
    proposerPartialCredit: 0,
    constrainedDecoding: true,
    // Without it the default run drifted to constant programs within 60 iterations (docs/results.md).
    inputProbes: 2,
    // A neighbour's input is often of another type, so the probes above seldom ran on two-parameter
    // programs; variants of the program's own input always fit its signature.
    mutatedProbes: 2,
    // With masked updates the proposer drifted to copies of the identity seed (docs/results.md).
    rejectIdentity: true,
    maxOutputChars: null,
    // Before it, most abduction answers to one-parameter programs carried two arguments (docs/results.md).
    matchArity: true,
    returnOnly: false,
    exprDepth: 2,
    // Random walks through a literal rule nearly always reach its maximum length: 12-character strings
    // and 2-digit numbers made every output long and hard to predict (docs/results.md).
    shortInputs: true,
    // With conditions as returns, most outputs were True/False and the solver learned to answer False.
    boolReturns: false,
  },
  sampling: { temperature: 1.0, topP: 1.0, proposerMaxTokens: 160, solverMaxTokens: 96 },
  executor: { workers: 2, timeoutMs: 2000, memoryMb: 256 },
  checkpointEvery: 1,
  evalEvery: 20,
  samplesPerIteration: 2,
};

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
  /** Visible progress on a 2-core laptop in 15 minutes. */
  default: base,
  /** A bigger model and batches, closer to the reference method's settings. */
  large: merge(base, {
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
    return c;
  }
  const lines = r.error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(top level)';
    return `  ${where}: ${i.message}`;
  });
  throw new ConfigError(`${source} is not a valid config:\n${lines.join('\n')}`);
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
  return validateConfig(value, opts.file ?? `preset '${presetName}'`);
}
