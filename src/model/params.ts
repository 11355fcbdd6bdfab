// Fresh weights for a model, from a seed: normal(0, 0.02) for matrices and embeddings, scaled by
// 1/sqrt(2 * layers) for the two residual projections (GPT-2), ones and zeros for norms and biases.

import { Rng } from '../util/rng.js';
import { type GptConfig, parameterSpecs } from './config.js';

export type Weights = Map<string, Float32Array>;

export function initWeights(c: GptConfig, seed: number): Weights {
  const rng = new Rng(seed);
  const out: Weights = new Map();
  for (const s of parameterSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    if (s.init === 'ones') w.fill(1);
    else if (s.init === 'normal' || s.init === 'residual') {
      const std = s.init === 'residual' ? 0.02 / Math.sqrt(2 * c.layers) : 0.02;
      for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    }
    out.set(s.name, w);
  }
  return out;
}

export function zerosLike(w: Weights): Weights {
  return new Map([...w].map(([k, v]) => [k, new Float32Array(v.length)]));
}
