// Two training steps that should be the same computation done two ways (row chunks, shared prompts):
// the same loss and gradient norm to float32 rounding, and every gradient entry within 1e-5.
import assert from 'node:assert/strict';
import type { TrainStepStats } from '../../src/model/engine-types.js';

type StepWithGrads = TrainStepStats & { grads?: Map<string, Float32Array> };

export function assertSameTrainStep(a: StepWithGrads, b: StepWithGrads): void {
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(a.loss) + 1e-7, `loss ${a.loss} vs ${b.loss}`);
  assert.ok(Math.abs(a.gradNorm - b.gradNorm) <= 1e-5 * a.gradNorm, `norm ${a.gradNorm} vs ${b.gradNorm}`);
  assert.ok(a.grads && b.grads, 'both steps must be taken with gradients');
  for (const [name, g] of a.grads) {
    const h = b.grads.get(name) as Float32Array;
    for (let i = 0; i < g.length; i++)
      assert.ok(Math.abs((g[i] as number) - (h[i] as number)) <= 1e-5, `${name}[${i}]: ${g[i]} vs ${h[i]}`);
  }
}
