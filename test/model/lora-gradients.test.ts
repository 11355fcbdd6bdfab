// LoRA gradients on real checkpoints against PyTorch + peft on the same weights: the loop's objective
// (PPO-clipped ratio against old log-probabilities, TRR++-style advantages of both signs, per-token
// weights, a vocabulary mask on some positions), one batch, every adapter matrix of every layer.
// python/lora_gradient_reference.py computes peft's gradients for the adapter the engine saved, in float32
// and in float64. Each engine gradient must lie within 1e-4 (relative to its largest entry) of the float64
// one, or no further from it than twice PyTorch's own float32 gradient is (float32 itself is good to about
// 2e-4 here: on SmolLM2 the engine and PyTorch agree to 4e-5 with each other, and each is 2.2e-4 from float64).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import { LORA_TARGETS, type LoraSettings } from '../../src/model/config.js';
import type { TrainBatch } from '../../src/model/engine-types.js';
import { transpose2d } from '../../src/model/llama-weights.js';
import { writePeftAdapter } from '../../src/model/peft.js';
import { pretrainedEngine } from '../../src/model/pretrained-engine.js';
import { openPretrained } from '../../src/model/resolve-model.js';
import { packTrainBatch, type Sequence } from '../../src/rl/objective.js';
import { Rng } from '../../src/util/rng.js';
import { runReferenceScript } from '../reference-python.js';
import { type RealModelName, realModel } from './real-models.js';
import { relativeError } from './relative-error.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'azr-lora-grads-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const LORA: LoraSettings = { rank: 8, alpha: 16, targets: [...LORA_TARGETS] };

// CI checks SmolLM2. On Qwen2.5-Coder-0.5B (AZR_LORA_GRADIENTS=qwen2.5-coder-0.5b, by hand) float32 is only
// good to a few 1e-3 even for PyTorch, and the engine's gradients were found up to about twice as far from
// float64 as PyTorch's on some matrices (layer 14's gate_proj lora_B: 7.7e-3 against 3.5e-3): an open
// question, so that check is not yet one CI can pass.
const MODELS = (process.env.AZR_LORA_GRADIENTS?.split(',') ?? ['smollm2-135m']) as RealModelName[];

for (const name of MODELS) {
  const model = realModel(name);
  test(`${name}: LoRA gradients of the loop's loss are as exact as PyTorch + peft's (float64 reference)`, {
    skip: model.skip,
  }, async () => {
    const path = model.path();
    const tokenizer = await BpeTokenizer.open(path);
    const engine = await pretrainedEngine(openPretrained(path), {
      threads: 2,
      seed: 3,
      optimizer: {
        learningRate: 1e-5,
        warmupSteps: 0,
        weightDecay: 0,
        gradClip: 1e9,
        beta1: 0.9,
        beta2: 0.999,
      },
      lora: LORA,
      contextLength: 128,
    });
    try {
      // B is zero in a fresh adapter, where A's gradient vanishes: move both away from the start.
      const rng = new Rng(5);
      for (const w of engine.parameters.values())
        for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + rng.normal() * 0.05;
      engine.parametersChanged();
      const V = engine.config.vocabSize;
      const prompt = tokenizer.encode('def f(a):\n    return sorted(a)[::-1]\n\nprint(f([3, 1, 2]))\n');
      const seqs: Sequence[] = [
        { prompt, completion: tokenizer.encode('[3, 2, 1]'), advantage: 1.3 },
        { prompt, completion: tokenizer.encode('[1, 2, 3] is the answer'), advantage: -0.7 },
        {
          prompt: tokenizer.encode('Reverse a string:'),
          completion: tokenizer.encode(' s[::-1]'),
          advantage: 0.4,
        },
      ];
      // A vocabulary mask on the first sequence's completion: every third id, and the sampled one.
      const first = seqs[0] as Sequence;
      const allowed = new Uint8Array(first.completion.length * V);
      first.completion.forEach((id, t) => {
        for (let v = 0; v < V; v += 3) allowed[t * V + v] = 1;
        allowed[t * V + id] = 1;
      });
      for (const q of seqs)
        q.allowed = q === first ? allowed : new Uint8Array(q.completion.length * V).fill(1);
      const time = Math.max(...seqs.map((q) => q.prompt.length + q.completion.length - 1));
      const batch: TrainBatch = packTrainBatch(seqs, time, 0, V);
      const lp = await engine.logprobs(batch);
      batch.oldLogprobs = lp.map((x, i) => x + (i % 3 === 0 ? 0.4 : -0.05));
      batch.clipEpsilon = 0.2;

      const adapter = join(dir, `${name}-adapter`);
      writePeftAdapter(adapter, engine.config as never, LORA, engine.parameters, name);
      const T = batch.time;
      const rows = (a: ArrayLike<number>) =>
        Array.from({ length: batch.batch }, (_, b) =>
          Array.from({ length: T }, (_, t) => a[b * T + t] as number),
        );
      const allowedLists = Array.from({ length: batch.batch }, (_, b) =>
        Array.from({ length: T }, (_, t) => {
          const m = (batch.allowed as Uint8Array).subarray((b * T + t) * V, (b * T + t + 1) * V);
          if (m.every((x) => x === 1)) return null;
          const ids: number[] = [];
          m.forEach((x, v) => {
            if (x) ids.push(v);
          });
          return ids;
        }),
      );
      const batchFile = join(dir, `${name}-batch.json`);
      writeFileSync(
        batchFile,
        JSON.stringify({
          tokens: rows(batch.tokens),
          targets: rows(batch.targets),
          weights: rows(batch.weights),
          advantages: rows(batch.advantages),
          old_logprobs: rows(batch.oldLogprobs as Float32Array),
          allowed: allowedLists,
          clip_eps: 0.2,
        }),
      );
      const reference = async (precision: 'float32' | 'float64') => {
        const out = join(dir, `${name}-grads-${precision}.f32`);
        const listing = JSON.parse(
          await runReferenceScript(join(root, 'python/lora_gradient_reference.py'), [
            path,
            adapter,
            batchFile,
            out,
            precision,
          ]),
        ) as { names: string[]; loss: number };
        return { ...listing, grads: new Float32Array(readFileSync(out).buffer.slice(0)) };
      };
      const listing = await reference('float32');
      // The exact gradients (float64): how far PyTorch's own float32 ones are from them is the precision
      // float32 allows on this model, which the engine's must match.
      const exact = await reference('float64');
      assert.deepEqual(exact.names, listing.names);
      const want = listing.grads;
      const { grads, loss } = await engine.trainStep(batch, true);
      assert.ok(grads);
      // The loss sums log-probabilities over 151,936-way softmaxes (Qwen) whose logits agree with
      // transformers to 1e-4 of their largest magnitude (real-logits.test.ts), a few thousandths absolute:
      // the sums then agree to about 1e-3 relative. The gradients below are the claim, at 1e-4.
      assert.ok(
        Math.abs(loss - listing.loss) <= 2e-3 * Math.abs(listing.loss),
        `loss ${loss} vs ${listing.loss}`,
      );
      let at = 0;
      let worst = 0;
      let worstExact = 0;
      let worstTorch = 0;
      for (const peftName of listing.names) {
        const ours = peftName.replace(/^base_model\.model\./, '').replace(/\.weight$/, '');
        const g = grads.get(ours);
        assert.ok(g, `no engine gradient for ${ours}`);
        const isA = ours.endsWith('.lora_A');
        const [inDim, outDim] = isA ? [g.length / LORA.rank, LORA.rank] : [LORA.rank, g.length / LORA.rank];
        const ref = want.subarray(at, at + g.length);
        const truth = exact.grads.subarray(at, at + g.length);
        at += g.length;
        // Ours [in, out]; peft's [out, in].
        const mine = transpose2d(g, inDim, outDim);
        const mineErr = relativeError(mine, truth);
        const torchErr = relativeError(ref, truth);
        worst = Math.max(worst, relativeError(mine, ref));
        worstExact = Math.max(worstExact, mineErr);
        worstTorch = Math.max(worstTorch, torchErr);
        // Within 1e-4 of the exact gradient, or no further from it than twice PyTorch's float32 is.
        assert.ok(
          mineErr < Math.max(1e-4, 2 * torchErr),
          `${ours}: relative difference from float64 ${mineErr} (PyTorch float32: ${torchErr})`,
        );
      }
      assert.equal(at, want.length);
      assert.equal(listing.names.length, engine.parameters.size);
      console.log(
        `${name}: ${listing.names.length} adapter gradients, worst relative difference from PyTorch float32 ${worst.toExponential(2)};` +
          ` from float64: engine ${worstExact.toExponential(2)}, PyTorch float32 ${worstTorch.toExponential(2)}`,
      );
    } finally {
      await engine.close();
    }
  });
}
