// The Tinker backend behind the loop's Policy interface: generation samples the current LoRA weights on
// the server, update() is one TinkerTrainer step, save(dir) keeps the remote training state and writes a
// small pointer file into the run's checkpoint folder, and loadTinkerPolicy(dir) resumes from it. The loop
// cannot tell this policy from the built-in one.
//
// Prompts. The loop's prompts are plain text (no chat roles), so they are encoded as they are with the
// model's own tokenizer, with no chat template and no special tokens added (a base model continues the
// text, as the built-in model does). The sampler's token ids and log-probabilities are kept exactly as
// sampled; the text is their decoding, cut at the first stop string (the stop strings are the request's
// plus the EOS token's text, sent as strings because the API takes all strings or all ids). The server
// ends a sequence after the token that completes a stop string and keeps that token, so `tokenIds` may
// end with the stop's tokens while `text` does not: training sees the sampled ids, never re-tokenized text.
//
// The prompt ids an update trains on are the ones that were sampled with (remembered per prompt text until
// the next update, since a request may ask to keep only its last k prompt tokens); a prompt never sampled
// here is encoded afresh.
//
// Normalisation. As in the built-in policy, samples with zero advantage or no completion tokens are left
// out, and the objective is the mean over each sequence's completion tokens, then over the sequences left:
// datums.ts folds that into the datums for the server's reduction ('sum': advantages scaled by
// 1/(B·|y_b|); 'sequenceMean': weights 1 on completion positions, 0 on the prompt). The loss is Tinker's
// `importance_sampling` (ratio to the sampler's log-probabilities, not clipped).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { BpeTokenizer } from '../../model/bpe-tokenizer.js';
import type { Completion, GenerateRequest, Policy, TrainingSample, UpdateStats } from '../types.js';
import { TinkerClient } from './client.js';
import type { LossReduction } from './datums.js';
import { TinkerTrainer } from './trainer.js';
import type { AdamParams } from './wire.js';

/** The file a Tinker checkpoint folder holds: where the training state lives on the server. */
export const POINTER_FILE = 'tinker.json';

export interface TinkerPolicyOptions {
  /** Server origin, e.g. `http://127.0.0.1:8000`. */
  url: string;
  apiKey?: string;
  baseModel: string;
  loraRank: number;
  loraSeed?: number;
  /** Folder with the base model's `tokenizer.json` and `tokenizer_config.json`. */
  tokenizerDir: string;
  reduction: LossReduction;
  /** Start a new policy from these saved weights (`tinker://…/weights/NAME`) with a fresh optimizer. */
  init?: string;
  /** Adam parameters of update number `step` (1-based), e.g. with a warmup. */
  adam: (step: number) => AdamParams;
  /** Sampling requests in flight at once (default 16). */
  concurrency?: number;
  /** Told of lifecycle events (model created or restored). */
  log?: (line: string) => void;
}

const Pointer = z
  .object({
    kind: z.literal('tinker'),
    /** `tinker://…/weights/NAME`: weights and optimizer state, for load_weights. */
    statePath: z.string().min(1),
    /** `tinker://…` sampler weights of the same step. */
    samplerPath: z.string().min(1),
    modelId: z.string(),
    baseModel: z.string(),
    loraRank: z.number().int().positive(),
    step: z.number().int().nonnegative(),
  })
  .strict();
export type TinkerPointer = z.infer<typeof Pointer>;

export interface TinkerPolicy extends Policy {
  readonly trainer: TinkerTrainer;
  readonly client: TinkerClient;
  readonly tokenizer: BpeTokenizer;
  update(samples: readonly TrainingSample[]): Promise<UpdateStats>;
  save(dir: string): Promise<void>;
}

/** Read a checkpoint folder's pointer file, with an error naming the file. */
export function readTinkerPointer(dir: string): TinkerPointer {
  const path = join(dir, POINTER_FILE);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the Tinker checkpoint ${path}: ${(e as Error).message}`);
  }
  const r = Pointer.safeParse(value);
  if (!r.success) throw new Error(`${path} is not a Tinker checkpoint: ${r.error.message}`);
  return r.data;
}

/** Cut `text` at the earliest of `stops`; whether one was found. */
function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let at = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/** Run `fn` over `items` with at most `limit` in flight; results in item order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function wrap(
  client: TinkerClient,
  tokenizer: BpeTokenizer,
  opts: TinkerPolicyOptions,
  start: (encodePrompt: (text: string) => number[]) => Promise<TinkerTrainer>,
): Promise<TinkerPolicy> {
  const sampledPrompts = new Map<string, number[]>();
  const encodePrompt = (text: string) => sampledPrompts.get(text) ?? tokenizer.encode(text);
  const eos = tokenizer.eosToken;
  return start(encodePrompt).then((trainer) => ({
    trainer,
    client,
    tokenizer,
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      const samplerPath = trainer.samplerPath;
      return mapLimited(requests, opts.concurrency ?? 16, async (r) => {
        let prompt = tokenizer.encode(r.prompt);
        const k = r.truncatePromptTokens;
        if (k !== undefined) {
          if (!Number.isInteger(k) || k < 1)
            throw new RangeError(`truncatePromptTokens must be >= 1, got ${k}`);
          if (prompt.length > k) prompt = prompt.slice(prompt.length - k);
        }
        sampledPrompts.set(r.prompt, prompt);
        const stop = [...(r.stop ?? []), ...(eos ? [eos] : [])];
        const res = await client.sample({
          modelPath: samplerPath,
          prompt,
          numSamples: r.n,
          params: {
            max_tokens: r.maxTokens,
            temperature: r.temperature,
            top_p: r.topP,
            ...(r.seed === undefined ? {} : { seed: r.seed }),
            ...(stop.length ? { stop } : {}),
          },
        });
        return res.sequences.map((s): Completion => {
          const cut = cutAtStop(tokenizer.decode(s.tokens), stop);
          return {
            text: cut.text,
            finishReason: s.stopReason === 'stop' || cut.stopped ? 'stop' : 'length',
            tokenIds: s.tokens,
            logprobs: s.logprobs,
          };
        });
      });
    },
    async update(samples: readonly TrainingSample[]): Promise<UpdateStats> {
      const t0 = performance.now();
      const useful = samples.filter((s) => s.advantage !== 0 && (s.completion.tokenIds?.length ?? 0) > 0);
      const adam = opts.adam(trainer.step + 1);
      let stats: UpdateStats;
      if (useful.length === 0) {
        // Nothing carries a gradient: no step, as in the built-in policy.
        stats = { loss: 0, gradNorm: 0, tokens: 0, learningRate: adam.learning_rate, timeMs: 0 };
      } else stats = await trainer.update(useful, adam);
      sampledPrompts.clear();
      return { ...stats, timeMs: performance.now() - t0 };
    },
    async save(dir: string): Promise<void> {
      const name = basename(dir);
      const statePath = await trainer.save(name);
      const pointer: TinkerPointer = {
        kind: 'tinker',
        statePath,
        samplerPath: trainer.samplerPath,
        modelId: trainer.model.modelId,
        baseModel: opts.baseModel,
        loraRank: opts.loraRank,
        step: trainer.step,
      };
      mkdirSync(dir, { recursive: true });
      const path = join(dir, POINTER_FILE);
      writeFileSync(`${path}.tmp`, `${JSON.stringify(pointer, null, 2)}\n`);
      renameSync(`${path}.tmp`, path);
    },
    async close(): Promise<void> {
      client.close();
    },
  }));
}

async function open(opts: TinkerPolicyOptions): Promise<{ client: TinkerClient; tokenizer: BpeTokenizer }> {
  const tokenizer = await BpeTokenizer.load(opts.tokenizerDir);
  const client = new TinkerClient({
    baseUrl: opts.url,
    ...(opts.apiKey === undefined ? {} : { apiKey: opts.apiKey }),
    // The first create_model waits for the server's engine to load the model.
    futureTimeoutMs: 900_000,
  });
  return { client, tokenizer };
}

function trainerOptions(
  client: TinkerClient,
  opts: TinkerPolicyOptions,
  encodePrompt: (t: string) => number[],
) {
  return {
    client,
    baseModel: opts.baseModel,
    rank: opts.loraRank,
    ...(opts.loraSeed === undefined ? {} : { seed: opts.loraSeed }),
    adam: opts.adam(1),
    reduction: opts.reduction,
    encodePrompt,
  };
}

/**
 * A new LoRA model on the base model (or on the weights `init` names, with a fresh optimizer), its
 * initial weights published for sampling.
 */
export async function createTinkerPolicy(opts: TinkerPolicyOptions): Promise<TinkerPolicy> {
  const { client, tokenizer } = await open(opts);
  return wrap(client, tokenizer, opts, async (encodePrompt) => {
    const t = trainerOptions(client, opts, encodePrompt);
    const trainer = opts.init
      ? await TinkerTrainer.resume(t, opts.init, 0, { optimizer: false })
      : await TinkerTrainer.create(t);
    opts.log?.(
      `tinker: new LoRA model ${trainer.model.modelId} (rank ${opts.loraRank}) on ${opts.baseModel}` +
        (opts.init ? ` from the weights of ${opts.init}` : ''),
    );
    return trainer;
  });
}

/** Resume from a checkpoint folder save() wrote: a new model loads the saved weights and optimizer state. */
export async function loadTinkerPolicy(dir: string, opts: TinkerPolicyOptions): Promise<TinkerPolicy> {
  const pointer = readTinkerPointer(dir);
  if (pointer.baseModel !== opts.baseModel || pointer.loraRank !== opts.loraRank) {
    throw new Error(
      `${join(dir, POINTER_FILE)}: saved from ${pointer.baseModel} at LoRA rank ${pointer.loraRank}, ` +
        `but the run asks for ${opts.baseModel} at rank ${opts.loraRank}`,
    );
  }
  const { client, tokenizer } = await open(opts);
  return wrap(client, tokenizer, opts, async (encodePrompt) => {
    const trainer = await TinkerTrainer.resume(
      trainerOptions(client, opts, encodePrompt),
      pointer.statePath,
      pointer.step,
    );
    opts.log?.(
      `tinker: resumed ${pointer.statePath} (step ${pointer.step}) into model ${trainer.model.modelId}`,
    );
    return trainer;
  });
}
