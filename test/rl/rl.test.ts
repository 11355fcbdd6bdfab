import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packTrainBatch } from '../../src/rl/objective.js';
import { groupStats, trrAdvantages } from '../../src/rl/trrpp.js';
import { policyGradientLoss } from './reference-loss.js';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) < tol, `${a} != ${b}`);

test('TRR++ normalises within each group: hand-computed batch', () => {
  // Group A rewards 1, 0, 0, 1: mean 0.5, population std 0.5 -> advantages +-1 (up to eps).
  // Group B rewards -1, 0.5: mean -0.25, std 0.75 -> -1, +1. Group C has one sample -> 0.
  // Group D has zero variance -> 0.
  const adv = trrAdvantages([
    { group: 'A', reward: 1 },
    { group: 'B', reward: -1 },
    { group: 'A', reward: 0 },
    { group: 'C', reward: 0.7 },
    { group: 'A', reward: 0 },
    { group: 'B', reward: 0.5 },
    { group: 'A', reward: 1 },
    { group: 'D', reward: 0.3 },
    { group: 'D', reward: 0.3 },
  ]);
  const expected = [1, -1, -1, 0, -1, 1, 1, 0, 0];
  for (const [i, e] of expected.entries()) close(adv[i] as number, e, 1e-5);
  // Three-element group: rewards 0, 0, 3 -> mean 1, std sqrt(2) -> -0.7071, -0.7071, 1.4142
  const three = trrAdvantages([0, 0, 3].map((reward) => ({ group: 'g', reward })));
  close(three[0] as number, -1 / Math.SQRT2, 1e-5);
  close(three[2] as number, 2 / Math.SQRT2, 1e-5);
  assert.throws(() => trrAdvantages([{ group: 'g', reward: Number.NaN }]), RangeError);
});

test('packing: completion tokens carry weight 1/(len*B) and the advantage; prompt and padding weigh 0', () => {
  const b = packTrainBatch(
    [
      { prompt: [1, 2, 3], completion: [4, 5], advantage: 0.5 },
      { prompt: [7], completion: [8, 9, 10, 11], advantage: -1 },
    ],
    6,
    0,
  );
  assert.deepEqual([...b.tokens.slice(0, 6)], [1, 2, 3, 4, 0, 0]);
  assert.deepEqual([...b.targets.slice(0, 6)], [2, 3, 4, 5, 0, 0]);
  assert.deepEqual([...b.weights.slice(0, 6)], [0, 0, 0.25, 0.25, 0, 0]);
  assert.deepEqual([...b.advantages.slice(0, 6)], [0, 0, 0.5, 0.5, 0, 0]);
  assert.deepEqual([...b.tokens.slice(6)], [7, 8, 9, 10, 0, 0]);
  assert.deepEqual([...b.weights.slice(6)], [0.125, 0.125, 0.125, 0.125, 0, 0]);
  // Sum of weights is 1: a mean over tokens, then over sequences.
  close(
    b.weights.reduce((s, w) => s + w, 0),
    1,
  );
});

test('packing: an over-long sequence loses the start of its prompt, never its completion', () => {
  const b = packTrainBatch([{ prompt: [1, 2, 3, 4, 5], completion: [6, 7], advantage: 1 }], 4, 0);
  assert.deepEqual([...b.tokens], [3, 4, 5, 6]);
  assert.deepEqual([...b.targets], [4, 5, 6, 7]);
  assert.deepEqual([...b.weights], [0, 0, 0.5, 0.5]);
});

test('objective: plain REINFORCE and PPO clipping against hand values', () => {
  const batch = packTrainBatch(
    [{ prompt: [1], completion: [2, 3], advantage: 2, oldLogprobs: [-1, -1] }],
    2,
    0,
  );
  const lp = new Float32Array([-0.5, -2]);
  // -(1/2) * (2 * -0.5 + 2 * -2) = 2.5
  close(policyGradientLoss(batch, lp), 2.5);
  // rho = e^{0.5}, e^{-1}; clip 0.2 -> min(rho*A, clip(rho)*A) = 1.2*2 and e^-1*2
  const clipped = -(0.5 * (1.2 * 2) + 0.5 * (Math.exp(-1) * 2));
  close(policyGradientLoss(batch, lp, { clipEpsilon: 0.2 }), clipped, 1e-5);
});

test('TRR++ over the six (type x role) groups of a batch, interleaved', () => {
  // deduction/solver 1, 0, 1, 1: mean 0.75, std sqrt(0.1875); abduction/proposer 0.875, -1, -0.5;
  // induction/solver all -0.5: zero; deduction/proposer one sample: zero.
  const batch = [
    { group: 'deduction/solver', reward: 1 },
    { group: 'abduction/proposer', reward: 0.875 },
    { group: 'deduction/solver', reward: 0 },
    { group: 'induction/solver', reward: -0.5 },
    { group: 'deduction/proposer', reward: 0.5 },
    { group: 'deduction/solver', reward: 1 },
    { group: 'abduction/proposer', reward: -1 },
    { group: 'induction/solver', reward: -0.5 },
    { group: 'abduction/proposer', reward: -0.5 },
    { group: 'deduction/solver', reward: 1 },
  ];
  const adv = trrAdvantages(batch);
  const sd = Math.sqrt(0.1875);
  const mA = (0.875 - 1 - 0.5) / 3;
  const sA = Math.sqrt(((0.875 - mA) ** 2 + (-1 - mA) ** 2 + (-0.5 - mA) ** 2) / 3);
  const want = [
    0.25 / sd,
    (0.875 - mA) / sA,
    -0.75 / sd,
    0,
    0,
    0.25 / sd,
    (-1 - mA) / sA,
    0,
    (-0.5 - mA) / sA,
    0.25 / sd,
  ];
  for (const [i, w] of want.entries()) close(adv[i] as number, w, 1e-5);
  // Normalised groups have mean 0 and (population) std 1, up to eps.
  const ds = adv.filter((_, i) => batch[i]?.group === 'deduction/solver');
  close(
    ds.reduce((a, b) => a + b, 0),
    0,
    1e-9,
  );
  close(Math.sqrt(ds.reduce((a, b) => a + b * b, 0) / ds.length), 1, 1e-5);
  assert.deepEqual(trrAdvantages([]), []);
});

test('TRR++ options and edge cases: unbiased std, exact zero for equal rewards, eps', () => {
  const pair = [
    { group: 'g', reward: 1 },
    { group: 'g', reward: 0 },
  ];
  close(trrAdvantages(pair)[0] as number, 1, 1e-5);
  close(trrAdvantages(pair, { unbiased: true })[0] as number, 1 / Math.SQRT2, 1e-5);
  close(trrAdvantages(pair, { eps: 0.5 })[0] as number, 0.5 / 1, 1e-12);
  // 0.1 + 0.1 + 0.1 has a rounded mean, yet equal rewards must give exactly 0.
  assert.deepEqual(trrAdvantages([0.1, 0.1, 0.1].map((reward) => ({ group: 'g', reward }))), [0, 0, 0]);
  const stats = groupStats([...pair, { group: 'h', reward: 2 }]);
  assert.deepEqual(stats.get('g'), { n: 2, mean: 0.5, std: 0.5 });
  assert.deepEqual(stats.get('h'), { n: 1, mean: 2, std: 0 });
});

test('objective: per-token weights give the mean over each sequence, then over the batch', () => {
  const batch = packTrainBatch(
    [
      { prompt: [1, 2], completion: [3, 4, 5], advantage: 1.5 },
      { prompt: [1], completion: [6], advantage: -2 },
      { prompt: [1], completion: [], advantage: 3 },
    ],
    5,
    0,
  );
  const lp = new Float32Array(batch.batch * batch.time).map((_, i) => -0.1 * (i + 1));
  // Row 0 completion targets sit at t = 1..3, row 1 at t = 0; row 2 contributes nothing.
  const at = (i: number) => lp[i] as number;
  const want = (-(1.5 * (at(1) + at(2) + at(3))) / 3 - -2 * at(5)) / 3;
  close(policyGradientLoss(batch, lp), want, 1e-6);
  // The loss is linear in each log-probability with slope -weight * advantage (what the engine's
  // backward must reproduce).
  const h = 1e-3;
  for (const t of [0, 1, 2, 3, 5, 6, 10]) {
    const bumped = lp.slice();
    bumped[t] = (bumped[t] as number) + h;
    const slope = (policyGradientLoss(batch, bumped) - policyGradientLoss(batch, lp)) / h;
    close(slope, -(batch.weights[t] as number) * (batch.advantages[t] as number), 1e-3);
  }
  assert.throws(
    () => packTrainBatch([{ prompt: [1], completion: [2], advantage: Number.NaN }], 4, 0),
    RangeError,
  );
  assert.throws(() => packTrainBatch([], 0, 0), RangeError);
});

test('packing: each completion token gets its sampling mask; prompts, padding and unmasked rows allow all', () => {
  const V = 3;
  // Completion [2, 1] of the first sequence was drawn under masks [0,1,1] then [1,1,0].
  const b = packTrainBatch(
    [
      { prompt: [0, 1], completion: [2, 1], advantage: 1, allowed: Uint8Array.of(0, 1, 1, 1, 1, 0) },
      { prompt: [0], completion: [1], advantage: -1 },
    ],
    4,
    0,
    V,
  );
  const row = (i: number) => [...(b.allowed as Uint8Array).subarray(i * V, (i + 1) * V)];
  // Sequence 0: tokens [0, 1, 2, pad], targets [1, 2, 1, pad]; the completion's targets sit at 1 and 2.
  assert.deepEqual([0, 1, 2, 3].map(row), [
    [1, 1, 1],
    [0, 1, 1],
    [1, 1, 0],
    [1, 1, 1],
  ]);
  assert.deepEqual([4, 5, 6, 7].map(row), [
    [1, 1, 1],
    [1, 1, 1],
    [1, 1, 1],
    [1, 1, 1],
  ]);
  // No masks anywhere: no mask in the batch.
  assert.equal(packTrainBatch([{ prompt: [0], completion: [1], advantage: 1 }], 2, 0).allowed, undefined);
  // A mask of the wrong size, or masks without the vocabulary size, are refused.
  const bad = { prompt: [0], completion: [1, 2], advantage: 1, allowed: new Uint8Array(3) };
  assert.throws(() => packTrainBatch([bad], 4, 0, V), /sequence 0: mask holds 3 flags, expected .* 6/);
  assert.throws(() => packTrainBatch([{ ...bad, allowed: new Uint8Array(6) }], 4, 0), /vocabulary size/);
});
