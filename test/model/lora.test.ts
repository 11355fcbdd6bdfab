// LoRA on the Llama family: the adapters' gradients against finite differences of the engine's own
// log-probabilities (both losses, prompt-sharing rows, a vocabulary mask), and sampling through merged
// adapters against the training graph's in-graph adapters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoraSettings } from '../../src/model/config.js';
import type { OrtModelEngine } from '../../src/model/engine.js';
import type { TrainBatch } from '../../src/model/engine-types.js';
import { sharePrompts } from '../../src/policy/builtin.js';
import { packTrainBatch, type Sequence } from '../../src/rl/objective.js';
import { Rng } from '../../src/util/rng.js';
import { gradientMismatches } from './finite-differences.js';
import { LLAMA_FIXTURES, loadLlamaFixture } from './llama-fixtures.js';

const LORA: LoraSettings = { rank: 4, alpha: 8, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] };

/** Random sequences; the first two share a prompt (a task's rollouts), the third has its own. */
function sequences(rng: Rng, V: number, masked: boolean): Sequence[] {
  const prompt = Array.from({ length: 5 }, () => rng.int(V));
  const seqs: Sequence[] = [
    { prompt, completion: Array.from({ length: 4 }, () => rng.int(V)), advantage: 1.2 },
    { prompt, completion: Array.from({ length: 3 }, () => rng.int(V)), advantage: -0.8 },
    { prompt: [3, 1, 4], completion: Array.from({ length: 5 }, () => rng.int(V)), advantage: 0.6 },
  ];
  if (masked)
    for (const q of seqs) {
      // Every other id allowed, and the sampled one.
      const allowed = new Uint8Array(q.completion.length * V);
      q.completion.forEach((id, t) => {
        for (let v = 0; v < V; v++) allowed[t * V + v] = v % 2 === t % 2 || v === id ? 1 : 0;
      });
      q.allowed = allowed;
    }
  return seqs;
}

/** Nonzero adapters (B starts at zero, where A's gradient vanishes): a nudge away from the start. */
function perturbAdapters(engine: OrtModelEngine, rng: Rng): void {
  for (const w of engine.parameters.values())
    for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + rng.normal() * 0.2;
  engine.parametersChanged();
}

for (const name of LLAMA_FIXTURES)
  for (const variant of ['pg', 'ppo'] as const)
    test(`${name}: every adapter matrix's gradient matches finite differences (${variant}, shared prompts, masked)`, async () => {
      const { engine, config } = await loadLlamaFixture(name, { lora: LORA, seed: 3 });
      try {
        const rng = new Rng(17);
        perturbAdapters(engine, rng);
        const seqs = sequences(rng, config.vocabSize, true);
        const packed = packTrainBatch(seqs, 12, 0, config.vocabSize);
        const batch: TrainBatch = sharePrompts(packed, seqs, config.contextLength, 0);
        let opts = {};
        if (variant === 'ppo') {
          const lp = await engine.logprobs(batch);
          batch.oldLogprobs = lp.map((x, i) => x + (i % 3 === 0 ? 0.5 : 0.05));
          batch.clipEpsilon = 0.2;
          opts = { clipEpsilon: 0.2 };
        }
        const bad = await gradientMismatches(engine, batch, opts, rng, 2);
        assert.deepEqual(bad, [], `${bad.length} gradient entries disagree`);
      } finally {
        await engine.close();
      }
    });

/** log-softmax of one row of logits, at `id`. */
function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of logits) max = Math.max(max, x);
  let z = 0;
  for (const x of logits) z += Math.exp(x - max);
  return (logits[id] as number) - max - Math.log(z);
}

for (const name of LLAMA_FIXTURES)
  test(`${name}: sampling through merged adapters agrees with the adapters in the training graph`, async () => {
    const { engine, config, ref } = await loadLlamaFixture(name, { lora: LORA, seed: 4 });
    try {
      const V = config.vocabSize;
      const seq = ref.sequences[0] as number[];
      const fresh = await engine.logprobs({
        batch: 1,
        time: seq.length - 1,
        tokens: Int32Array.from(seq.slice(0, -1)),
        targets: Int32Array.from(seq.slice(1)),
      });
      // A fresh adapter changes nothing: its B is zero.
      seq.slice(1).forEach((id, t) => {
        const want = logSoftmaxAt(Float32Array.from(ref.logits[0]?.[t] as number[]), id);
        assert.ok(Math.abs((fresh[t] as number) - want) < 1e-4, `position ${t}: ${fresh[t]} vs ${want}`);
      });
      // Train once, then compare the scoring graph (in-graph adapters) with decoding (merged weights).
      const rng = new Rng(8);
      const seqs = sequences(rng, V, false);
      await engine.trainStep(packTrainBatch(seqs, 12, 0, V));
      const scored = await engine.logprobs({
        batch: 1,
        time: seq.length - 1,
        tokens: Int32Array.from(seq.slice(0, -1)),
        targets: Int32Array.from(seq.slice(1)),
      });
      const cache = engine.newCache(1);
      let logits = await engine.prefill(cache, Int32Array.of(seq[0] as number), 1, Int32Array.of(1));
      let moved = 0;
      for (let t = 1; t < seq.length; t++) {
        const decoded = logSoftmaxAt(logits, seq[t] as number);
        assert.ok(
          Math.abs(decoded - (scored[t - 1] as number)) < 1e-4,
          `position ${t - 1}: decoded ${decoded}, scored ${scored[t - 1]}`,
        );
        moved = Math.max(moved, Math.abs((scored[t - 1] as number) - (fresh[t - 1] as number)));
        if (t < seq.length - 1) logits = await engine.decode(cache, Int32Array.of(seq[t] as number));
      }
      engine.freeCache(cache);
      assert.ok(moved > 1e-3, `the step changed log-probabilities by at most ${moved}`);
    } finally {
      await engine.close();
    }
  });

test('a step toward a rewarded sequence raises its log-probability and lowers a penalized one', async () => {
  const { engine, config } = await loadLlamaFixture('qwen2', { lora: LORA, seed: 5 });
  try {
    const rng = new Rng(9);
    const V = config.vocabSize;
    const prompt = [7, 8, 9, 10];
    const good = Array.from({ length: 6 }, () => rng.int(V));
    const bad = Array.from({ length: 6 }, () => rng.int(V));
    const score = async (completion: number[]) => {
      const all = [...prompt, ...completion];
      const lp = await engine.logprobs({
        batch: 1,
        time: all.length - 1,
        tokens: Int32Array.from(all.slice(0, -1)),
        targets: Int32Array.from(all.slice(1)),
      });
      return lp.slice(prompt.length - 1).reduce((a, b) => a + b, 0);
    };
    const before = [await score(good), await score(bad)];
    for (let i = 0; i < 3; i++)
      await engine.trainStep(
        packTrainBatch(
          [
            { prompt, completion: good, advantage: 1 },
            { prompt, completion: bad, advantage: -1 },
          ],
          prompt.length + 6,
          0,
          V,
        ),
      );
    const after = [await score(good), await score(bad)];
    assert.ok((after[0] as number) > (before[0] as number) + 0.1, `rewarded: ${before[0]} -> ${after[0]}`);
    assert.ok((after[1] as number) < (before[1] as number) - 0.1, `penalized: ${before[1]} -> ${after[1]}`);
  } finally {
    await engine.close();
  }
});

test('a LoRA checkpoint resumes exactly: the next step from a reloaded engine equals the uninterrupted one', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadAdapterEngine } = await import('../../src/model/engine.js');
  const dir = mkdtempSync(join(tmpdir(), 'azr-lora-'));
  const { engine, config } = await loadLlamaFixture('qwen3', { lora: LORA, seed: 7 });
  try {
    const rng = new Rng(3);
    const V = config.vocabSize;
    const batch = () => packTrainBatch(sequences(rng, V, false), 12, 0, V);
    await engine.trainStep(batch());
    const file = join(dir, 'state.safetensors');
    await engine.save(file);
    const second = batch();
    await engine.trainStep(second);
    const again = await loadAdapterEngine(
      file,
      { config, weights: engine.baseWeights as Map<string, Float32Array> },
      { threads: 1 },
    );
    try {
      assert.equal(again.step, 1);
      await again.trainStep(second);
      for (const [k, a] of engine.parameters) assert.deepEqual(again.parameters.get(k), a, k);
    } finally {
      await again.close();
    }
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
