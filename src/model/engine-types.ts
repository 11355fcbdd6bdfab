// The contract between the model's arithmetic (ONNX graphs, weights, optimizer: src/model/engine.ts) and
// what drives it (tokenizer, sampler, the built-in policy). Two people build the two sides at once, so the
// seam is written down first; the engine implements `ModelEngine`, the sampler only calls it.

import type { ModelConfig } from './config.js';

/**
 * One training step's batch, row-major [batch, time]. The loss is the policy-gradient objective of src/rl:
 * loss = -sum_t weight[t] * A[t] * log p(target[t] | tokens[<=t]), where `weight` already carries the
 * per-sequence token-mean and batch-mean normalisation, so plain cross-entropy is advantage 1 and
 * weight 1/(number of counted tokens). Prompt and padding positions have weight 0.
 */
export interface TrainBatch {
  batch: number;
  time: number;
  /** Input token ids, [batch, time]. */
  tokens: Int32Array;
  /** Next-token targets, [batch, time]; any valid id where weight is 0. */
  targets: Int32Array;
  /** Per-token advantage, [batch, time]. */
  advantages: Float32Array;
  /** Per-token loss weight, [batch, time]; 0 masks a position out. */
  weights: Float32Array;
  /**
   * The vocabulary mask each target was sampled under, [batch, time, vocab]: 1 where the sampler could
   * have drawn the token. With it, log-probabilities (and so the loss and its gradient) are those of the
   * masked distribution; every target must be allowed at its own position.
   */
  allowed?: Uint8Array;
  /**
   * Log-probabilities of the targets under the policy that sampled them, [batch, time]. Given together
   * with `clipEpsilon`, the step uses the PPO-clipped ratio instead of the plain log-probability.
   */
  oldLogprobs?: Float32Array;
  clipEpsilon?: number;
  /**
   * Position of each input token, [batch, time] (default: t, its index in the row). With `segments`,
   * several sequences that share a prompt can ride in one row: the prompt once, then each continuation
   * numbered from where the prompt ends.
   */
  positions?: Int32Array;
  /**
   * Attention segments, [batch, time] (default: all 0, plain causal rows). A token sees the earlier tokens
   * of its row that are in segment 0 (a shared prefix) or in its own segment.
   */
  segments?: Int32Array;
}

export interface TrainStepStats {
  /** The objective's value before the update. */
  loss: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  learningRate: number;
  /** Optimizer step count after this step. */
  step: number;
  timeMs: number;
}

export interface OptimizerSettings {
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  beta1: number;
  beta2: number;
}

/** The settings of an engine that is only sampled or scored, never stepped (nothing it computes reads them). */
export const NO_UPDATES: OptimizerSettings = {
  learningRate: 0,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1,
  beta1: 0.9,
  beta2: 0.999,
};

/**
 * Keys and values of every layer for `batch` sequences, preallocated for the whole context and kept on
 * the TypeScript side: a decode step passes the filled prefix in and takes only the new entries back.
 */
export interface KvCache {
  readonly batch: number;
  /** Number of positions filled so far, per row (rows of a batch may hold prompts of different length). */
  readonly lengths: Int32Array;
}

export interface ModelEngine {
  readonly config: ModelConfig;
  readonly threads: number;
  /** Optimizer steps taken so far. */
  readonly step: number;

  /** One forward + backward + clipped AdamW step; the decode side sees the new weights afterwards. */
  trainStep(batch: TrainBatch): Promise<TrainStepStats>;
  /** Log-probability of each target under the current weights (and mask, if given), [batch, time]. */
  logprobs(
    batch: Pick<TrainBatch, 'batch' | 'time' | 'tokens' | 'targets' | 'allowed' | 'positions' | 'segments'>,
  ): Promise<Float32Array>;

  /**
   * A cache for `batch` rows of at most `positions` tokens each (prompt and completion; default and at most
   * the context). Its memory is sized by `positions`: a real model's context is thousands of tokens, a
   * self-play batch needs a few hundred.
   */
  newCache(batch: number, positions?: number): KvCache;
  /**
   * Drop every row of the cache but `keep` (ascending indices; row keep[i] becomes row i, lengths
   * follow). Later decode calls take one token per kept row: finished rows stop costing compute.
   */
  keepRows(cache: KvCache, keep: readonly number[]): void;
  /** Hands a cache's memory back for the next newCache of the same batch size; the cache is unusable after. */
  freeCache(cache: KvCache): void;
  /**
   * Feed the prompts (row b: tokens[b*time .. b*time + lengths[b]]) into an empty cache and return the
   * logits of each row's last prompt position, [batch, vocab].
   */
  prefill(cache: KvCache, tokens: Int32Array, time: number, lengths: Int32Array): Promise<Float32Array>;
  /**
   * Append one token per row at position cache.lengths[b] (then lengths[b] += 1) and return the
   * next-token logits, [batch, vocab]. Finished rows keep being fed (any token); the caller ignores them.
   */
  decode(cache: KvCache, tokens: Int32Array): Promise<Float32Array>;

  /**
   * Weights, optimizer moments, step and RNG state as safetensors (names documented in the engine).
   * `metadata` adds string entries of the caller's (e.g. pretraining's data order) to the same file, so
   * one atomic write holds the whole state; the engine's own keys take precedence.
   */
  save(file: string, metadata?: Readonly<Record<string, string>>): Promise<void>;
  close(): Promise<void>;
}
