// Finite-difference check of the engine's analytic gradients, and the weight perturbation that precedes
// it, shared by the engine's tests: a few entries
// of every parameter are nudged up and down, the objective is recomputed from the engine's
// log-probabilities with the plain TypeScript loss, and the slopes are compared with the gradients the
// training graph outputs.
import type { OrtModelEngine } from '../../src/model/engine.js';
import type { TrainBatch } from '../../src/model/engine-types.js';
import type { Rng } from '../../src/util/rng.js';
import { type ObjectiveOptions, policyGradientLoss } from '../rl/reference-loss.js';

/**
 * Adds scale * N(0, 1) to every parameter, drawing from `rng`, so that zero-initialised biases and unit
 * norms matter too (checks at the initial weights would miss terms that vanish there).
 */
export function perturbParameters(engine: OrtModelEngine, rng: Rng, scale: number): void {
  for (const w of engine.parameters.values())
    for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + rng.normal() * scale;
}

export interface GradientMismatch {
  name: string;
  index: number;
  analytic: number;
  finiteDifference: number;
}

/**
 * The checked entries whose analytic gradient disagrees with the central difference (relative 5% plus
 * 2e-3 absolute, float32 with step 1e-2), over every trained parameter (the GPT's weights, or a LoRA
 * adapter's matrices). wte entries are taken from rows of the batch's first targets (rows of tokens that
 * occur matter); other parameters at random. The call takes one training step.
 */
export async function gradientMismatches(
  engine: OrtModelEngine,
  batch: TrainBatch,
  opts: ObjectiveOptions,
  rng: Rng,
  perParameter = 2,
): Promise<GradientMismatch[]> {
  const d = engine.config.dModel;
  const lossAt = async () => policyGradientLoss(batch, await engine.logprobs(batch), opts);
  const eps = 1e-2;
  const checks: { name: string; index: number; fd: number }[] = [];
  for (const [name, w] of engine.parameters) {
    for (let k = 0; k < perParameter; k++) {
      const index = name === 'wte' ? (batch.targets[k] as number) * d + k : rng.int(w.length);
      const old = w[index] as number;
      w[index] = old + eps;
      const up = await lossAt();
      w[index] = old - eps;
      const down = await lossAt();
      w[index] = old;
      checks.push({ name, index, fd: (up - down) / (2 * eps) });
    }
  }
  const { grads } = await engine.trainStep(batch, true);
  if (!grads) throw new Error('the training step returned no gradients');
  return checks
    .map((c) => ({
      name: c.name,
      index: c.index,
      analytic: (grads.get(c.name) as Float32Array)[c.index] as number,
      finiteDifference: c.fd,
    }))
    .filter(
      (c) =>
        !(
          Math.abs(c.analytic - c.finiteDifference) <=
          0.05 * Math.max(Math.abs(c.analytic), Math.abs(c.finiteDifference)) + 2e-3
        ),
    );
}
