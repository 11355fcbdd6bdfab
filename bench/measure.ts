// Measuring pieces the benchmarks share, so bench:model and bench:loop count FLOPs, take the matmul peak
// and sample without early stops the same way.
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../src/model/config.js';
import type { DecodeConstraint } from '../src/model/constraint.js';
import { Graph } from '../src/model/onnx/graph.js';

/** Best of 12 float32 1024^3 MatMuls through ONNX Runtime at `threads` threads, in GFLOP/s. */
export async function matmulPeak(threads: number): Promise<number> {
  const n = 1024;
  const g = new Graph('mm');
  g.output(g.matmul(g.input('a', [n, n]), g.input('b', [n, n])), 'c', [n, n]);
  const s = await ort.InferenceSession.create(g.encode(), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, Math.random), [n, n]);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    await s.run({ a, b: a });
    best = Math.min(best, performance.now() - t0);
  }
  await s.release();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/** Training FLOPs per token at length t: 6 x matmul parameters (head included) + 12 x layers x t x d. */
export function flopsPerToken(c: ModelConfig, t: number): number {
  const D = c.dModel;
  const matmulParams = c.layers * 12 * D * D + c.vocabSize * D;
  return 6 * matmulParams + 12 * c.layers * t * D;
}

/** Any byte, never complete: every row generates its whole budget, as the PyTorch loop does. */
export const bytesOnly: DecodeConstraint = {
  name: 'bytes',
  start: () => ({
    allowedTokens(mask: Uint8Array) {
      mask.fill(0, 256);
      mask.fill(1, 0, 256);
    },
    accept: (id: number) => id < 256,
    isComplete: () => false,
  }),
};
