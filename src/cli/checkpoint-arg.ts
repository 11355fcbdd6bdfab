// The CHECKPOINT argument of `azr eval`, `azr serve` and `azr eval --bench cruxeval --policy builtin`:
//   - a checkpoint directory of the built-in GPT, its model.safetensors, or a run directory, which stands
//     for the checkpoint its last committed iteration names (a run of a pretrained model: its LoRA
//     adapters over the base the run names);
//   - a pretrained model: a GGUF file, a Hugging Face folder, or a name `azr pull` fetched;
//   - a checkpoint of a run on the tinker backend (or that run): a pointer to LoRA weights saved on a
//     Tinker server, sampled through the Tinker API (the run's config names the server and tokenizer).
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NO_UPDATES } from '../model/engine-types.js';
import type { BuiltinPolicy } from '../policy/builtin.js';
import type { TinkerPointer } from '../policy/tinker/policy.js';
import type { TinkerSampler } from '../policy/tinker/sampler.js';
import type { SelfPlayConfig } from '../run/config.js';
import type { AnswerFormat } from '../tasks/answer-format.js';
import { UsageError } from './args.js';

/** `--tinker-url` in the commands that take a CHECKPOINT. */
export const TINKER_URL_FLAG = { 'tinker-url': { type: 'string' } } as const;

/** Its usage line, with the text at `column` as the command's other flags have it. */
export function tinkerUrlUsage(column: number): string {
  const label = '  --tinker-url URL';
  const text = "a tinker run's Tinker server, if not where the run trained (default: its backend.url)";
  return label.length < column ? `${label.padEnd(column)}${text}` : `${label}\n${' '.repeat(column)}${text}`;
}

/** What a CHECKPOINT argument names. */
export type CheckpointTarget =
  /** The built-in GPT's checkpoint directory (or its weights file). */
  | { kind: 'builtin'; path: string }
  /** A pretrained model as it is (no adapters). */
  | { kind: 'pretrained'; model: string }
  /** A LoRA run's checkpoint over the pretrained model it trained. */
  | { kind: 'adapter'; path: string; base: string; config: SelfPlayConfig }
  /** A checkpoint of a run on the tinker backend: the weights it saved on the server, and where to sample them. */
  | {
      kind: 'tinker';
      path: string;
      pointer: TinkerPointer;
      /** The server: --tinker-url, else the run's backend.url. */
      url: string;
      /** Folder of the base model's tokenizer (the run's backend.tokenizer). */
      tokenizerDir: string;
      /** The environment variable holding the API key (the run's backend.apiKeyEnv). */
      apiKeyEnv: string;
      config: SelfPlayConfig;
      configFile: string;
    };

/** The run directory (config.json beside state.json) a checkpoint path sits in, if any. */
async function runConfigAround(
  checkpoint: string,
): Promise<{ config: SelfPlayConfig; file: string } | undefined> {
  const { readRunConfig } = await import('../run/config.js');
  let dir = existsSync(checkpoint) && statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    const file = join(dir, 'config.json');
    if (existsSync(join(dir, 'state.json')) && existsSync(file)) return { config: readRunConfig(file), file };
  }
  return undefined;
}

/**
 * What `target` names; a UsageError when it does not exist, is a run with no checkpoint yet, is a tinker
 * checkpoint outside its run directory (the run's config names the server and the tokenizer), or when
 * `tinkerUrl` (--tinker-url) is given for anything but a tinker checkpoint.
 */
export async function resolveCheckpoint(
  target: string,
  opts: { tinkerUrl?: string } = {},
): Promise<CheckpointTarget> {
  const resolved = await resolveTarget(target, opts.tinkerUrl);
  if (opts.tinkerUrl !== undefined && resolved.kind !== 'tinker')
    throw new UsageError(`--tinker-url: ${target} is not a checkpoint of the tinker backend`);
  return resolved;
}

async function resolveTarget(target: string, tinkerUrl: string | undefined): Promise<CheckpointTarget> {
  const { isPretrainedModel } = await import('../model/resolve-model.js');
  if (isPretrainedModel(target)) return { kind: 'pretrained', model: target };
  if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
  let path = target;
  if (statSync(target).isDirectory() && existsSync(join(target, 'state.json'))) {
    const { RunDir } = await import('../run/rundir.js');
    const run = new RunDir(target);
    const ckpt = run.readState()?.checkpoint;
    if (!ckpt) throw new UsageError(`${target} has no checkpoint yet`);
    path = run.checkpointPath(ckpt);
  }
  const run = await runConfigAround(path);
  const { POINTER_FILE, readTinkerPointer } = await import('../policy/tinker/policy.js');
  if (existsSync(join(path, POINTER_FILE))) {
    const pointer = readTinkerPointer(path);
    const backend = run?.config.backend;
    if (!run || backend?.kind !== 'tinker')
      throw new UsageError(
        `${path} is a checkpoint of the tinker backend outside its run directory; give the run (its ` +
          'config.json names the server and the tokenizer)',
      );
    return {
      kind: 'tinker',
      path,
      pointer,
      url: tinkerUrl ?? backend.url,
      tokenizerDir: backend.tokenizer,
      apiKeyEnv: backend.apiKeyEnv,
      config: run.config,
      configFile: run.file,
    };
  }
  const init = run?.config.model.init;
  if (run && init !== null && init !== undefined && run.config.model.lora !== null)
    return { kind: 'adapter', path, base: init, config: run.config };
  return { kind: 'builtin', path };
}

/**
 * The answer format a checkpoint is scored in: its run's (the config.json of the run directory holding it),
 * so that a model is asked and decoded as it was trained; a pretrained model outside a run, as the
 * pretrained presets ask (reference prompts, the answer structure); any other, the default preset's. A tinker run sampled without the answer grammar (the API has no
 * constrained decoding), so it is scored without it too.
 */
export async function checkpointFormat(
  target: CheckpointTarget,
): Promise<{ format: AnswerFormat; source: string }> {
  const { answerFormatOf, PRESETS } = await import('../run/config.js');
  if (target.kind === 'adapter') return { format: answerFormatOf(target.config), source: target.path };
  if (target.kind === 'tinker')
    return { format: { ...answerFormatOf(target.config), grammar: null }, source: target.configFile };
  if (target.kind === 'pretrained')
    return {
      // As a run of the pretrained presets asks and decodes: reference prompts, answers under the answer
      // structure over the model's own tokens.
      format: answerFormatOf(PRESETS.smollm2),
      source: "a pretrained model outside a run: the pretrained presets' format",
    };
  const run = await runConfigAround(target.path);
  if (run) return { format: answerFormatOf(run.config), source: run.file };
  return {
    format: answerFormatOf(PRESETS.default),
    source: 'the default preset (no run directory around it)',
  };
}

/** One line naming a format and where it came from. */
export function describeFormat(f: AnswerFormat, source: string): string {
  return `answer format: ${f.style} prompts, ${f.grammar ? 'grammar-constrained' : 'free'} decoding (from ${source})`;
}

/** What a CHECKPOINT opens to: the engine's policy, or a sampler of a tinker run's saved weights. */
export type CheckpointPolicy = BuiltinPolicy | TinkerSampler;

/**
 * Loads the policy a CHECKPOINT names, for inference (no sampling masks are recorded: nothing will be
 * trained on its samples). Its codec says how it reads text (`policy.codec`). `chat` (pretrained models
 * outside a run) wraps prompts in the model's chat template; a run's own setting wins for its checkpoints.
 * A tinker checkpoint opens as a sampler over its saved weights on the server (`log` hears when they had to
 * be restored into a new model; default stdout). `constrained`: requests that carry an answer constraint
 * decode under it, over the model's own vocabulary (the built-in GPT's bytes, a pretrained model's BPE
 * tokens); without it every request samples free (a tinker sampler always does).
 */
export async function openCheckpoint(
  target: CheckpointTarget,
  opts: {
    threads: number;
    constrained?: boolean;
    contextLength?: number;
    chat?: boolean;
    log?: (line: string) => void;
  },
): Promise<CheckpointPolicy> {
  if (target.kind === 'tinker') {
    const { openTinkerSampler } = await import('../policy/tinker/sampler.js');
    const apiKey = process.env[target.apiKeyEnv];
    return openTinkerSampler(target.pointer, {
      url: target.url,
      ...(apiKey === undefined ? {} : { apiKey }),
      tokenizerDir: target.tokenizerDir,
      log: opts.log ?? ((line) => process.stdout.write(`${line}\n`)),
    });
  }
  const grammar = opts.constrained ? await import('../grammar/index.js') : undefined;
  const common = { threads: opts.threads, trainUnderMask: false };
  if (target.kind === 'builtin') {
    const { loadBuiltinPolicy } = await import('../policy/builtin.js');
    return loadBuiltinPolicy(
      target.path,
      grammar ? { ...common, constraints: grammar.constraintFor } : common,
    );
  }
  const constraints = grammar ? { constraints: grammar.pretrainedConstraints } : {};
  const [{ openPretrained }, pretrained] = await Promise.all([
    import('../model/resolve-model.js'),
    import('../policy/pretrained.js'),
  ]);
  if (target.kind === 'adapter') {
    const m = target.config.model;
    return pretrained.resumePretrainedPolicy(openPretrained(target.base), target.path, {
      ...common,
      ...constraints,
      contextLength: opts.contextLength ?? m.contextLength,
      chat: m.chat,
    });
  }
  return pretrained.createPretrainedPolicy(openPretrained(target.model), {
    ...common,
    ...constraints,
    seed: 0,
    optimizer: NO_UPDATES,
    ...(opts.contextLength ? { contextLength: opts.contextLength } : {}),
    chat: opts.chat ?? false,
  });
}

/** One line naming what a CHECKPOINT argument loaded. */
export function describeCheckpoint(target: CheckpointTarget): string {
  if (target.kind === 'builtin') return `built-in model from ${target.path}`;
  if (target.kind === 'pretrained') return `pretrained model ${target.model}`;
  if (target.kind === 'tinker') {
    const p = target.pointer;
    return (
      `tinker checkpoint ${target.path}: sampling ${p.samplerPath} (step ${p.step}, LoRA rank ${p.loraRank} ` +
      `on ${p.baseModel}) through the Tinker API at ${target.url}`
    );
  }
  return `pretrained model ${target.base} with the LoRA adapters of ${target.path}`;
}
