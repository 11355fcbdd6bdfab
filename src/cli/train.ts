// `azr train`: Absolute Zero self-play on the built-in model.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pullableModel, pulledModelFiles } from '../model/pullable-models.js';
import { isPretrainedModel, resolveModel } from '../model/resolve-model.js';
import { type ConfigOverrides, readRunConfig, resolveConfig, type SelfPlayConfig } from '../run/config.js';
import type { TrainInvocation } from '../selfplay/train.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const trainUsage = `usage: azr train [options]

  --preset NAME      tiny | default | long | smollm2 | qwen-coder-0.5b (default: default; the last two
                     train a pulled pretrained model with LoRA)
  --config FILE      JSON or YAML file overriding the preset
  --out DIR          run directory (default: runs/<time>)
  --seed N           seed of the whole run
  --iterations N     stop after N iterations
  --minutes N        stop after N minutes of wall time
  --lang LANG        python | javascript
  --resume DIR       continue a run exactly where it stopped (its own config is used)
  --eval-every N     run the held-out evaluation every N iterations (0: never)
  --init CHECKPOINT  start from a checkpoint's weights (an azr pretrain output) with a fresh optimizer,
                     or from a pretrained model (a GGUF file, a Hugging Face folder, or a name azr pull
                     fetched) that trains LoRA adapters (model.lora; --preset smollm2 sets them);
                     none: random weights (the default); the run records the weights' SHA-256
  --seed-factor S    seeding stage: before iteration 1 the model proposes until each buffer holds
                     S x the proposer batch valid, distinct tasks (metrics.jsonl iteration 0); 0: none
  --seed-tasks FILE  seed the buffers with a dataset file's tasks (eval/README.md format) instead
  --frozen-proposer  the control arm: no proposals and no proposer updates; the solver trains on the
                     seed tasks alone (selfplay.propose false; give --seed-tasks or --seed-factor)

  --backend KIND     builtin (the model in this process; the default) | tinker (a LoRA model on a
                     server speaking the Tinker API: hosted Tinker or SkyRL's server; docs/distributed.md)
  --tinker-url URL   the Tinker server (tinker backend; required)
  --base-model NAME  the base model as the server names it (required)
  --tokenizer DIR    a local folder with the base model's tokenizer.json (required)
  --lora-rank R      LoRA rank (default 32)       --lora-seed N    seed of the LoRA initialisation
  --api-key-env VAR  environment variable holding the API key (default TINKER_API_KEY)
  --reduction R      sum (hosted Tinker; the default) | sequenceMean (SkyRL's JAX backend)
  --tinker-init PATH start from saved LoRA weights (tinker://…/weights/NAME) with a fresh optimizer
  A resumed run keeps its backend and reloads the remote weights it saved.
`;

const BACKEND_FLAGS = [
  'backend',
  'tinker-url',
  'base-model',
  'tokenizer',
  'lora-rank',
  'lora-seed',
  'api-key-env',
  'reduction',
  'tinker-init',
] as const;

/** Turn argv into a validated config and run directory; throws UsageError/ConfigError with a reason. */
export function parseTrainArgs(argv: string[], now = new Date()): TrainInvocation {
  const { values } = parseFlags(argv, {
    preset: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    iterations: { type: 'string' },
    minutes: { type: 'string' },
    lang: { type: 'string' },
    resume: { type: 'string' },
    'eval-every': { type: 'string' },
    init: { type: 'string' },
    'seed-factor': { type: 'string' },
    'seed-tasks': { type: 'string' },
    'frozen-proposer': { type: 'boolean' },
    ...Object.fromEntries(BACKEND_FLAGS.map((f) => [f, { type: 'string' as const }])),
  });
  const resumeDir = stringFlag(values, 'resume');
  if (resumeDir !== undefined) {
    for (const flag of [
      'preset',
      'config',
      'out',
      'seed',
      'lang',
      'init',
      'seed-factor',
      'seed-tasks',
      'frozen-proposer',
      ...BACKEND_FLAGS,
    ]) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `--${flag} cannot be combined with --resume (a resumed run keeps its own config${BACKEND_FLAGS.includes(flag as (typeof BACKEND_FLAGS)[number]) ? ' and backend' : ''})`,
        );
      }
    }
    const path = join(resumeDir, 'config.json');
    if (!existsSync(path))
      throw new UsageError(`--resume ${resumeDir}: no config.json there; is it a run directory?`);
    let config = readRunConfig(path);
    // A resumed run may be given a new budget: more iterations or minutes than it first had.
    const iterations = intFlag(values, 'iterations', 1);
    const minutes = numberFlag(values, 'minutes');
    if (iterations !== undefined) config = { ...config, iterations };
    if (minutes !== undefined) config = { ...config, minutes };
    return { config, outDir: resumeDir, resume: true };
  }

  const lang = stringFlag(values, 'lang');
  if (lang !== undefined && lang !== 'python' && lang !== 'javascript') {
    throw new UsageError(`--lang takes python or javascript, got '${lang}'`);
  }
  const overrides: ConfigOverrides = {};
  const seed = intFlag(values, 'seed', 0, 2 ** 31 - 1);
  if (seed !== undefined) overrides.seed = seed;
  const iterations = intFlag(values, 'iterations', 1);
  const minutes = numberFlag(values, 'minutes');
  // Naming one budget on the command line replaces the preset's budget rather than adding to it.
  if (iterations !== undefined) {
    overrides.iterations = iterations;
    if (minutes === undefined) overrides.minutes = null;
  }
  if (minutes !== undefined) {
    overrides.minutes = minutes;
    if (iterations === undefined) overrides.iterations = null;
  }
  if (lang !== undefined) overrides.lang = lang;
  const evalEvery = intFlag(values, 'eval-every', 0);
  if (evalEvery !== undefined) overrides.evalEvery = evalEvery === 0 ? null : evalEvery;
  const init = stringFlag(values, 'init');
  if (init !== undefined) overrides.model = { init: init === 'none' ? null : init };
  const seedFactor = intFlag(values, 'seed-factor', 0, 64);
  const seedTasks = stringFlag(values, 'seed-tasks');
  if (seedTasks !== undefined && !existsSync(seedTasks))
    throw new UsageError(`--seed-tasks: ${seedTasks} does not exist`);
  const frozen = values['frozen-proposer'] === true;
  if (seedFactor !== undefined || seedTasks !== undefined || frozen)
    overrides.selfplay = {
      ...(seedFactor !== undefined ? { seedBatchFactor: seedFactor } : {}),
      ...(seedTasks !== undefined ? { seedTasks } : {}),
      ...(frozen ? { propose: false } : {}),
    };
  const backend = backendOverrides(values);
  if (backend) overrides.backend = backend as ConfigOverrides['backend'];
  const config = withBaseHash(
    resolveConfig({
      preset: stringFlag(values, 'preset'),
      file: stringFlag(values, 'config'),
      overrides,
    }),
  );
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return { config, outDir: stringFlag(values, 'out') ?? join('runs', stamp), resume: false };
}

/** The backend flags as a partial backend block (defaults and required fields: resolveConfig). */
function backendOverrides(values: Record<string, unknown>): Record<string, unknown> | undefined {
  const kind = stringFlag(values, 'backend');
  if (kind !== undefined && kind !== 'builtin' && kind !== 'tinker')
    throw new UsageError(`--backend takes builtin or tinker, got '${kind}'`);
  const tinkerFlags = BACKEND_FLAGS.filter((f) => f !== 'backend' && values[f] !== undefined);
  if (kind === 'builtin') {
    if (tinkerFlags.length)
      throw new UsageError(`--${tinkerFlags[0]} belongs to --backend tinker, not --backend builtin`);
    return { kind: 'builtin' };
  }
  if (kind === undefined && tinkerFlags.length === 0) return undefined;
  const reduction = stringFlag(values, 'reduction');
  if (reduction !== undefined && reduction !== 'sum' && reduction !== 'sequenceMean')
    throw new UsageError(`--reduction takes sum or sequenceMean, got '${reduction}'`);
  const out: Record<string, unknown> = { kind: 'tinker' };
  const url = stringFlag(values, 'tinker-url');
  if (url !== undefined) out.url = url;
  const baseModel = stringFlag(values, 'base-model');
  if (baseModel !== undefined) out.baseModel = baseModel;
  const tokenizer = stringFlag(values, 'tokenizer');
  if (tokenizer !== undefined) out.tokenizer = tokenizer;
  const rank = intFlag(values, 'lora-rank', 1);
  if (rank !== undefined) out.loraRank = rank;
  const seed = intFlag(values, 'lora-seed', 0, 2 ** 31 - 1);
  if (seed !== undefined) out.loraSeed = seed;
  const keyEnv = stringFlag(values, 'api-key-env');
  if (keyEnv !== undefined) out.apiKeyEnv = keyEnv;
  if (reduction !== undefined) out.reduction = reduction;
  const init = stringFlag(values, 'tinker-init');
  if (init !== undefined) out.init = init;
  return out;
}

/**
 * A run that starts from a base records the SHA-256 of the base's weights file, so config.json says exactly
 * which weights it began with.
 */
function withBaseHash(config: SelfPlayConfig): SelfPlayConfig {
  const init = config.model.init;
  if (init === null) return { ...config, model: { ...config.model, initSha256: null } };
  if (isPretrainedModel(init)) {
    // A pretrained model: its GGUF file (a pulled model's checksum is known; it was checked at pull) or a
    // folder's weights.
    let resolved: ReturnType<typeof resolveModel>;
    try {
      resolved = resolveModel(init);
    } catch (e) {
      throw new UsageError(`--init ${init}: ${(e as Error).message}`);
    }
    const pulled = resolved.pulled ? pullableModel(resolved.pulled) : undefined;
    const initSha256 = pulled?.sha256 ?? sha256OfModel(resolved.path);
    return { ...config, model: { ...config.model, initSha256 } };
  }
  const file = init.endsWith('.safetensors') ? init : join(init, 'model.safetensors');
  if (!existsSync(file))
    throw new UsageError(`--init ${init}: no ${file}; give an azr pretrain output or a checkpoint`);
  const initSha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { ...config, model: { ...config.model, initSha256 } };
}

/** SHA-256 of a GGUF file, or of a folder's weight files in name order. */
function sha256OfModel(path: string): string {
  const hash = createHash('sha256');
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith('.safetensors'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  for (const f of files) {
    const fd = openSync(f, 'r');
    const buf = Buffer.alloc(1 << 22);
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}

/** `azr train`: returns the exit code. */
export async function trainCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(trainUsage);
    return 0;
  }
  const { runTraining } = await import('../selfplay/train.js');
  let invocation: TrainInvocation;
  try {
    invocation = parseTrainArgs(argv);
  } catch (e) {
    process.stderr.write(`azr train: ${(e as Error).message}\n${e instanceof UsageError ? trainUsage : ''}`);
    return 2;
  }
  if (!invocation.resume) process.stderr.write(builtinModelHint(invocation.config));
  return runTraining(invocation);
}

/**
 * A fresh run of the built-in model from random weights says where the real models are: docs/results.md
 * shows that this 2M-parameter model cannot learn to reason, and a newcomer's first run is this one.
 */
export function builtinModelHint(config: SelfPlayConfig): string {
  if (config.model.init !== null || config.backend.kind !== 'builtin') return '';
  const pulled = existsSync(pulledModelFiles('smollm2-135m').gguf);
  return pulled
    ? 'azr train: the built-in model from random weights; smollm2-135m is pulled: npx azr train --preset smollm2 trains it\n'
    : 'azr train: the built-in model from random weights (it cannot learn to reason: docs/results.md). A pretrained one: npx azr pull smollm2-135m, then npx azr train --preset smollm2\n';
}
