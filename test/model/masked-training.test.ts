// Training under the sampler's vocabulary mask: the sampler records the mask of every token, the packer
// places it at the token's position, and the engine's log-softmax, loss and gradients run over the allowed
// tokens only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constraintFor } from '../../src/grammar/index.js';
import type { ModelConfig } from '../../src/model/config.js';
import { createModelEngine } from '../../src/model/engine.js';
import type { TrainBatch } from '../../src/model/engine-types.js';
import { BOS, PAD, sampleRows } from '../../src/model/sampler.js';
import { encode } from '../../src/model/tokenizer.js';
import { MIN_VOCAB } from '../../src/model/vocab.js';
import { packTrainBatch } from '../../src/rl/objective.js';
import { Rng } from '../../src/util/rng.js';
import { gradientMismatches, perturbParameters } from './finite-differences.js';

const V = 272;
const cfg: ModelConfig = { vocabSize: V, contextLength: 16, layers: 2, dModel: 16, heads: 2 };
const optimizer = {
  learningRate: 1e-2,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1e9,
  beta1: 0.9,
  beta2: 0.99,
};

/**
 * Two sequences whose completion masks allow a random third of the vocabulary at each position, always
 * including the token that was drawn, and never ids >= 200 (so those tokens are masked everywhere).
 */
function maskedBatch(seed: number, advantages = [1.5, -0.7]): TrainBatch {
  const rng = new Rng(seed);
  const seqs = advantages.map((advantage, i) => {
    const completion = Array.from({ length: 6 - i * 2 }, () => rng.int(200));
    const allowed = new Uint8Array(completion.length * V);
    completion.forEach((id, k) => {
      for (let j = 0; j < 200; j++) allowed[k * V + j] = rng.next() < 1 / 3 ? 1 : 0;
      allowed[k * V + id] = 1;
    });
    return { prompt: Array.from({ length: 3 + i }, () => rng.int(200)), completion, advantage, allowed };
  });
  return packTrainBatch(seqs, 10, 0, V);
}

test('masked log-probabilities renormalise over the allowed tokens only', async () => {
  const engine = await createModelEngine(cfg, { threads: 1, seed: 3, optimizer });
  try {
    perturbParameters(engine, new Rng(9), 0.3);
    const rng = new Rng(4);
    const N = 2 * 8;
    const tokens = Int32Array.from({ length: N }, () => rng.int(200));
    const targets = Int32Array.from({ length: N }, () => rng.int(200));
    // Another token per position, different from the target.
    const others = targets.map((t) => (t + 1 + rng.int(199)) % 200);
    const full = await engine.logprobs({ batch: 2, time: 8, tokens, targets });
    const fullOther = await engine.logprobs({ batch: 2, time: 8, tokens, targets: others });
    // Allowed: {target, other}. Then log p' = lp_t - log(exp(lp_t) + exp(lp_o)).
    const pair = new Uint8Array(N * V);
    for (let i = 0; i < N; i++) {
      pair[i * V + (targets[i] as number)] = 1;
      pair[i * V + (others[i] as number)] = 1;
    }
    const masked = await engine.logprobs({ batch: 2, time: 8, tokens, targets, allowed: pair });
    for (let i = 0; i < N; i++) {
      const t = full[i] as number;
      const o = fullOther[i] as number;
      const want = t - Math.log(Math.exp(t) + Math.exp(o));
      assert.ok(Math.abs((masked[i] as number) - want) < 1e-4, `position ${i}: ${masked[i]} vs ${want}`);
    }
    // Everything allowed: the full softmax. Only the target allowed: certainty.
    const all = await engine.logprobs({
      batch: 2,
      time: 8,
      tokens,
      targets,
      allowed: new Uint8Array(N * V).fill(1),
    });
    for (let i = 0; i < N; i++) assert.ok(Math.abs((all[i] as number) - (full[i] as number)) < 1e-5);
    const only = new Uint8Array(N * V);
    for (let i = 0; i < N; i++) only[i * V + (targets[i] as number)] = 1;
    const sure = await engine.logprobs({ batch: 2, time: 8, tokens, targets, allowed: only });
    for (const x of sure) assert.ok(Math.abs(x) < 1e-6, `only the target allowed gives log p = ${x}`);
    // A target its own mask forbids is a bug upstream and is refused.
    const forbidding = only.slice();
    forbidding[3 * V + (targets[3] as number)] = 0;
    await assert.rejects(
      engine.logprobs({ batch: 2, time: 8, tokens, targets, allowed: forbidding }),
      /target .* at position 3 is not allowed/,
    );
    await assert.rejects(
      engine.logprobs({ batch: 2, time: 8, tokens, targets, allowed: only.subarray(V) }),
      /allowed must hold/,
    );
  } finally {
    await engine.close();
  }
});

for (const variant of ['pg', 'ppo'] as const) {
  test(`under a mask, every parameter's gradient matches finite differences (${variant} loss)`, async () => {
    const engine = await createModelEngine(cfg, { threads: 1, seed: 5, optimizer });
    try {
      perturbParameters(engine, new Rng(11), 0.1);
      const batch = maskedBatch(2);
      let opts = {};
      if (variant === 'ppo') {
        const lp = await engine.logprobs(batch);
        batch.oldLogprobs = lp.map((x, i) => x + (i % 3 === 0 ? 0.5 : 0.05));
        batch.clipEpsilon = 0.2;
        opts = { clipEpsilon: 0.2 };
      }
      const bad = await gradientMismatches(engine, batch, opts, new Rng(12));
      assert.deepEqual(bad, [], `${bad.length} gradient entries disagree`);
    } finally {
      await engine.close();
    }
  });
}

test('tokens masked at every position get no head gradient; under the full softmax they do', async () => {
  // A negative advantage under the full softmax pushes probability into every other token, including
  // those the sampler can never draw; under the mask those tokens' embedding rows are left alone.
  const grads = async (masked: boolean) => {
    const engine = await createModelEngine(cfg, { threads: 1, seed: 7, optimizer });
    try {
      perturbParameters(engine, new Rng(8), 0.1);
      const batch = maskedBatch(3, [-1, -1]);
      if (!masked) delete batch.allowed;
      const { grads: g } = await engine.trainStep(batch, true);
      assert.ok(g);
      return (g.get('wte') as Float32Array).slice();
    } finally {
      await engine.close();
    }
  };
  const rowNorm = (w: Float32Array, id: number) => {
    let s = 0;
    for (let d = 0; d < cfg.dModel; d++) s += (w[id * cfg.dModel + d] as number) ** 2;
    return Math.sqrt(s);
  };
  const underMask = await grads(true);
  const full = await grads(false);
  // Ids >= 200 are never allowed and never inputs (prompts, completions and the padding id 0 are below).
  for (const id of [200, 230, 257]) {
    assert.equal(rowNorm(underMask, id), 0, `masked token ${id}`);
    assert.ok(rowNorm(full, id) > 1e-6, `unmasked token ${id}`);
  }
});

test('the sampler records each token’s mask; training under it reproduces the sampler’s log-probabilities', async () => {
  const config: ModelConfig = { vocabSize: V, contextLength: 96, layers: 2, dModel: 32, heads: 2 };
  const engine = await createModelEngine(config, { threads: 1, seed: 21, optimizer });
  try {
    perturbParameters(engine, new Rng(22), 0.02);
    const constraint = constraintFor({
      style: 'compact',
      type: 'deduction',
      role: 'solver',
      lang: 'python',
      inductionInputs: 10,
      returnOnly: false,
      exprDepth: 2,
      shortInputs: false,
      boolReturns: true,
    });
    assert.ok(constraint);
    const prompt = [BOS, ...encode('f(x) = x + 1; f(2) = ')];
    const rows = [0, 1, 2, 3].map((seed) => ({
      prompt,
      maxTokens: 40,
      temperature: 1,
      topP: 1,
      seed,
      recordMasks: true,
      ...(seed < 3 ? { constraint } : {}),
    }));
    const sampled = await sampleRows(engine, rows);
    for (const [r, s] of sampled.entries()) {
      assert.ok(s.allowed, `row ${r} has masks`);
      assert.equal(s.allowed.length, s.tokens.length * V);
      s.tokens.forEach((id, k) => {
        const row = (s.allowed as Uint8Array).subarray(k * V, (k + 1) * V);
        assert.equal(row[id], 1, `row ${r} token ${k} was allowed`);
        assert.equal(row[BOS], 0);
        assert.equal(row[PAD], 0);
        for (let j = MIN_VOCAB; j < V; j++) assert.equal(row[j], 0);
      });
    }
    // The grammar narrows the mask (an answer starts with a literal, not with any byte).
    const [grammar, , , free] = sampled;
    assert.ok(grammar?.allowed && free?.allowed);
    const first = grammar.allowed.subarray(0, V);
    const unconstrained = free.allowed.subarray(0, V);
    const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
    assert.ok(count(first) < count(unconstrained), `${count(first)} < ${count(unconstrained)}`);
    // Sampled at temperature 1 and top-p 1, the sampler's log-probabilities are the masked policy's.
    const time = Math.max(...sampled.map((s) => prompt.length + s.tokens.length - 1));
    const batch = packTrainBatch(
      sampled.map((s) => ({ prompt, completion: s.tokens, advantage: 1, allowed: s.allowed as Uint8Array })),
      time,
      PAD,
      V,
    );
    const lp = await engine.logprobs(batch);
    let worst = 0;
    sampled.forEach((s, b) => {
      const start = prompt.length - 1;
      s.logprobs.forEach((want, k) => {
        worst = Math.max(worst, Math.abs((lp[b * time + start + k] as number) - want));
      });
    });
    assert.ok(worst < 1e-4, `max |train - sampler logprob| = ${worst}`);
    // Without the masks the same tokens score lower (the mask's mass went elsewhere).
    const { allowed: _, ...unmasked } = batch;
    const lpFull = await engine.logprobs(unmasked);
    const start = prompt.length - 1;
    assert.ok((lpFull[start] as number) < (lp[start] as number) - 1e-3);
  } finally {
    await engine.close();
  }
});
