// The policy-gradient objective in plain TypeScript: the reference the model engine's training graph is
// checked against (its loss values and, by finite differences, its gradients). Per token
//
//   loss = sum_i weight_i * -term_i,   term_i = A_i * log p_i                         (REINFORCE)
//                                      term_i = min(rho_i * A_i, clip(rho_i) * A_i)   (PPO clipping)
//
// with rho = p / p_old and clip to [1 - eps, 1 + eps]; packTrainBatch's weights make it the mean over each
// sequence's tokens, then over the batch. PPO applies when the batch has old log-probabilities and a
// clipping epsilon is given, as in the graph.
import type { TrainBatch } from '../../src/model/engine-types.js';

export interface ObjectiveOptions {
  /** PPO ratio clipping epsilon; undefined: no clipping (plain REINFORCE). */
  clipEpsilon?: number;
}

export function policyGradientLoss(
  batch: TrainBatch,
  logprobs: Float32Array,
  opts: ObjectiveOptions = {},
): number {
  let loss = 0;
  for (let i = 0; i < batch.batch * batch.time; i++) {
    const w = batch.weights[i] as number;
    if (w === 0) continue;
    const a = batch.advantages[i] as number;
    const lp = logprobs[i] as number;
    let term: number;
    if (opts.clipEpsilon !== undefined && batch.oldLogprobs) {
      const rho = Math.exp(lp - (batch.oldLogprobs[i] as number));
      const clipped = Math.min(Math.max(rho, 1 - opts.clipEpsilon), 1 + opts.clipEpsilon);
      term = Math.min(rho * a, clipped * a);
    } else {
      term = a * lp;
    }
    loss -= w * term;
  }
  return loss;
}
