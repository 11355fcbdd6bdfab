import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/model/checkpoint.js';
import type { ModelConfig } from '../../src/model/config.js';
import {
  createModelEngine,
  type EngineOptions,
  loadModelEngine,
  trainChunks,
} from '../../src/model/engine.js';
import type { TrainBatch } from '../../src/model/engine-types.js';
import { packTrainBatch } from '../../src/rl/objective.js';
import { Rng } from '../../src/util/rng.js';
import { gradientMismatches, perturbParameters } from './finite-differences.js';
import { referenceLogprobs } from './reference-gpt.js';
import { assertSameTrainStep } from './same-step.js';

const cfg: ModelConfig = { vocabSize: 272, contextLength: 16, layers: 2, dModel: 16, heads: 2 };
const optimizer = {
  learningRate: 1e-2,
  warmupSteps: 0,
  weightDecay: 0.1,
  gradClip: 1e9,
  beta1: 0.9,
  beta2: 0.99,
};
const dir = mkdtempSync(join(tmpdir(), 'azr-model-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function randomBatch(seed: number, advantages = [1.5, -0.7]): TrainBatch {
  const rng = new Rng(seed);
  const seqs = advantages.map((advantage, i) => ({
    prompt: Array.from({ length: 3 + i }, () => rng.int(cfg.vocabSize)),
    completion: Array.from({ length: 6 - i * 2 }, () => rng.int(cfg.vocabSize)),
    advantage,
  }));
  return packTrainBatch(seqs, 10, 258);
}

test('the forward pass matches a plain TypeScript reference implementation', async () => {
  const engine = await createModelEngine(cfg, { threads: 1, seed: 3, optimizer });
  // Perturb the zero-initialised biases and unit norms so every parameter matters.
  const rng = new Rng(9);
  perturbParameters(engine, rng, 0.05);
  const batch = randomBatch(1);
  const got = await engine.logprobs(batch);
  const want = referenceLogprobs(cfg, engine.parameters, batch);
  let worst = 0;
  for (let i = 0; i < got.length; i++)
    worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)));
  assert.ok(worst < 1e-4, `max |logprob difference| ${worst}`);
  await engine.close();
});

for (const variant of ['pg', 'ppo'] as const) {
  test(`every parameter's gradient matches finite differences (${variant} loss)`, async () => {
    const engine = await createModelEngine(cfg, { threads: 1, seed: 5, optimizer });
    const rng = new Rng(11);
    perturbParameters(engine, rng, 0.1);
    const batch = randomBatch(2);
    let opts = {};
    if (variant === 'ppo') {
      // Old log-probs near the current ones, so some tokens fall inside the clip range and some outside.
      const lp = await engine.logprobs(batch);
      batch.oldLogprobs = lp.map((x, i) => x + (i % 3 === 0 ? 0.5 : 0.05));
      batch.clipEpsilon = 0.2;
      opts = { clipEpsilon: 0.2 };
    }
    const bad = await gradientMismatches(engine, batch, opts, rng);
    assert.deepEqual(bad, [], `${bad.length} gradient entries disagree`);
    await engine.close();
  });
}

test('trainChunks: rows cut after their last weighted position, longest first, within the budget', () => {
  const time = 40;
  // Row r's last weighted position is ends[r] - 1 (0: no weighted position; row 4 has weight but no advantage).
  const ends = [10, 0, 37, 17, 25, 33, 3];
  const weights = new Float32Array(ends.length * time);
  const advantages = new Float32Array(ends.length * time);
  ends.forEach((e, r) => {
    for (let t = 0; t < e; t++) {
      weights[r * time + t] = t < 2 ? 0 : 0.1;
      advantages[r * time + t] = r === 4 ? 0 : 1;
    }
  });
  const chunks = trainChunks({ batch: ends.length, time, weights, advantages }, 64);
  // Lengths 37 (-> 40, cut at the batch's time), 33 (48 > 40: 40), 17 (32), 10 (16), 3 (16); 64 / 40 = 1 row.
  assert.deepEqual(chunks, [
    { rows: [2], time: 40 },
    { rows: [5], time: 40 },
    { rows: [3, 0], time: 32 },
    { rows: [6], time: 16 },
  ]);
  // A batch without any weighted position (all-zero advantages) needs no gradient run at all.
  const none = new Float32Array(ends.length * time);
  assert.deepEqual(trainChunks({ batch: ends.length, time, weights, advantages: none }, 64), []);
});

for (const variant of ['pg', 'ppo'] as const) {
  test(`a step split into row chunks matches the step in one run (${variant} loss, masked)`, async () => {
    const big: ModelConfig = { ...cfg, contextLength: 32 };
    const rng = new Rng(31);
    const V = big.vocabSize;
    const seqs = [3, 9, 5, 12, 1, 7].map((n, i) => {
      const completion = Array.from({ length: n }, () => rng.int(V));
      const allowed = new Uint8Array(n * V);
      completion.forEach((id, k) => {
        for (let j = 0; j < V; j++) allowed[k * V + j] = j === id || rng.next() < 0.5 ? 1 : 0;
      });
      return {
        prompt: Array.from({ length: 2 + ((i * 5) % 11) }, () => rng.int(V)),
        completion,
        advantage: i === 4 ? 0 : i % 2 ? 0.8 : -1.3,
        oldLogprobs: completion.map(() => -2 - rng.next()),
        allowed,
      };
    });
    const batch = packTrainBatch(seqs, 24, 258, V);
    if (variant === 'ppo') batch.clipEpsilon = 0.2;
    else delete batch.oldLogprobs;
    const whole = await createModelEngine(big, { threads: 1, seed: 4, optimizer });
    const split = await createModelEngine(big, { threads: 1, seed: 4, optimizer, chunkTokens: 20 });
    for (const e of [whole, split]) perturbParameters(e, new Rng(2), 0.1);
    // Two steps: the second from the weights the first wrote (parameters whose gradient is rounding noise,
    // like the key bias under softmax's shift invariance, may differ by up to 2 lr after it; they change
    // nothing downstream).
    for (let step = 0; step < 2; step++) {
      const a = await whole.trainStep(batch, true);
      const b = await split.trainStep(batch, true);
      assertSameTrainStep(a, b);
    }
    await whole.close();
    await split.close();
  });
}

test('AdamW: the first step moves each weight by lr * sign(g) plus decoupled decay', async () => {
  const engine = await createModelEngine(cfg, { threads: 1, seed: 7, optimizer });
  const before = new Map([...engine.parameters].map(([k, v]) => [k, Float32Array.from(v)]));
  const { grads } = await engine.trainStep(randomBatch(3), true);
  assert.ok(grads);
  const lr = optimizer.learningRate;
  for (const name of ['h.0.attn.qkv.weight', 'h.1.mlp.fc.bias', 'lnf.weight', 'wpe']) {
    const w0 = before.get(name) as Float32Array;
    const w1 = engine.parameters.get(name) as Float32Array;
    const g = grads.get(name) as Float32Array;
    const decayed = name.endsWith('.weight') && !name.startsWith('lnf') ? true : name === 'wpe';
    for (let i = 0; i < Math.min(50, g.length); i++) {
      const gi = g[i] as number;
      if (Math.abs(gi) < 1e-5) continue; // where |g| ~ eps the update is not sign-like
      const expected =
        (w0[i] as number) -
        lr * Math.sign(gi) -
        (decayed ? lr * optimizer.weightDecay * (w0[i] as number) : 0);
      assert.ok(Math.abs((w1[i] as number) - expected) < 1e-5, `${name}[${i}]: ${w1[i]} vs ${expected}`);
    }
  }
  await engine.close();
});

test("AdamW: a second step matches the update computed by hand from both steps' gradients", async () => {
  const opt = { ...optimizer, beta2: 0.95 };
  const engine = await createModelEngine(cfg, { threads: 1, seed: 8, optimizer: opt });
  const g1 = (await engine.trainStep(randomBatch(3), true)).grads as Map<string, Float32Array>;
  const w1 = new Map([...engine.parameters].map(([k, v]) => [k, Float32Array.from(v)]));
  const g2 = (await engine.trainStep(randomBatch(4), true)).grads as Map<string, Float32Array>;
  const { learningRate: lr, beta1: b1, beta2: b2, weightDecay: wd } = opt;
  for (const name of ['h.1.attn.proj.weight', 'h.0.ln2.bias', 'wte']) {
    const decayed = name !== 'h.0.ln2.bias';
    const w = engine.parameters.get(name) as Float32Array;
    for (let i = 0; i < Math.min(40, w.length); i++) {
      const a = (g1.get(name) as Float32Array)[i] as number;
      const b = (g2.get(name) as Float32Array)[i] as number;
      const m = b1 * (1 - b1) * a + (1 - b1) * b;
      const v = b2 * (1 - b2) * a * a + (1 - b2) * b * b;
      const mhat = m / (1 - b1 ** 2);
      const vhat = v / (1 - b2 ** 2);
      const prev = (w1.get(name) as Float32Array)[i] as number;
      const want = prev - lr * (mhat / (Math.sqrt(vhat) + 1e-8)) - (decayed ? lr * wd * prev : 0);
      assert.ok(Math.abs((w[i] as number) - want) < 2e-6, `${name}[${i}]: ${w[i]} vs ${want}`);
    }
  }
  await engine.close();
});

test("gradient clipping: the reported norm is the raw gradient's, and the moments hold the clipped gradient", async () => {
  const clip = 1e-3;
  const engine = await createModelEngine(cfg, {
    threads: 1,
    seed: 7,
    optimizer: { ...optimizer, gradClip: clip, weightDecay: 0 },
  });
  const s = await engine.trainStep(randomBatch(3), true);
  const grads = s.grads as Map<string, Float32Array>;
  let sq = 0;
  for (const g of grads.values()) for (const x of g) sq += x * x;
  assert.ok(Math.abs(Math.sqrt(sq) - s.gradNorm) / s.gradNorm < 1e-3);
  assert.ok(s.gradNorm > 100 * clip, `norm ${s.gradNorm} should be far above the clip`);
  const file = join(dir, 'clip.safetensors');
  await engine.save(file);
  const m = readSafetensors(file).tensors;
  for (const name of ['wte', 'h.0.mlp.fc.weight', 'lnf.bias']) {
    const g = grads.get(name) as Float32Array;
    const mom = (m.get(`adam.m.${name}`) as { data: Float32Array }).data;
    for (let i = 0; i < Math.min(20, g.length); i++) {
      const want = (1 - optimizer.beta1) * (g[i] as number) * (clip / s.gradNorm);
      assert.ok(Math.abs((mom[i] as number) - want) <= 1e-6 * Math.abs(want) + 1e-12, `${name}[${i}]`);
    }
  }
  await engine.close();
});

test('learning-rate schedule: linear warmup, then constant or cosine down to the floor', async () => {
  const base = { threads: 1, seed: 1, optimizer: { ...optimizer, learningRate: 1, warmupSteps: 4 } };
  const constant = await createModelEngine(cfg, base);
  assert.deepEqual(
    [1, 2, 4, 100].map((s) => constant.learningRate(s)),
    [0.25, 0.5, 1, 1],
  );
  const cosine = await createModelEngine(cfg, {
    ...base,
    schedule: { kind: 'cosine', totalSteps: 14, minRatio: 0.1 },
  } satisfies EngineOptions);
  assert.equal(cosine.learningRate(2), 0.5);
  assert.equal(cosine.learningRate(4), 1);
  assert.ok(Math.abs(cosine.learningRate(9) - 0.55) < 1e-12);
  assert.ok(Math.abs(cosine.learningRate(14) - 0.1) < 1e-12);
  assert.ok(Math.abs(cosine.learningRate(50) - 0.1) < 1e-12);
  await constant.close();
  await cosine.close();
});

test('training on a fixed batch drives the loss down (plain cross-entropy: advantage 1)', async () => {
  const engine = await createModelEngine(
    { ...cfg, dModel: 32 },
    { threads: 1, seed: 1, optimizer: { ...optimizer, weightDecay: 0 } },
  );
  const batch = randomBatch(4, [1, 1]);
  const first = (await engine.trainStep(batch)).loss;
  let last = first;
  for (let i = 0; i < 30; i++) last = (await engine.trainStep(batch)).loss;
  assert.ok(last < first * 0.3, `loss ${first} -> ${last}`);
  await engine.close();
});

const logSoftmaxAt = (logits: Float32Array, V: number, b: number, id: number) => {
  const row = logits.subarray(b * V, (b + 1) * V);
  let max = Number.NEGATIVE_INFINITY;
  for (const x of row) max = Math.max(max, x);
  let z = 0;
  for (const x of row) z += Math.exp(x - max);
  return (row[id] as number) - max - Math.log(z);
};

for (const sampleWeights of ['inputs', 'baked'] as const) {
  test(`prefill + decode equal the full forward at every position, rows of different lengths and a repeated prompt, after an update (${sampleWeights} weights)`, async () => {
    // Long enough that the cache grows twice while decoding (64 -> 128 slots, then to the context's 175).
    const c: ModelConfig = { ...cfg, contextLength: 160 };
    // With fed weights, every row is prefilled on its own (a score budget of one byte), so the row-chunked
    // prefill is held to the same forward pass as the whole-batch one.
    const chunked = sampleWeights === 'inputs' ? { prefillScoreBytes: 1 } : {};
    const engine = await createModelEngine(c, { threads: 1, seed: 2, optimizer, sampleWeights, ...chunked });
    const rng = new Rng(13);
    perturbParameters(engine, rng, 0.05);
    // Row 3 starts with row 1's prompt: the prefill computes it once and copies it; the rows part after it.
    const promptLens = [20, 3, 9, 3];
    const steps = 120;
    const T = 20 + steps;
    const B = promptLens.length;
    const tokens = Int32Array.from({ length: B * T }, () => rng.int(c.vocabSize));
    tokens.copyWithin(3 * T, T, T + 3);
    const targets = Int32Array.from({ length: B * T }, (_, i) =>
      (i + 1) % T === 0 ? 0 : (tokens[i + 1] as number),
    );
    const cache = engine.newCache(B);
    // Sample once before the update so a stale session or weight feed would show.
    await engine.prefill(cache, tokens, T, Int32Array.from(promptLens));
    await engine.trainStep(randomBatch(8));
    const full = await engine.logprobs({ batch: B, time: T, tokens, targets });
    // The next cache reuses this one's memory, stale keys and values included.
    engine.freeCache(cache);
    await assert.rejects(engine.decode(cache, new Int32Array(B)), /freed/);
    const fresh = engine.newCache(B);
    let logits = await engine.prefill(fresh, tokens, T, Int32Array.from(promptLens));
    let worst = 0;
    for (let step = 0; step < steps; step++) {
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const p = (promptLens[b] as number) - 1 + step; // the position whose next token the logits predict
        if (p + 1 < T) {
          const got = logSoftmaxAt(logits, c.vocabSize, b, tokens[b * T + p + 1] as number);
          worst = Math.max(worst, Math.abs(got - (full[b * T + p] as number)));
          next[b] = tokens[b * T + p + 1] as number;
        }
      }
      logits = await engine.decode(fresh, next);
    }
    assert.ok(worst < 1e-4, `max |logprob difference| ${worst}`);
    assert.deepEqual(
      [...fresh.lengths],
      promptLens.map((n) => n + steps),
    );
    await engine.close();
  });
}

test('same seed and threads give identical weights; a checkpoint resumes bit for bit (moments, step, RNG)', async () => {
  const a = await createModelEngine(cfg, { threads: 1, seed: 21, optimizer });
  const b = await createModelEngine(cfg, { threads: 1, seed: 21, optimizer });
  const batches = [randomBatch(5), randomBatch(6), randomBatch(7)];
  for (const x of batches) await a.trainStep(x);
  await b.trainStep(batches[0] as TrainBatch);
  await b.trainStep(batches[1] as TrainBatch);
  b.rng.nextU32();
  const rngAtSave = b.rng.state();
  const file = join(dir, 'ckpt.safetensors');
  await b.save(file);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left behind',
  );
  await b.trainStep(batches[2] as TrainBatch);
  const c = await loadModelEngine(file, { threads: 1 });
  assert.equal(c.step, 2);
  assert.deepEqual(c.rng.state(), rngAtSave);
  const sc = await c.trainStep(batches[2] as TrainBatch);
  assert.equal(sc.step, 3);
  for (const [name, w] of a.parameters) {
    assert.deepEqual(c.parameters.get(name), w, name);
    assert.deepEqual(b.parameters.get(name), w, name);
  }
  await a.close();
  await b.close();
  await c.close();
});

test('a checkpoint that is not ours is refused with a readable error', async () => {
  const file = join(dir, 'junk.safetensors');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, Buffer.from('not a checkpoint at all'));
  await assert.rejects(loadModelEngine(file, { threads: 1 }), /safetensors|checkpoint/);
});
