// The built-in policy: the small GPT of src/model behind the Policy interface. generate() tokenizes,
// samples with the KV cache (optionally grammar-constrained), and returns token ids and log-probs;
// update() packs the samples into policy-gradient steps; save() writes a safetensors checkpoint plus a
// JSON description of the model and tokenizer.
//
// update() semantics. The objective (src/rl/objective.ts) is REINFORCE with the sequence's advantage on
// every completion token, weighted by the mean over each sequence's completion tokens, then the mean over
// the sequences of a step; prompt and padding positions weigh 0, and a sequence longer than the context
// loses tokens from the left of its prompt. Samples with zero advantage carry no gradient and are skipped
// (the mean is over the sequences that carry signal). More than `maxTrainBatch` sequences are split into
// minibatches of that many rows, one optimizer step each (as PPO does), over length-sorted sequences; the
// engine runs each step in row chunks cut to their own length (engine.ts), so a minibatch is packed to
// its longest sequence and short sequences cost only their own tokens. Sequences of a minibatch that
// share a prompt (a task's learnability rollouts) ride in one row, the prompt computed once
// (sharePrompts; the minibatches themselves are unchanged). Measured on replayed self-play updates
// (small preset, seed 3, iterations 1, 4, 6, 8): 10-22% fewer positions computed, but the longer rows'
// attention grows, so 4-13% less CPU time per update; the loss and gradient match to rounding.
//
// Training under the sampling mask (`trainUnderMask`, default on). Samples are drawn under a vocabulary
// mask (grammar-constrained decoding, and always the base mask of ids a completion may contain). Scored
// under the full softmax, a negative advantage pushes probability from the sampled token into every
// other token, masked ones included, which the sampler never draws: that costs the objective nothing,
// so logits of never-sampled tokens grow without bound and the gradient norm with them (the late
// instability of the 30-minute runs, docs/results.md). Scored under the same mask, the update only moves
// probability among the tokens the sampler chooses from.
//
// PPO clipping (`clipEpsilon`): an update of more than `maxTrainBatch` sequences takes several steps, and
// every step after the first is off-policy. The ratio's denominator is the sampler's log-probability,
// which is the policy's own (masked) log-probability when sampling at temperature 1 and top-p 1.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GptConfig, MODEL_PRESETS, type ModelPreset } from '../model/config.js';
import type { DecodeConstraint } from '../model/constraint.js';
import { createModelEngine, loadModelEngine, type OrtModelEngine } from '../model/engine.js';
import type { OptimizerSettings, TrainBatch } from '../model/engine-types.js';
import {
  BOS,
  BYTE_VOCABULARY,
  PAD,
  type SampleRow,
  type SamplerVocabulary,
  sampleRows,
  tokenizerVocabulary,
} from '../model/sampler.js';
import type { TextTokenizer } from '../model/text-tokenizer.js';
import { byteTokenizer, encode } from '../model/tokenizer.js';
import { BYTE_TOKENS, SPECIAL_ID } from '../model/vocab.js';
import { packTrainBatch, type Sequence } from '../rl/objective.js';
import type { AnswerConstraint } from '../tasks/answer-format.js';
import type { Completion, GenerateRequest, Policy, TrainingSample, UpdateStats } from './types.js';

export const CHECKPOINT_FILE = 'model.safetensors';

export interface BuiltinPolicyOptions {
  threads: number;
  /**
   * Turns a request's AnswerConstraint into a token mask (src/grammar's constraintFor); without it every
   * request samples unconstrained. Passed in so that the policy layer does not depend on the grammars.
   */
  constraints?: (c: AnswerConstraint) => DecodeConstraint | undefined;
  /** Rows sampled together. */
  maxBatch?: number;
  /** Rows per optimizer step; an update over more sequences takes several steps of this size. */
  maxTrainBatch?: number;
  /** Record each sample's vocabulary masks and train under them (default true; see the top of the file). */
  trainUnderMask?: boolean;
  /** PPO ratio clipping against the sampler's log-probabilities; undefined: plain REINFORCE. */
  clipEpsilon?: number;
  /** Train the sequences of a step that share a prompt in one row, the prompt computed once (default true; sharePrompts). */
  sharePrompts?: boolean;
}

export interface BuiltinPolicy extends Policy {
  readonly engine: OrtModelEngine;
  /** How its text meets its model's ids (tokenizer, prompt encoding). */
  readonly codec: PolicyCodec;
  /** The engine's vocabulary size: the built-in policy takes token-id prompts. */
  readonly vocabSize: number;
  update(samples: readonly TrainingSample[]): Promise<UpdateStats>;
  save(dir: string): Promise<void>;
}

export function modelConfigFor(preset: ModelPreset, contextLength: number, vocabSize = 272): GptConfig {
  return { ...MODEL_PRESETS[preset], vocabSize, contextLength };
}

/** murmur3's finaliser: a bijection on 32-bit integers that spreads every input bit. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Sample i of a request draws from its own stream: the request seed and the index decide it (for a fixed
 * index distinct seeds give distinct streams, and for a fixed seed distinct indices do).
 */
export function sampleSeed(requestSeed: number, index: number): number {
  return fmix32(fmix32(requestSeed) ^ fmix32(index + 0x27d4eb2f));
}

/** How prompts become token ids: BOS, then the byte-level encoding with the format specials. */
export function promptTokens(prompt: string): number[] {
  return [BOS, ...encode(prompt)];
}

/**
 * The request's prompt tokens (its own ids as given, or its text tokenized), only the last
 * `truncatePromptTokens` of them when it asks for that.
 */
function truncatedPrompt(r: GenerateRequest, codec: PolicyCodec): number[] {
  const all = r.promptTokenIds ? [...r.promptTokenIds] : codec.promptTokens(r.prompt);
  const k = r.truncatePromptTokens;
  if (k === undefined) return all;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`truncatePromptTokens must be >= 1, got ${k}`);
  return all.length > k ? all.slice(all.length - k) : all;
}

export const TOKENIZER_DESCRIPTION = {
  kind: 'bytes+specials/1',
  bytes: BYTE_TOKENS,
  specials: SPECIAL_ID,
  promptPrefix: '<|bos|>',
} as const;

/** How the policy's text meets its model's token ids. */
export interface PolicyCodec {
  readonly tokenizer: TextTokenizer;
  /** A prompt's ids as the model reads them. */
  promptTokens(prompt: string): number[];
  readonly vocabulary: SamplerVocabulary;
  /** Filler id of training rows (never weighted). */
  readonly padId: number;
  /** What a checkpoint's config.json records about the tokenizer. */
  readonly description: unknown;
}

/** The built-in GPT's: BOS, then the byte-level encoding with the format specials. */
export const BYTE_CODEC: PolicyCodec = {
  tokenizer: byteTokenizer,
  promptTokens,
  vocabulary: BYTE_VOCABULARY,
  padId: PAD,
  description: TOKENIZER_DESCRIPTION,
};

/**
 * A real model's: its BPE tokenizer; with `chat`, a prompt becomes the user turn of the model's chat
 * template (ready for the assistant's reply), else it is read as plain text (the reference prompts carry
 * their own conversation frame, as the paper's do).
 */
export function tokenizerCodec(
  tokenizer: TextTokenizer,
  opts: { chat: boolean; source: string },
): PolicyCodec {
  const vocabulary = tokenizerVocabulary(tokenizer);
  return {
    tokenizer,
    promptTokens: (prompt) =>
      tokenizer.encode(opts.chat ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]) : prompt),
    vocabulary,
    padId: vocabulary.padId,
    description: { kind: 'bpe', source: opts.source, chat: opts.chat, vocabSize: tokenizer.vocabSize },
  };
}

/**
 * Rows of `batch` (packed by packTrainBatch, row i from seqs[i]; rows past seqs are weightless filler and
 * are dropped) whose sequences share a prompt, ride in one row: the prompt but its last token once
 * (segment 0), then for each sequence its last prompt token and its completion as a segment of its own,
 * every token at its original position. Each segment sees the shared prompt and itself, so every weighted
 * position computes exactly what it did in its own row (the last prompt token is repeated because it
 * predicts each completion's first token), and the prompt is computed once instead of once per sequence.
 * A row holds at most `context` tokens; a sequence its own row cut (longer than the batch's time) stays alone.
 */
export function sharePrompts(
  batch: TrainBatch,
  seqs: readonly Sequence[],
  context: number,
  padId: number = PAD,
): TrainBatch {
  const T = batch.time;
  const V = batch.allowed ? batch.allowed.length / (batch.batch * T) : 0;
  // Rows of the result: runs of (source row, first position, count, segment).
  const rows: { src: number; from: number; count: number; segment: number }[][] = [];
  const groups = new Map<string, number[]>();
  seqs.forEach((q, i) => {
    const whole = q.completion.length > 0 && q.prompt.length + q.completion.length - 1 <= T;
    const key = whole ? q.prompt.join() : `row ${i}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  for (const members of groups.values()) {
    const first = members[0] as number;
    if (members.length === 1) {
      rows.push([{ src: first, from: 0, count: T, segment: 0 }]);
      continue;
    }
    const shared = (seqs[first] as Sequence).prompt.length - 1;
    let row: (typeof rows)[number] = [];
    let length = 0;
    for (const i of members) {
      const count = (seqs[i] as Sequence).completion.length;
      if (row.length === 0 || length + count > context) {
        row = shared > 0 ? [{ src: first, from: 0, count: shared, segment: 0 }] : [];
        length = shared;
        rows.push(row);
      }
      row.push({ src: i, from: shared, count, segment: row.length + (shared > 0 ? 0 : 1) });
      length += count;
    }
  }
  const time = Math.max(...rows.map((r) => r.reduce((n, x) => n + x.count, 0)));
  const B = rows.length;
  const out: TrainBatch = {
    batch: B,
    time,
    tokens: new Int32Array(B * time).fill(padId),
    targets: new Int32Array(B * time).fill(padId),
    advantages: new Float32Array(B * time),
    weights: new Float32Array(B * time),
    positions: new Int32Array(B * time),
    segments: new Int32Array(B * time),
  };
  if (batch.allowed) out.allowed = new Uint8Array(B * time * V).fill(1);
  if (batch.oldLogprobs) out.oldLogprobs = new Float32Array(B * time);
  if (batch.clipEpsilon !== undefined) out.clipEpsilon = batch.clipEpsilon;
  rows.forEach((runs, b) => {
    let u = b * time;
    for (const { src, from, count, segment } of runs) {
      for (let k = 0; k < count; k++, u++) {
        const t = src * T + from + k;
        out.tokens[u] = batch.tokens[t] as number;
        out.targets[u] = batch.targets[t] as number;
        out.advantages[u] = batch.advantages[t] as number;
        out.weights[u] = batch.weights[t] as number;
        (out.positions as Int32Array)[u] = from + k;
        (out.segments as Int32Array)[u] = segment;
        if (out.oldLogprobs) out.oldLogprobs[u] = (batch.oldLogprobs as Float32Array)[t] as number;
        if (out.allowed) out.allowed.set((batch.allowed as Uint8Array).subarray(t * V, (t + 1) * V), u * V);
      }
    }
  });
  return out;
}

/** The sampler's log-probabilities of a completion, as the PPO ratio's denominator. */
function oldLogprobsOf(c: Completion): number[] {
  const n = c.tokenIds?.length ?? 0;
  if (!c.logprobs || c.logprobs.length !== n)
    throw new Error('PPO clipping needs the log-probability of every sampled token');
  return c.logprobs;
}

/**
 * The policy over an engine. `codec` turns text into the model's ids (default: the built-in GPT's bytes);
 * `saveExtra` adds files a checkpoint of this model carries (a LoRA model's PEFT adapter).
 */
export function enginePolicy(
  engine: OrtModelEngine,
  opts: BuiltinPolicyOptions,
  codec: PolicyCodec = BYTE_CODEC,
  saveExtra?: (dir: string) => void,
): BuiltinPolicy {
  const maxBatch = opts.maxBatch ?? 64;
  const maxTrain = opts.maxTrainBatch ?? 16;
  const underMask = opts.trainUnderMask ?? true;
  const clip = opts.clipEpsilon;
  const share = opts.sharePrompts ?? true;
  if (clip !== undefined && !(clip > 0 && clip < 1))
    throw new RangeError(`clipEpsilon must be in (0, 1), got ${clip}`);
  return {
    engine,
    codec,
    vocabSize: engine.config.vocabSize,
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      const rows: SampleRow[] = [];
      for (const r of requests) {
        const prompt = truncatedPrompt(r, codec);
        const constraint = r.constraint ? opts.constraints?.(r.constraint) : undefined;
        for (let i = 0; i < r.n; i++) {
          const row: SampleRow = {
            prompt,
            maxTokens: r.maxTokens,
            temperature: r.temperature,
            topP: r.topP,
            seed: sampleSeed(r.seed ?? 0, i),
          };
          if (r.stop) row.stop = r.stop;
          if (constraint) row.constraint = constraint;
          if (underMask) row.recordMasks = true;
          if (r.topLogprobs) row.topLogprobs = r.topLogprobs;
          rows.push(row);
        }
      }
      const sampled = await sampleRows(engine, rows, { maxBatch, vocabulary: codec.vocabulary });
      let at = 0;
      return requests.map((r) => {
        const mine = sampled.slice(at, at + r.n);
        at += r.n;
        return mine.map((s) => {
          const c: Completion = {
            text: s.text,
            finishReason: s.finishReason,
            tokenIds: s.tokens,
            logprobs: s.logprobs,
          };
          if (s.allowed) c.allowed = s.allowed;
          if (s.topLogprobs) {
            c.topLogprobs = s.topLogprobs.map((at) => at.map((t) => ({ tokenId: t.id, logprob: t.logprob })));
          }
          return c;
        });
      });
    },
    async update(samples: readonly TrainingSample[]): Promise<UpdateStats> {
      const t0 = performance.now();
      const seqs: Sequence[] = samples
        .filter((s) => s.advantage !== 0 && (s.completion.tokenIds?.length ?? 0) > 0)
        .map((s) => {
          const q: Sequence = {
            prompt: codec.promptTokens(s.prompt),
            completion: s.completion.tokenIds as number[],
            advantage: s.advantage,
          };
          if (underMask && s.completion.allowed) q.allowed = s.completion.allowed;
          if (clip !== undefined) q.oldLogprobs = oldLogprobsOf(s.completion);
          return q;
        });
      const lr = engine.learningRate(engine.step + 1);
      if (seqs.length === 0)
        return { loss: 0, gradNorm: 0, tokens: 0, learningRate: lr, timeMs: performance.now() - t0 };
      // Micro-steps of a fixed number of rows over sequences sorted by length.
      const ctx = engine.config.contextLength;
      seqs.sort((a, b) => a.prompt.length + a.completion.length - (b.prompt.length + b.completion.length));
      let loss = 0;
      let gradNorm = 0;
      let tokens = 0;
      for (let i = 0; i < seqs.length; i += maxTrain) {
        const part = seqs.slice(i, i + maxTrain);
        const longest = Math.max(...part.map((q) => q.prompt.length + q.completion.length - 1));
        const time = Math.min(ctx, longest);
        // Weightless filler rows (the engine leaves them out) keep the weights' arithmetic below as it was.
        const filler: Sequence[] = Array.from({ length: maxTrain - part.length }, () => ({
          prompt: [codec.padId],
          completion: [],
          advantage: 0,
          oldLogprobs: [],
        }));
        const batch = packTrainBatch([...part, ...filler], time, codec.padId, engine.config.vocabSize);
        if (clip !== undefined) batch.clipEpsilon = clip;
        // packTrainBatch averaged over maxTrain rows; make it a mean over the real sequences.
        const scale = maxTrain / part.length;
        for (let k = 0; k < batch.weights.length; k++)
          batch.weights[k] = (batch.weights[k] as number) * scale;
        const s = await engine.trainStep(share ? sharePrompts(batch, part, ctx, codec.padId) : batch);
        loss += s.loss * (part.length / seqs.length);
        gradNorm = Math.max(gradNorm, s.gradNorm);
        for (const q of part) tokens += q.completion.length;
      }
      return { loss, gradNorm, tokens, learningRate: lr, timeMs: performance.now() - t0 };
    },
    async save(dir: string): Promise<void> {
      mkdirSync(dir, { recursive: true });
      await engine.save(join(dir, CHECKPOINT_FILE));
      saveExtra?.(dir);
      const json = join(dir, 'config.json');
      writeFileSync(
        `${json}.tmp`,
        `${JSON.stringify({ model: engine.config, step: engine.step, tokenizer: codec.description }, null, 2)}\n`,
      );
      renameSync(`${json}.tmp`, json);
    },
    close: () => engine.close(),
  };
}

export async function createBuiltinPolicy(
  config: GptConfig,
  engineOpts: { seed: number; optimizer: OptimizerSettings },
  opts: BuiltinPolicyOptions,
): Promise<BuiltinPolicy> {
  const engine = await createModelEngine(config, {
    threads: opts.threads,
    seed: engineOpts.seed,
    optimizer: engineOpts.optimizer,
  });
  return enginePolicy(engine, opts);
}

/** Load from a checkpoint directory (or the .safetensors file itself). */
export async function loadBuiltinPolicy(
  path: string,
  opts: BuiltinPolicyOptions & { optimizer?: OptimizerSettings },
): Promise<BuiltinPolicy> {
  const engine = await loadModelEngine(
    checkpointFile(path),
    opts.optimizer ? { threads: opts.threads, optimizer: opts.optimizer } : { threads: opts.threads },
  );
  return enginePolicy(engine, opts);
}

/** A checkpoint directory's weights file, or the file itself. */
export const checkpointFile = (path: string): string =>
  path.endsWith('.safetensors') ? path : join(path, CHECKPOINT_FILE);

/**
 * A new run's policy starting from a checkpoint's weights (a pretrained base) with a fresh optimizer: the
 * run's optimizer settings and seed, zero moments, step 0. The base must have the run's model shape.
 */
export async function initBuiltinPolicy(
  path: string,
  expected: GptConfig,
  init: { seed: number; optimizer: OptimizerSettings },
  opts: BuiltinPolicyOptions,
): Promise<BuiltinPolicy> {
  const engine = await loadModelEngine(checkpointFile(path), {
    threads: opts.threads,
    ...init,
    weightsOnly: true,
  });
  const got = engine.config;
  const canonical = (c: object) => JSON.stringify(Object.entries(c).sort());
  if (canonical(got) !== canonical(expected)) {
    await engine.close();
    throw new Error(
      `${path}: the base model is ${JSON.stringify(got)}, the run's model is ${JSON.stringify(expected)}; ` +
        'pretrain with the same model preset and context length, or set model.preset and model.contextLength to match',
    );
  }
  return enginePolicy(engine, opts);
}
