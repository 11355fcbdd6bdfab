// Fresh weights for a model, from a seed: normal(0, 0.02) for matrices and embeddings, scaled by
// 1/sqrt(2 * layers) for the two residual projections (GPT-2), ones and zeros for norms and biases.

import { Rng } from '../util/rng.js';
import { type GptConfig, type ParamSpec, parameterSpecs } from './config.js';

export type Weights = Map<string, Float32Array>;

export function initWeights(c: GptConfig, seed: number): Weights {
  return initParameters(parameterSpecs(c), c.layers, seed);
}

/** Fresh values for `specs`, in order, from one seeded stream (`layers` scales residual projections). */
export function initParameters(specs: readonly ParamSpec[], layers: number, seed: number): Weights {
  const rng = new Rng(seed);
  const out: Weights = new Map();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    if (s.init === 'ones') w.fill(1);
    else if (s.init === 'normal' || s.init === 'residual') {
      const std = s.init === 'residual' ? 0.02 / Math.sqrt(2 * layers) : 0.02;
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    } else if (s.init === 'lora_a') {
      const bound = 1 / Math.sqrt(s.shape[0] as number);
      for (let i = 0; i < n; i++) w[i] = (2 * rng.next() - 1) * bound;
    }
    out.set(s.name, w);
  }
  return out;
}

export function zerosLike(w: Weights): Weights {
  return new Map([...w].map(([k, v]) => [k, new Float32Array(v.length)]));
}
