// Training samples as Tinker Datums: the next-token alignment, zeros on the prompt, and a normalisation
// under which each server's reduction of the importance-sampling loss equals the built-in trainer's
// objective (src/rl/objective.ts, whose PPO path with an unbounded clip is the same ratio loss).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  importanceSamplingLoss,
  rlDatum,
  rlDatums,
  sampleToSequence,
  supervisedDatum,
} from '../../../src/policy/tinker/datums.js';
import type { TrainingSample } from '../../../src/policy/types.js';
import { packTrainBatch } from '../../../src/rl/objective.js';
import { policyGradientLoss } from '../../rl/reference-loss.js';

test('a datum is the sequence shifted by one, with sampler logprobs and the advantage on completion positions', () => {
  const d = rlDatum({
    promptTokens: [10, 11, 12],
    completionTokens: [20, 21],
    completionLogprobs: [-1, -2],
    advantage: 0.5,
  })!;
  assert.deepEqual(d.model_input.chunks, [{ type: 'encoded_text', tokens: [10, 11, 12, 20] }]);
  assert.deepEqual(d.loss_fn_inputs.target_tokens, { data: [11, 12, 20, 21], dtype: 'int64' });
  assert.deepEqual(d.loss_fn_inputs.logprobs, { data: [0, 0, -1, -2], dtype: 'float32' });
  assert.deepEqual(d.loss_fn_inputs.advantages, { data: [0, 0, 0.5, 0.5], dtype: 'float32' });
  assert.equal(d.loss_fn_inputs.weights, undefined);
  const w = rlDatum(
    { promptTokens: [10], completionTokens: [20], completionLogprobs: [-1], advantage: 2 },
    0.25,
    true,
  )!;
  assert.deepEqual(w.loss_fn_inputs.advantages?.data, [0.5]);
  assert.deepEqual(w.loss_fn_inputs.weights?.data, [1]);
});

test('a supervised datum is the sequence shifted by one, weighted 1 on the completion only', () => {
  const d = supervisedDatum([10, 11, 12], [20, 21])!;
  assert.deepEqual(d.model_input.chunks, [{ type: 'encoded_text', tokens: [10, 11, 12, 20] }]);
  assert.deepEqual(d.loss_fn_inputs, {
    target_tokens: { data: [11, 12, 20, 21], dtype: 'int64' },
    weights: { data: [0, 0, 1, 1], dtype: 'float32' },
  });
  assert.deepEqual(supervisedDatum([10], [20])?.loss_fn_inputs.weights?.data, [1]);
  assert.equal(supervisedDatum([10, 11], []), null);
  assert.throws(() => supervisedDatum([], [20]), /at least one prompt token/);
});

test('mismatched sampler logprobs and empty prompts are refused; a lone token has nothing to train', () => {
  assert.throws(
    () => rlDatum({ promptTokens: [1], completionTokens: [2, 3], completionLogprobs: [-1], advantage: 1 }),
    /2 tokens has 1 sampler log-probabilities/,
  );
  assert.throws(() =>
    rlDatum({ promptTokens: [], completionTokens: [2], completionLogprobs: [-1], advantage: 1 }),
  );
  assert.equal(
    rlDatum({ promptTokens: [1], completionTokens: [], completionLogprobs: [], advantage: 1 }),
    null,
  );
});

test("each reduction of the datums' loss equals the built-in objective", () => {
  const seqs = [
    {
      promptTokens: [1, 2, 3],
      completionTokens: [4, 5, 6, 7],
      completionLogprobs: [-1, -2, -0.5, -3],
      advantage: 1.5,
    },
    { promptTokens: [1, 2], completionTokens: [8], completionLogprobs: [-0.25], advantage: -0.75 },
    { promptTokens: [1, 9, 9, 9], completionTokens: [], completionLogprobs: [], advantage: 2 },
    { promptTokens: [3], completionTokens: [4, 4], completionLogprobs: [-2, -2], advantage: 0.3 },
  ];
  // Log-probabilities under the weights being trained, off-policy by a little.
  const current = (tokens: number) => Array.from({ length: tokens }, (_, t) => -1 + 0.1 * Math.sin(t + 1));

  const time = 8;
  const batch = packTrainBatch(
    seqs.map((s) => ({
      prompt: s.promptTokens,
      completion: s.completionTokens,
      advantage: s.advantage,
      oldLogprobs: s.completionLogprobs,
    })),
    time,
    0,
  );
  // The built-in batch puts sequence b at row b from column 0; fill the same per-position values.
  const lp = new Float32Array(batch.batch * time);
  seqs.forEach((s, b) => {
    const n = s.promptTokens.length + s.completionTokens.length - 1;
    current(Math.max(n, 0)).forEach((x, t) => {
      lp[b * time + t] = x;
    });
  });
  const builtin = policyGradientLoss(batch, lp, { clipEpsilon: 1e9 });

  for (const reduction of ['sum', 'sequenceMean'] as const) {
    const datums = rlDatums(seqs, reduction);
    const lps = datums.map((d) => current(d.loss_fn_inputs.target_tokens.data.length));
    const loss = importanceSamplingLoss(datums, lps, reduction);
    assert.ok(Math.abs(loss - builtin) < 1e-6, `${reduction}: ${loss} vs built-in ${builtin}`);
  }
  assert.equal(rlDatums(seqs, 'sum').length, 3, 'an empty completion sends nothing under sum');
  assert.equal(
    rlDatums(seqs, 'sequenceMean').length,
    4,
    'and a zero-weight datum under sequenceMean, to count in B',
  );
});

test("the loop's sample becomes a sequence with the sampler's own ids", () => {
  const sample: TrainingSample = {
    prompt: 'p',
    completion: { text: 'xy', finishReason: 'stop', tokenIds: [7, 8], logprobs: [-1, -2] },
    advantage: 0.5,
    group: 'deduction/solver',
  };
  assert.deepEqual(
    sampleToSequence(sample, () => [1, 2]),
    {
      promptTokens: [1, 2],
      completionTokens: [7, 8],
      completionLogprobs: [-1, -2],
      advantage: 0.5,
    },
  );
  assert.throws(
    () => sampleToSequence({ ...sample, completion: { text: 'x', finishReason: 'stop' } }, () => [1]),
    /token ids and sampler log-probabilities/,
  );
});
