// LoRA gradients on real checkpoints against PyTorch + peft on the same weights: the loop's objective
// (PPO-clipped ratio against old log-probabilities, TRR++-style advantages of both signs, per-token
// weights, a vocabulary mask on some positions), one batch, every adapter matrix of every layer.
// python/lora_gradient_reference.py computes peft's gradients for the adapter the engine saved.
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

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'azr-lora-grads-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const LORA: LoraSettings = { rank: 8, alpha: 16, targets: [...LORA_TARGETS] };

for (const name of ['smollm2-135m', 'qwen2.5-coder-0.5b'] as RealModelName[]) {
  const model = realModel(name);
  test(`${name}: LoRA gradients of the loop's loss match PyTorch + peft within 1e-4`, {
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
      const out = join(dir, `${name}-grads.f32`);
      const listing = JSON.parse(
        await runReferenceScript(join(root, 'python/lora_gradient_reference.py'), [
          path,
          adapter,
          batchFile,
          out,
        ]),
      ) as { names: string[]; loss: number };
      const want = new Float32Array(readFileSync(out).buffer.slice(0));
      const { grads, loss } = await engine.trainStep(batch, true);
      assert.ok(grads);
      assert.ok(
        Math.abs(loss - listing.loss) <= 1e-4 * Math.abs(listing.loss),
        `loss ${loss} vs ${listing.loss}`,
      );
      let at = 0;
      let worst = 0;
      for (const peftName of listing.names) {
        const ours = peftName.replace(/^base_model\.model\./, '').replace(/\.weight$/, '');
        const g = grads.get(ours);
        assert.ok(g, `no engine gradient for ${ours}`);
        const isA = ours.endsWith('.lora_A');
        const [inDim, outDim] = isA ? [g.length / LORA.rank, LORA.rank] : [LORA.rank, g.length / LORA.rank];
        const ref = want.subarray(at, at + g.length);
        at += g.length;
        // Ours [in, out]; peft's [out, in].
        const mine = transpose2d(g, inDim, outDim);
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < ref.length; i++) {
          diff = Math.max(diff, Math.abs((mine[i] as number) - (ref[i] as number)));
          scale = Math.max(scale, Math.abs(ref[i] as number));
        }
        assert.ok(scale > 0, `${ours}: peft's gradient is zero`);
        worst = Math.max(worst, diff / scale);
        assert.ok(diff / scale < 1e-4, `${ours}: relative difference ${diff / scale}`);
      }
      assert.equal(at, want.length);
      assert.equal(listing.names.length, engine.parameters.size);
      console.log(
        `${name}: ${listing.names.length} adapter gradients, worst relative difference ${worst.toExponential(2)}`,
      );
    } finally {
      await engine.close();
    }
  });
}
