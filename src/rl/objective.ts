// The per-token policy-gradient objective the trainer minimises, and the packing of sequences into the
// model engine's training batch. Each sequence's advantage is broadcast to its completion tokens; the loss
// is the mean over a sequence's tokens, then the mean over sequences:
//
//   L = -(1/B) * sum_b (1/|y_b|) * sum_t A_b * ratio_term(b, t)
//
// where ratio_term is log p(y_t) (plain REINFORCE, the default, as in the reference) or, with PPO
// clipping, min(rho * A, clip(rho, 1-eps, 1+eps) * A) / A with rho = p/p_old. The model engine's training
// graph computes it; test/rl/reference-loss.ts is the same objective in plain TypeScript, to check it.
import type { TrainBatch } from '../model/engine-types.js';

export interface Sequence {
  prompt: readonly number[];
  completion: readonly number[];
  advantage: number;
  /** Log-probabilities of the completion under the sampling policy (PPO clipping needs them). */
  oldLogprobs?: readonly number[];
  /**
   * The vocabulary mask each completion token was sampled under, [completion length, vocab] (1 allowed).
   * When any sequence of a batch has one, the batch is scored under masks (see packTrainBatch).
   */
  allowed?: Uint8Array;
}

/**
 * Pack sequences into a [batch, time] TrainBatch: tokens are prompt + completion (minus the last), targets
 * are shifted by one, completion positions get weight 1/(|y_b| * B), prompt and padding weight 0. A
 * sequence longer than `time` + 1 loses tokens from the start of its prompt (the completion is kept; a
 * completion longer than `time` keeps its first `time` tokens). An empty completion contributes nothing
 * but still counts in B, as a zero term of the batch mean. When a sequence carries its sampling masks,
 * each completion target's position gets its mask and every other position allows the whole vocabulary
 * (`vocab` is then required).
 */
export function packTrainBatch(
  seqs: readonly Sequence[],
  time: number,
  padId: number,
  vocab?: number,
): TrainBatch {
  if (!Number.isInteger(time) || time < 1)
    throw new RangeError(`time must be a positive integer, got ${time}`);
  const masked = seqs.some((s) => s.allowed !== undefined);
  if (masked && !(Number.isInteger(vocab) && (vocab as number) > 0))
    throw new RangeError('sequences with masks need the vocabulary size');
  const V = vocab ?? 0;
  for (const [b, s] of seqs.entries()) {
    if (!Number.isFinite(s.advantage))
      throw new RangeError(`sequence ${b}: advantage ${s.advantage} is not finite`);
    if (s.allowed && s.allowed.length !== s.completion.length * V)
      throw new RangeError(
        `sequence ${b}: mask holds ${s.allowed.length} flags, expected completion length x vocab = ${s.completion.length * V}`,
      );
  }
  const B = seqs.length;
  const tokens = new Int32Array(B * time).fill(padId);
  const targets = new Int32Array(B * time).fill(padId);
  const advantages = new Float32Array(B * time);
  const weights = new Float32Array(B * time);
  const hasOld = seqs.length > 0 && seqs.every((s) => s.oldLogprobs !== undefined);
  const oldLogprobs = hasOld ? new Float32Array(B * time) : undefined;
  // Positions without a recorded mask (prompts, padding, unmasked sequences) allow everything.
  const allowed = masked ? new Uint8Array(B * time * V).fill(1) : undefined;
  seqs.forEach((s, b) => {
    if (s.completion.length === 0) return;
    const completion = s.completion.slice(0, time);
    const full = [...s.prompt, ...completion];
    const keep = Math.min(full.length, time + 1);
    const seq = full.slice(full.length - keep);
    const firstTarget = seq.length - completion.length; // index in seq of the first completion token
    const w = 1 / (completion.length * B);
    for (let t = 0; t < seq.length - 1; t++) {
      tokens[b * time + t] = seq[t] as number;
      targets[b * time + t] = seq[t + 1] as number;
      if (t + 1 >= firstTarget) {
        const k = t + 1 - firstTarget; // completion token index
        weights[b * time + t] = w;
        advantages[b * time + t] = s.advantage;
        if (oldLogprobs && s.oldLogprobs) oldLogprobs[b * time + t] = s.oldLogprobs[k] ?? 0;
        if (allowed && s.allowed) allowed.set(s.allowed.subarray(k * V, (k + 1) * V), (b * time + t) * V);
      }
    }
  });
  const batch: TrainBatch = { batch: B, time, tokens, targets, advantages, weights };
  if (oldLogprobs) batch.oldLogprobs = oldLogprobs;
  if (allowed) batch.allowed = allowed;
  return batch;
}
