// The loop's training samples as Tinker Datums for the `importance_sampling` loss.
//
// A sequence is prompt tokens p_0..p_{P-1} followed by the sampled completion c_0..c_{C-1}. The datum's
// input is the whole sequence but its last token, and position i predicts token i+1, so:
//   model_input   = p_0 .. p_{P-1} c_0 .. c_{C-2}                (P + C - 1 positions)
//   target_tokens = p_1 .. p_{P-1} c_0 .. c_{C-1}
//   logprobs      = 0 × (P-1), then the sampler's log-probability of each c_j
//   advantages    = 0 × (P-1), then the sequence's advantage on each completion position
// The prompt's positions carry advantage 0, so they add nothing to the loss.
//
// The loss is per token: -(exp(logp - logp_sampler) * advantage), where logp is the target's
// log-probability under the weights being trained. How the server reduces it over tokens and datums
// differs, and the built-in trainer's objective (src/rl/objective.ts) is the mean over a sequence's
// completion tokens, then the mean over sequences: L = -(1/B) Σ_b (1/|y_b|) Σ_t ratio_bt · A_b.
//  - 'sum' (the hosted Tinker service, inferred from the cookbook, which builds RL datums with no
//    normalisation; not checked against the service): the loss is summed over every position of every
//    datum. A per-token mean is folded into the advantages: each completion position of sequence b gets
//    A_b / (B · |y_b|), which makes the sum equal L above. (A mean over all the batch's tokens would
//    instead scale every advantage by 1 / Σ_b |y_b|.)
//  - 'sequenceMean' (SkyRL's JAX backend, read in its source): each datum's summed loss is divided by the
//    sum of its `weights` (default: 1 on every position, prompt included), and gradients are averaged
//    over the datums. Sending `weights` of 1 on completion positions and 0 on the prompt makes that
//    exactly L above, with advantages left as they are.
import type { TrainingSample } from '../types.js';
import type { Datum } from './wire.js';

export type LossReduction = 'sum' | 'sequenceMean';

export interface RlSequence {
  promptTokens: readonly number[];
  completionTokens: readonly number[];
  /** The sampler's log-probability of each completion token. */
  completionLogprobs: readonly number[];
  advantage: number;
}

/**
 * One Datum (see the header comment). `advantageScale` multiplies the advantage; `withWeights` adds a
 * `weights` tensor of 0 on prompt positions and 1 on completion positions. Null when the sequence has
 * fewer than two tokens (no position to predict).
 */
export function rlDatum(seq: RlSequence, advantageScale = 1, withWeights = false): Datum | null {
  const P = seq.promptTokens.length;
  const C = seq.completionTokens.length;
  if (seq.completionLogprobs.length !== C) {
    throw new Error(
      `completion of ${C} tokens has ${seq.completionLogprobs.length} sampler log-probabilities`,
    );
  }
  if (P === 0) throw new Error('a training sequence needs at least one prompt token');
  const all = [...seq.promptTokens, ...seq.completionTokens];
  if (all.length < 2) return null;
  const positions = all.length - 1;
  const promptPositions = P - 1;
  const advantage = seq.advantage * advantageScale;
  const logprobs = new Array<number>(positions).fill(0);
  const advantages = new Array<number>(positions).fill(0);
  const weights = new Array<number>(positions).fill(0);
  for (let j = 0; j < C; j++) {
    logprobs[promptPositions + j] = seq.completionLogprobs[j] as number;
    advantages[promptPositions + j] = advantage;
    weights[promptPositions + j] = 1;
  }
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: all.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: all.slice(1), dtype: 'int64' },
      logprobs: { data: logprobs, dtype: 'float32' },
      advantages: { data: advantages, dtype: 'float32' },
      ...(withWeights ? { weights: { data: weights, dtype: 'float32' } } : {}),
    },
  };
}

/**
 * A supervised Datum for the `cross_entropy` loss (e.g. a warm-up before self-play): the prompt is context
 * and the completion is learned. The same shift as above, with `weights` 1 on completion positions and 0
 * on prompt positions (SkyRL's JAX backend divides each datum's sum by them: the mean log-loss of the
 * completion's tokens; the hosted service sums). Null when there is no completion token.
 */
export function supervisedDatum(
  promptTokens: readonly number[],
  completionTokens: readonly number[],
): Datum | null {
  if (promptTokens.length === 0) throw new Error('a training sequence needs at least one prompt token');
  if (completionTokens.length === 0) return null;
  const all = [...promptTokens, ...completionTokens];
  const weights = new Array<number>(all.length - 1).fill(0).fill(1, promptTokens.length - 1);
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: all.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: all.slice(1), dtype: 'int64' },
      weights: { data: weights, dtype: 'float32' },
    },
  };
}

/**
 * Datums for a batch, normalised so that the server's reduction yields the built-in objective (the
 * mean over each sequence's completion tokens, then over sequences). Sequences with no completion token
 * count in B (as in the built-in trainer) but send nothing under 'sum'.
 */
export function rlDatums(seqs: readonly RlSequence[], reduction: LossReduction): Datum[] {
  const B = seqs.length;
  const out: Datum[] = [];
  for (const seq of seqs) {
    const C = seq.completionTokens.length;
    const datum =
      reduction === 'sum' ? (C > 0 ? rlDatum(seq, 1 / (B * C), false) : null) : rlDatum(seq, 1, true);
    if (datum) out.push(datum);
  }
  return out;
}

/**
 * The loop's sample as an RlSequence. `encodePrompt` must give the very token ids the prompt was sampled
 * with (the policy encodes prompt text with the model's tokenizer; the completion's ids are the
 * sampler's own and are never re-tokenized).
 */
export function sampleToSequence(
  sample: TrainingSample,
  encodePrompt: (text: string) => number[],
): RlSequence {
  const { tokenIds, logprobs } = sample.completion;
  if (!tokenIds || !logprobs) {
    throw new Error('a Tinker update needs the completion token ids and sampler log-probabilities');
  }
  return {
    promptTokens: encodePrompt(sample.prompt),
    completionTokens: tokenIds,
    completionLogprobs: logprobs,
    advantage: sample.advantage,
  };
}

/**
 * The importance-sampling loss of the data as the server reduces it, from the target log-probabilities
 * forward_backward returned (SkyRL reports no loss metric of its own). With 'sum' it is the plain sum;
 * with 'sequenceMean' each datum's sum over its weights, then the mean over datums.
 */
export function importanceSamplingLoss(
  data: readonly Datum[],
  targetLogprobs: readonly (readonly number[])[],
  reduction: LossReduction,
): number {
  let total = 0;
  data.forEach((d, i) => {
    const lp = targetLogprobs[i] ?? [];
    const old = d.loss_fn_inputs.logprobs?.data ?? [];
    const adv = d.loss_fn_inputs.advantages?.data ?? [];
    const w = d.loss_fn_inputs.weights?.data;
    let sum = 0;
    let wsum = 0;
    for (let t = 0; t < lp.length; t++) {
      const weight = w ? (w[t] as number) : 1;
      const a = adv[t] ?? 0;
      if (weight !== 0 && a !== 0) sum -= weight * Math.exp((lp[t] as number) - (old[t] ?? 0)) * a;
      wsum += weight;
    }
    total += reduction === 'sum' ? sum : sum / Math.max(wsum, 1e-9);
  });
  return reduction === 'sum' ? total : total / Math.max(data.length, 1);
}
