import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConstraintMatcher, DecodeConstraint } from '../../src/model/constraint.js';
import { EOS } from '../../src/model/sampler.js';
import { decode, encode } from '../../src/model/tokenizer.js';
import {
  type BuiltinPolicy,
  type BuiltinPolicyOptions,
  CHECKPOINT_FILE,
  createBuiltinPolicy,
  loadBuiltinPolicy,
  modelConfigFor,
  promptTokens,
  sharePrompts,
} from '../../src/policy/builtin.js';
import type { GenerateRequest, TrainingSample } from '../../src/policy/types.js';
import { packTrainBatch } from '../../src/rl/objective.js';
import type { AnswerConstraint } from '../../src/tasks/answer-format.js';
import { assertSameTrainStep } from '../model/same-step.js';

const optimizer = {
  learningRate: 3e-3,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1,
  beta1: 0.9,
  beta2: 0.99,
};
const dir = mkdtempSync(join(tmpdir(), 'azr-policy-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The request constraint the test's resolver maps to `vowels` (any other resolves to nothing). */
const VOWELS: AnswerConstraint = {
  style: 'compact',
  type: 'deduction',
  role: 'solver',
  lang: 'python',
  inductionInputs: 10,
  returnOnly: false,
  exprDepth: 2,
  shortInputs: false,
  boolReturns: true,
};

/** Only lowercase vowels; complete after one. */
const vowels: DecodeConstraint = {
  name: 'vowels',
  start(): ConstraintMatcher {
    let n = 0;
    const ok = new Set([...'aeiou'].map((c) => c.charCodeAt(0)));
    return {
      allowedTokens(mask) {
        mask.fill(0);
        for (const id of ok) mask[id] = 1;
      },
      accept(id) {
        if (!ok.has(id)) return false;
        n++;
        return true;
      },
      isComplete: () => n >= 1,
    };
  },
};

function tinyPolicy(
  seed = 1,
  maxTrainBatch?: number,
  extra: Partial<BuiltinPolicyOptions> = {},
): Promise<BuiltinPolicy> {
  return createBuiltinPolicy(
    modelConfigFor('tiny', 64),
    { seed, optimizer },
    {
      threads: 1,
      constraints: (c) => (c.type === VOWELS.type ? vowels : undefined),
      ...(maxTrainBatch ? { maxTrainBatch } : {}),
      ...extra,
    },
  );
}

const req = (prompt: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt,
  n: 3,
  temperature: 1,
  topP: 1,
  maxTokens: 16,
  seed: 5,
  ...extra,
});

test('generate returns n completions per request, with token ids and log-probabilities', async () => {
  const policy = await tinyPolicy();
  try {
    const out = await policy.generate([req('def f(x):'), req('<answer>', { n: 2, seed: 6, stop: ['\n'] })]);
    assert.deepEqual(
      out.map((cs) => cs.length),
      [3, 2],
    );
    for (const c of out.flat()) {
      const ids = c.tokenIds ?? [];
      assert.ok(ids.length >= 1 && ids.length <= 16);
      assert.equal(c.logprobs?.length, ids.length);
      assert.ok(c.logprobs?.every((x) => Number.isFinite(x) && x <= 0));
      if (c.finishReason === 'length') assert.equal(c.text, decode(ids));
      else assert.ok(decode(ids.filter((t) => t !== EOS)).startsWith(c.text));
    }
    // The n samples of a request differ (own streams), the model is untrained so text is noise.
    const texts = new Set(out[0]?.map((c) => c.text));
    assert.equal(texts.size, 3);
  } finally {
    await policy.close();
  }
});

test('same seed, same completions; the batch they share does not matter', async () => {
  const policy = await tinyPolicy();
  try {
    const a = await policy.generate([req('x = 1')]);
    const b = await policy.generate([
      req('a longer prompt first', { seed: 9 }),
      req('x = 1'),
      req('y', { n: 5 }),
    ]);
    assert.deepEqual(b[1], a[0]);
    const c = await policy.generate([req('x = 1', { seed: 6 })]);
    assert.notDeepEqual(
      c[0]?.map((x) => x.text),
      a[0]?.map((x) => x.text),
    );
  } finally {
    await policy.close();
  }
});

test('truncatePromptTokens keeps the last K prompt tokens; a K the prompt fits in changes nothing', async () => {
  const policy = await tinyPolicy();
  try {
    // The same last 8 tokens after different beginnings: the same completions.
    const [a, b] = await policy.generate([
      req('first beginning; g(y) = f(x) =', { truncatePromptTokens: 8 }),
      req('another start, g(y) = f(x) =', { truncatePromptTokens: 8 }),
    ]);
    assert.deepEqual(a, b);
    const [c, d] = await policy.generate([req('f(x) ='), req('f(x) =', { truncatePromptTokens: 100 })]);
    assert.deepEqual(c, d);
    for (const k of [0, -1, 1.5])
      await assert.rejects(
        policy.generate([req('abc', { truncatePromptTokens: k })]),
        /truncatePromptTokens/,
      );
  } finally {
    await policy.close();
  }
});

test('constraints resolve through the constraints option; one it does not resolve samples freely', async () => {
  const policy = await tinyPolicy();
  try {
    const [constrained, free] = await policy.generate([
      req('p', { constraint: VOWELS, n: 4 }),
      req('p', { constraint: { ...VOWELS, type: 'induction' }, n: 4 }),
    ]);
    for (const c of constrained ?? []) {
      assert.match(c.text, /^[aeiou]+$/);
      assert.equal(c.finishReason, c.tokenIds?.length === 16 ? 'length' : 'stop');
    }
    assert.ok(free?.some((c) => !/^[aeiou]*$/.test(c.text)));
  } finally {
    await policy.close();
  }
});

async function completionLogprob(policy: BuiltinPolicy, prompt: string, completion: number[]) {
  const b = packTrainBatch([{ prompt: promptTokens(prompt), completion, advantage: 1 }], 64, 258);
  const lp = await policy.engine.logprobs(b);
  let sum = 0;
  for (let i = 0; i < lp.length; i++) if ((b.weights[i] as number) > 0) sum += lp[i] as number;
  return sum;
}

test('update with a positive advantage makes that completion more likely, a negative one less', async () => {
  const policy = await tinyPolicy(3);
  try {
    const good = [...encode('return x + 1'), EOS];
    const bad = [...encode('while True:'), EOS];
    const sample = (completion: number[], advantage: number): TrainingSample => ({
      prompt: 'def f(x):',
      completion: { text: decode(completion), finishReason: 'stop', tokenIds: completion },
      advantage,
      group: 'test',
    });
    const goodBefore = await completionLogprob(policy, 'def f(x):', good);
    const badBefore = await completionLogprob(policy, 'def f(x):', bad);
    const stats = await policy.update([sample(good, 1), sample(bad, -1), sample(bad, 0)]);
    assert.equal(stats.tokens, good.length + bad.length);
    assert.ok(Number.isFinite(stats.loss) && stats.gradNorm > 0);
    assert.equal(policy.engine.step, 1);
    assert.ok((await completionLogprob(policy, 'def f(x):', good)) > goodBefore);
    assert.ok((await completionLogprob(policy, 'def f(x):', bad)) < badBefore);
    // Nothing to learn from: no step taken.
    const none = await policy.update([sample(good, 0)]);
    assert.equal(none.tokens, 0);
    assert.equal(policy.engine.step, 1);
  } finally {
    await policy.close();
  }
});

test('more samples than maxTrainBatch take one optimizer step per minibatch; long sequences fit the context', async () => {
  const policy = await tinyPolicy(4, 2);
  try {
    const long = 'a prompt much longer than the context of sixty-four tokens, so the packer drops its start';
    const samples: TrainingSample[] = Array.from({ length: 5 }, (_, i) => ({
      prompt: i === 0 ? long : `p${i}`,
      completion: { text: 'ok', finishReason: 'stop', tokenIds: [...encode(`ok ${i}`), EOS] },
      advantage: i % 2 ? 1 : -1,
      group: 'g',
    }));
    const stats = await policy.update(samples);
    assert.equal(policy.engine.step, 3);
    assert.ok(Number.isFinite(stats.loss));
  } finally {
    await policy.close();
  }
});

test('save writes a checkpoint that loads back to the same samples', async () => {
  const policy = await tinyPolicy(7);
  const out = join(dir, 'ckpt');
  try {
    await policy.update([
      {
        prompt: 'q',
        completion: { text: 'a', finishReason: 'stop', tokenIds: [97, EOS] },
        advantage: 1,
        group: 'g',
      },
    ]);
    await policy.save(out);
    assert.ok(existsSync(join(out, CHECKPOINT_FILE)));
    const meta = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(meta.model.layers, 2);
    assert.equal(meta.step, 1);
    assert.equal(meta.tokenizer.specials['<|eos|>'], EOS);
    const loaded = await loadBuiltinPolicy(out, { threads: 1 });
    try {
      assert.equal(loaded.engine.step, 1);
      assert.deepEqual(await loaded.generate([req('def')]), await policy.generate([req('def')]));
    } finally {
      await loaded.close();
    }
  } finally {
    await policy.close();
  }
});

/** Probability mass of the vowels right after `prompt`, under the full softmax. */
async function vowelMass(policy: BuiltinPolicy, prompt: string): Promise<number> {
  let mass = 0;
  for (const c of 'aeiou') {
    const b = packTrainBatch(
      [{ prompt: promptTokens(prompt), completion: [c.charCodeAt(0)], advantage: 1 }],
      8,
      258,
    );
    const lp = await policy.engine.logprobs(b);
    mass += Math.exp(lp[promptTokens(prompt).length - 1] as number);
  }
  return mass;
}

test('under the sampling mask, negative advantages move probability among allowed tokens, not out of them', async () => {
  // Without the mask, pushing a sampled vowel down pushes every other token up, including the 260-odd
  // the grammar never allows: the vowels' total mass drains away. Under the mask it stays among them.
  const massAfter = async (trainUnderMask: boolean) => {
    const policy = await tinyPolicy(11, undefined, { trainUnderMask });
    try {
      const [cs] = await policy.generate([req('p', { constraint: VOWELS, n: 4, maxTokens: 1 })]);
      assert.equal(
        cs?.every((c) => c.allowed !== undefined),
        trainUnderMask,
        'masks recorded when asked',
      );
      const before = await vowelMass(policy, 'p');
      for (let k = 0; k < 3; k++)
        await policy.update(
          (cs ?? []).map((completion) => ({ prompt: 'p', completion, advantage: -1, group: 'g' })),
        );
      return { before, after: await vowelMass(policy, 'p') };
    } finally {
      await policy.close();
    }
  };
  const masked = await massAfter(true);
  const full = await massAfter(false);
  assert.equal(masked.before, full.before);
  assert.ok(full.after < 0.8 * full.before, `full softmax: ${full.before} -> ${full.after}`);
  assert.ok(masked.after > full.after * 1.5, `under the mask ${masked.after} vs full ${full.after}`);
});

test('PPO clipping uses the sampler log-probabilities, and refuses completions without them', async () => {
  const policy = await tinyPolicy(12, 4, { clipEpsilon: 0.2 });
  try {
    const [cs] = await policy.generate([req('def f(x):', { n: 4, maxTokens: 8 })]);
    const samples = (cs ?? []).map((completion, i) => ({
      prompt: 'def f(x):',
      completion,
      advantage: i < 3 ? 1 : -1,
      group: 'g',
    }));
    // On the policy that sampled, every ratio p / p_sampler is 1 (the masked log-probabilities equal the
    // sampler's), so the clipped objective is -mean(A) = -0.5; REINFORCE's would be -mean(A * log p).
    const first = await policy.update(samples);
    assert.ok(Math.abs(first.loss + 0.5) < 1e-3, `loss ${first.loss}`);
    // After the step the same samples are off-policy: the ratios moved.
    const second = await policy.update(samples);
    assert.ok(Math.abs(second.loss + 0.5) > 1e-3, `loss ${second.loss}`);
    assert.equal(policy.engine.step, 2);
    assert.ok(cs?.[0]);
    const { logprobs: _, ...noLogprobs } = cs[0];
    await assert.rejects(
      policy.update([{ prompt: 'q', completion: noLogprobs, advantage: 1, group: 'g' }]),
      /needs the log-probability of every sampled token/,
    );
  } finally {
    await policy.close();
  }
  await assert.rejects(tinyPolicy(1, undefined, { clipEpsilon: 1.5 }), /clipEpsilon must be in \(0, 1\)/);
});

test('sharePrompts: sequences with one prompt share a row, each segment seeing the prompt and itself', () => {
  const V = 272;
  const mask = (n: number, id: number) => {
    const m = new Uint8Array(n * V).fill(1);
    m[id] = 0; // one masked-out token per sequence, so the masks are told apart
    return m;
  };
  const p = [1, 2, 3];
  const seqs = [
    { prompt: p, completion: [10, 11], advantage: 1, oldLogprobs: [-1, -2], allowed: mask(2, 200) },
    { prompt: [4, 5], completion: [12], advantage: -1, oldLogprobs: [-3], allowed: mask(1, 201) },
    { prompt: p, completion: [13, 14, 15], advantage: 0.5, oldLogprobs: [-4, -5, -6], allowed: mask(3, 202) },
    { prompt: p, completion: [16], advantage: 2, oldLogprobs: [-7], allowed: mask(1, 203) },
  ];
  const batch = packTrainBatch(seqs, 6, 258, V);
  // A context of 7: the prompt's first two tokens, then segments of 2 and 3 tokens; the fourth sequence's
  // segment starts a second row of the prompt; the second sequence keeps its own row.
  const out = sharePrompts(batch, seqs, 7);
  assert.equal(out.batch, 3);
  assert.equal(out.time, 7);
  const row = (b: number, a: ArrayLike<number> | undefined) => Array.from(a ?? []).slice(b * 7, b * 7 + 7);
  assert.deepEqual(row(0, out.tokens), [1, 2, 3, 10, 3, 13, 14]);
  assert.deepEqual(row(0, out.targets), [2, 3, 10, 11, 13, 14, 15]);
  assert.deepEqual(row(0, out.positions), [0, 1, 2, 3, 2, 3, 4]);
  assert.deepEqual(row(0, out.segments), [0, 0, 1, 1, 2, 2, 2]);
  assert.deepEqual(row(0, out.oldLogprobs), [0, 0, -1, -2, -4, -5, -6]);
  assert.deepEqual(row(0, out.advantages), [0, 0, 1, 1, 0.5, 0.5, 0.5]);
  assert.deepEqual(row(1, out.tokens).slice(0, 3), [1, 2, 3]);
  assert.deepEqual(row(1, out.targets).slice(0, 3), [2, 3, 16]);
  assert.deepEqual(row(1, out.segments).slice(0, 3), [0, 0, 1]);
  assert.deepEqual(row(2, out.tokens).slice(0, 2), [4, 5]);
  assert.deepEqual(row(2, out.segments), [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(2, out.positions).slice(0, 3), [0, 1, 2]);
  // The masks travel with their tokens: row 0 position 4 is the third sequence's first completion token.
  assert.equal(out.allowed?.[(0 * 7 + 4) * V + 202], 0);
  assert.equal(out.allowed?.[(0 * 7 + 4) * V + 200], 1);
  assert.equal(out.allowed?.[(0 * 7 + 2) * V + 200], 0);
  // Weights are packTrainBatch's, moved along.
  let before = 0;
  let after = 0;
  for (const w of batch.weights) before += w;
  for (const w of out.weights) after += w;
  assert.ok(Math.abs(before - after) < 1e-7);
});

for (const variant of ['pg', 'ppo'] as const) {
  test(`sharePrompts: a step on the shared rows matches the step on one row per sequence (${variant}, masked)`, async () => {
    const config = { ...modelConfigFor('tiny', 40), layers: 2, dModel: 32, heads: 2 };
    const rng = (s: number) => () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31;
    };
    const r = rng(7);
    const V = config.vocabSize;
    const prompts = [
      Array.from({ length: 12 }, () => Math.floor(r() * 256)),
      Array.from({ length: 7 }, () => Math.floor(r() * 256)),
    ];
    const seqs = [0, 1, 0, 0, 1, 0, 0].map((k, i) => {
      const completion = Array.from({ length: 3 + ((i * 5) % 9) }, () => Math.floor(r() * 256));
      const allowed = new Uint8Array(completion.length * V);
      completion.forEach((id, j) => {
        for (let v = 0; v < V; v++) allowed[j * V + v] = v === id || r() < 0.6 ? 1 : 0;
      });
      return {
        prompt: prompts[k] as number[],
        completion,
        advantage: i % 3 === 0 ? -0.9 : 0.6 + i / 10,
        oldLogprobs: completion.map(() => -3 - r()),
        allowed,
      };
    });
    const batch = packTrainBatch(seqs, 24, 258, V);
    if (variant === 'ppo') batch.clipEpsilon = 0.2;
    else delete batch.oldLogprobs;
    const shared = sharePrompts(batch, seqs, 40);
    assert.ok(shared.batch < batch.batch, `${shared.batch} rows`);
    const opts = { threads: 1, trainUnderMask: true };
    const a = await createBuiltinPolicy(config, { seed: 3, optimizer }, opts);
    const b = await createBuiltinPolicy(config, { seed: 3, optimizer }, opts);
    for (let step = 0; step < 2; step++) {
      const x = await a.engine.trainStep(batch, true);
      const y = await b.engine.trainStep(shared, true);
      assertSameTrainStep(x, y);
    }
    await a.close?.();
    await b.close?.();
  });
}
