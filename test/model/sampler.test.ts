import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelConfig } from '../../src/model/config.js';
import type { ConstraintMatcher, DecodeConstraint } from '../../src/model/constraint.js';
import { createModelEngine } from '../../src/model/engine.js';
import type { KvCache, ModelEngine, TrainStepStats } from '../../src/model/engine-types.js';
import { BOS, EOS, PAD, type SampleRow, sampleRows, sampleToken } from '../../src/model/sampler.js';
import { decode, encode } from '../../src/model/tokenizer.js';
import { Rng } from '../../src/util/rng.js';

const V = 272;

/**
 * A logits source with the engine's interface: each row's logits are a function of its token history.
 * It checks the calls the way the real engine does (context capacity, one token per row) and records
 * what it saw.
 */
class FakeEngine implements ModelEngine {
  readonly config: ModelConfig;
  readonly threads = 1;
  readonly step = 0;
  readonly prompts: number[][] = [];
  batchSizes: number[] = [];
  decodeCalls = 0;
  /** Rows fed to each decode call. */
  decodeRows: number[] = [];
  private histories = new Map<KvCache, number[][]>();
  /** Caches handed out and not yet freed. */
  readonly open = new Set<KvCache>();
  /** Throw from decode after this many calls (tests of clean-up on failure). */
  failAfter = Number.POSITIVE_INFINITY;
  constructor(
    private readonly next: (history: readonly number[]) => Float32Array,
    contextLength = 64,
  ) {
    this.config = { vocabSize: V, contextLength, layers: 1, dModel: 8, heads: 1 };
  }
  trainStep(): Promise<TrainStepStats> {
    throw new Error('not used');
  }
  logprobs(): Promise<Float32Array> {
    throw new Error('not used');
  }
  newCache(batch: number): KvCache {
    const c = { batch, lengths: new Int32Array(batch) };
    this.histories.set(c, []);
    this.batchSizes.push(batch);
    this.open.add(c);
    return c;
  }
  keepRows(cache: KvCache, keep: readonly number[]): void {
    const h = this.histories.get(cache) as number[][];
    this.histories.set(
      cache,
      keep.map((b) => h[b] as number[]),
    );
    const c = cache as { batch: number; lengths: Int32Array };
    c.lengths = Int32Array.from(keep, (b) => c.lengths[b] as number);
    c.batch = keep.length;
  }
  freeCache(cache: KvCache): void {
    assert.ok(this.open.delete(cache), 'a cache freed twice or never handed out');
  }
  private logitsOf(h: number[][]): Float32Array {
    const out = new Float32Array(h.length * V);
    h.forEach((row, b) => {
      out.set(this.next(row), b * V);
    });
    return out;
  }
  async prefill(cache: KvCache, tokens: Int32Array, time: number, lengths: Int32Array) {
    const h = Array.from(lengths, (n, b) => Array.from(tokens.subarray(b * time, b * time + n)));
    for (const p of h) this.prompts.push([...p]);
    this.histories.set(cache, h);
    (cache.lengths as Int32Array).set(lengths);
    return this.logitsOf(h);
  }
  async decode(cache: KvCache, tokens: Int32Array) {
    this.decodeCalls++;
    this.decodeRows.push(tokens.length);
    if (this.decodeCalls > this.failAfter) throw new Error('decode failed');
    assert.ok(this.open.has(cache), 'decode on a freed cache');
    const h = this.histories.get(cache) as number[][];
    assert.equal(tokens.length, h.length);
    h.forEach((row, b) => {
      row.push(tokens[b] as number);
      assert.ok(row.length <= this.config.contextLength, 'the context overflowed');
      (cache.lengths as Int32Array)[b] = row.length;
    });
    return this.logitsOf(h);
  }
  async save() {}
  async close() {}
}

/** Logits that make `text` (then EOS) overwhelmingly likely after the prompt, position by position. */
function scripted(promptLength: number, text: string | number[]) {
  const ids = typeof text === 'string' ? [...encode(text), EOS] : text;
  return (h: readonly number[]) => {
    const l = new Float32Array(V);
    const want = ids[h.length - promptLength];
    if (want !== undefined) l[want] = 30;
    return l;
  };
}

const row = (prompt: number[], extra: Partial<SampleRow> = {}): SampleRow => ({
  prompt,
  maxTokens: 32,
  temperature: 1,
  topP: 1,
  seed: 1,
  ...extra,
});

function softmax(logits: number[], temperature: number): number[] {
  const m = Math.max(...logits.map((x) => x / temperature));
  const e = logits.map((x) => Math.exp(x / temperature - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

test('temperature sampling matches softmax(logits / T), in logprobs and in frequencies', () => {
  const logits = [2, 1, 0.5, -1, 0, 3];
  for (const temperature of [1, 0.5, 2]) {
    const p = softmax(logits, temperature);
    const rng = new Rng(7);
    const counts = new Array(logits.length).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const { id, logprob } = sampleToken(Float32Array.from(logits), temperature, 1, rng);
      counts[id]++;
      assert.ok(Math.abs(logprob - Math.log(p[id] as number)) < 1e-6);
    }
    counts.forEach((c, i) => {
      const sd = Math.sqrt(((p[i] as number) * (1 - (p[i] as number))) / n);
      assert.ok(Math.abs(c / n - (p[i] as number)) < 5 * sd + 1e-3, `T=${temperature} id ${i}`);
    });
  }
});

test('top-p keeps the smallest most-likely set reaching p and renormalises it', () => {
  const logits = [2, 1, 0.5, -1, 0, 3];
  const p = softmax(logits, 1);
  // Sorted: id5 .605, id0 .223, id1 .082, id2 .050, id4 .030, id3 .011.
  const cases: [number, number[]][] = [
    [0.5, [5]],
    [0.75, [5, 0]],
    [0.85, [5, 0, 1]],
    [1, [0, 1, 2, 3, 4, 5]],
  ];
  for (const [topP, nucleus] of cases) {
    const z = nucleus.reduce((a, i) => a + (p[i] as number), 0);
    const rng = new Rng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const { id, logprob } = sampleToken(Float32Array.from(logits), 1, topP, rng);
      assert.ok(nucleus.includes(id), `top-p ${topP} sampled ${id}`);
      assert.ok(Math.abs(logprob - Math.log((p[id] as number) / z)) < 1e-6);
      seen.add(id);
    }
    assert.equal(seen.size, nucleus.length);
  }
});

test('greedy and masked sampling', () => {
  const logits = Float32Array.from([2, 1, 0.5, -1, 0, 3]);
  assert.deepEqual(sampleToken(logits, 0, 1, new Rng(1)), { id: 5, logprob: 0 });
  const mask = Uint8Array.from([0, 1, 1, 0, 0, 0]);
  const p = softmax([1, 0.5], 1);
  const rng = new Rng(2);
  for (let i = 0; i < 2000; i++) {
    const { id, logprob } = sampleToken(logits, 1, 1, rng, mask);
    assert.ok(id === 1 || id === 2);
    assert.ok(Math.abs(logprob - Math.log(p[id - 1] as number)) < 1e-6);
  }
  assert.equal(sampleToken(logits, 0, 1, rng, mask).id, 1);
  assert.equal(sampleToken(logits, 1, 1, rng, new Uint8Array(6)).id, -1);
});

test('top alternatives: the k most likely tokens of the distribution sampled from, after mask, T and top-p', () => {
  const logits = [2, 1, 0.5, -1, 0, 3, 2];
  const ids = (xs: { id: number }[]) => xs.map((x) => x.id);
  // No mask, T = 0.5: the order of the logits (ties by lower id), log-probabilities of softmax(l / T).
  const p = softmax(logits, 0.5);
  const a = sampleToken(Float32Array.from(logits), 0.5, 1, new Rng(1), undefined, 4);
  assert.deepEqual(ids(a.top ?? []), [5, 0, 6, 1]);
  for (const t of a.top ?? []) assert.ok(Math.abs(t.logprob - Math.log(p[t.id] as number)) < 1e-9);
  const mine = a.top?.find((t) => t.id === a.id);
  if (mine) assert.equal(mine.logprob, a.logprob);
  // A mask removes ids, and top-p 0.5 keeps the nucleus alone (renormalised): at most what could be drawn.
  const mask = Uint8Array.from([1, 1, 1, 1, 1, 0, 1]);
  const q = softmax([2, 1, 0.5, -1, 0, 2], 1); // ids 0-4 and 6
  const b = sampleToken(Float32Array.from(logits), 1, 0.5, new Rng(2), mask, 5);
  assert.deepEqual(ids(b.top ?? []), [0, 6]);
  const z = (q[0] as number) + (q[5] as number);
  assert.ok(Math.abs((b.top?.[0]?.logprob ?? 0) - Math.log((q[0] as number) / z)) < 1e-9);
  assert.ok([0, 6].includes(b.id));
  // Greedy: the chosen token alone, certain; without k, no list at all.
  assert.deepEqual(sampleToken(Float32Array.from(logits), 0, 1, new Rng(3), undefined, 3).top, [
    { id: 5, logprob: 0 },
  ]);
  assert.equal(sampleToken(Float32Array.from(logits), 1, 1, new Rng(3)).top, undefined);
});

test('sampleRows returns the alternatives of every sampled token when asked, and checks k', async () => {
  const engine = new FakeEngine(scripted(3, 'ab'));
  const row: SampleRow = {
    prompt: [1, 2, 3],
    maxTokens: 4,
    temperature: 1,
    topP: 1,
    seed: 5,
    topLogprobs: 3,
  };
  const [r] = await sampleRows(engine, [row, { ...row, topLogprobs: undefined }]).then((rs) => {
    assert.equal(rs[1]?.topLogprobs, undefined);
    return rs;
  });
  assert.ok(r?.topLogprobs);
  assert.equal(r.topLogprobs.length, r.tokens.length);
  r.topLogprobs.forEach((at, k) => {
    assert.equal(at.length, 3);
    for (let j = 1; j < at.length; j++) assert.ok((at[j - 1]?.logprob ?? 0) >= (at[j]?.logprob ?? 0));
    const sampled = at.find((t) => t.id === r.tokens[k]);
    if (sampled) assert.equal(sampled.logprob, r.logprobs[k]);
  });
  await assert.rejects(sampleRows(engine, [{ ...row, topLogprobs: 1.5 }]), /topLogprobs/);
});

test('EOS ends a row: kept in the tokens, not in the text', async () => {
  const engine = new FakeEngine(scripted(3, 'print(1)'));
  const [r] = await sampleRows(engine, [row([BOS, 65, 66])]);
  assert.equal(r?.text, 'print(1)');
  assert.equal(r?.finishReason, 'stop');
  assert.deepEqual(r?.tokens, [...encode('print(1)'), EOS]);
  assert.equal(r?.logprobs.length, r?.tokens.length);
  assert.ok(r?.logprobs.every((x) => x <= 0 && x > -1e-6));
});

test('the budget ends a row with finish reason length', async () => {
  const engine = new FakeEngine(scripted(1, 'abcdefghijklmnop'));
  const [r] = await sampleRows(engine, [row([BOS], { maxTokens: 5 })]);
  assert.equal(r?.text, 'abcde');
  assert.equal(r?.finishReason, 'length');
  assert.equal(r?.tokens.length, 5);
  // The row stopped costing decode steps once it finished.
  assert.equal(engine.decodeCalls, 4);
});

test('stop strings end a row; the text stops before the earliest one, even split across tokens', async () => {
  const engine = new FakeEngine(scripted(1, 'x = 1</answer> more'));
  const [a, b, c] = await sampleRows(engine, [
    row([BOS], { stop: ['</answer>'] }),
    row([BOS], { stop: ['more', '= 1'] }),
    row([BOS], { stop: ['not there'] }),
  ]);
  assert.equal(a?.text, 'x = 1');
  assert.equal(a?.finishReason, 'stop');
  assert.equal(decode(a?.tokens ?? []), 'x = 1</answer>', 'tokens run up to the end of the stop string');
  assert.equal(b?.text, 'x ');
  assert.equal(c?.text, 'x = 1</answer> more');
  // A stop string that is also a special token, and one split inside a multi-byte character's text.
  const e2 = new FakeEngine(scripted(1, 'a<answer>€€b'));
  const [d, e] = await sampleRows(e2, [row([BOS], { stop: ['<answer>'] }), row([BOS], { stop: ['€€'] })]);
  assert.equal(d?.text, 'a');
  assert.equal(e?.text, 'a<answer>');
  assert.equal(e?.tokens.length, 1 + 1 + 6);
});

/** Allows only digits; complete after `min` digits; nothing more allowed after `max`. */
function digits(min: number, max: number): DecodeConstraint {
  return {
    name: 'digits',
    start(): ConstraintMatcher {
      let n = 0;
      return {
        allowedTokens(mask) {
          mask.fill(0);
          if (n < max) for (let d = 48; d <= 57; d++) mask[d] = 1;
        },
        accept(id) {
          if (id < 48 || id > 57 || n >= max) return false;
          n++;
          return true;
        },
        isComplete: () => n >= min,
      };
    },
  };
}

test('a constraint mask is respected; EOS only once complete; nothing allowed ends the row', async () => {
  // The model wants letters and an early EOS; the mask forces digits.
  const wants = scripted(1, [EOS, 97, 98, 99, 100, 101, 102, 103]);
  const engine = new FakeEngine(wants);
  const rows = Array.from({ length: 20 }, (_, seed) => row([BOS], { seed, constraint: digits(2, 4) }));
  const out = await sampleRows(engine, rows);
  for (const r of out) {
    const body = r.tokens.filter((t) => t !== EOS);
    assert.ok(
      body.every((t) => t >= 48 && t <= 57),
      decode(r.tokens),
    );
    assert.ok(body.length >= 2 && body.length <= 4);
    assert.equal(r.finishReason, 'stop');
    if (r.tokens.includes(EOS)) assert.equal(r.tokens[r.tokens.length - 1], EOS);
    assert.equal(r.text, decode(body));
  }
  // With EOS strongly preferred whenever allowed, rows end right at completion.
  const eager = new FakeEngine(() => {
    const l = new Float32Array(V);
    l[EOS] = 50;
    return l;
  });
  const [r] = await sampleRows(eager, [row([BOS], { constraint: digits(2, 4) })]);
  assert.equal(r?.tokens.length, 3);
  assert.equal(r?.tokens[2], EOS);
  // Nothing allowed from the start: the row ends with no tokens.
  const [none] = await sampleRows(eager, [row([BOS], { constraint: digits(0, 0) })]);
  assert.deepEqual(none?.tokens, []);
  assert.equal(none?.finishReason, 'stop');
});

test('BOS, PAD and unused vocabulary slots are never sampled', async () => {
  const engine = new FakeEngine(() => {
    const l = new Float32Array(V);
    l[BOS] = 20;
    l[PAD] = 20;
    l[V - 1] = 20;
    return l;
  });
  const [r] = await sampleRows(engine, [row([BOS], { maxTokens: 50, seed: 4 })]);
  assert.ok(r?.tokens.every((t) => t !== BOS && t !== PAD && t < 263));
});

test('long prompts lose tokens from the left so prompt + budget fit the context', async () => {
  const engine = new FakeEngine(() => new Float32Array(V), 32);
  const prompt = Array.from({ length: 40 }, (_, i) => i);
  const [r] = await sampleRows(engine, [row(prompt, { maxTokens: 10 })]);
  assert.equal(r?.truncatedPrompt, 18);
  assert.deepEqual(engine.prompts[0], prompt.slice(18));
  assert.ok((r?.tokens.length ?? 0) <= 10);
});

test('rows are batched up to maxBatch, and only rows whose prompt + budget fit together share a cache', async () => {
  const engine = new FakeEngine(() => new Float32Array(V), 40);
  const rows = [
    row(Array(30).fill(65), { maxTokens: 10 }),
    row([BOS], { maxTokens: 39 }),
    row(Array(20).fill(66), { maxTokens: 5 }),
    row([BOS], { maxTokens: 8 }),
  ];
  const out = await sampleRows(engine, rows, { maxBatch: 3 });
  assert.equal(out.length, 4);
  // FakeEngine asserts the context never overflows; the long-budget row had to go alone.
  assert.deepEqual(engine.batchSizes, [3, 1]);
  const many = new FakeEngine(() => new Float32Array(V));
  await sampleRows(
    many,
    Array.from({ length: 10 }, (_, seed) => row([BOS], { seed, maxTokens: 3 })),
    { maxBatch: 4 },
  );
  assert.deepEqual(many.batchSizes, [4, 4, 2]);
  // maxBatchTokens bounds rows x (longest prompt + largest budget): (1 + 3) x 3 rows = 12 of 13.
  const bounded = new FakeEngine(() => new Float32Array(V));
  await sampleRows(
    bounded,
    Array.from({ length: 10 }, (_, seed) => row([BOS], { seed, maxTokens: 3 })),
    { maxBatch: 4, maxBatchTokens: 13 },
  );
  assert.deepEqual(bounded.batchSizes, [3, 3, 3, 1]);
});

test('every cache a batch takes is freed, also when decoding fails', async () => {
  const engine = new FakeEngine(() => new Float32Array(V));
  const rows = Array.from({ length: 5 }, (_, i) => row([65 + i], { maxTokens: 8, seed: i }));
  await sampleRows(engine, rows, { maxBatch: 2 });
  assert.deepEqual(engine.batchSizes, [2, 2, 1]);
  assert.equal(engine.open.size, 0);
  engine.failAfter = engine.decodeCalls + 3;
  await assert.rejects(sampleRows(engine, rows, { maxBatch: 2 }), /decode failed/);
  assert.equal(engine.open.size, 0);
});

test('finished rows leave the batch once a quarter of it is done', async () => {
  // Row i says EOS after i + 1 tokens (its budget is larger), so rows finish one per step.
  const engine = new FakeEngine((h) => {
    const l = new Float32Array(V);
    const rowIndex = (h[0] as number) - 65;
    l[h.length - 1 > rowIndex ? EOS : 66] = 30;
    return l;
  });
  const rows = Array.from({ length: 8 }, (_, i) => row([65 + i], { maxTokens: 20, seed: i }));
  const out = await sampleRows(engine, rows);
  assert.deepEqual(
    out.map((r) => r.tokens.length),
    rows.map((_, i) => i + 2),
  );
  // Row 0 ends on the second step. 8 rows until 2 are done, then 6 until 2 more are (a quarter of 6
  // is 1.5), then one row fewer per step once a quarter of the rest is a single row.
  assert.deepEqual(engine.decodeRows, [8, 8, 6, 6, 4, 3, 2, 1]);
});

test('a row samples the same tokens whatever else shares its batch (fake logits)', async () => {
  const noisy = (h: readonly number[]) => {
    const l = new Float32Array(V);
    const r = new Rng(h.reduce((a, b) => a * 31 + b, 7) >>> 0);
    for (let i = 0; i < 256; i++) l[i] = r.normal() * 2;
    return l;
  };
  const target = row([BOS, 1, 2, 3], { seed: 99, maxTokens: 20, topP: 0.9 });
  const [alone] = await sampleRows(new FakeEngine(noisy), [target]);
  const others = Array.from({ length: 6 }, (_, i) => row([BOS, i], { seed: i, maxTokens: 5 + i }));
  const mixed = await sampleRows(
    new FakeEngine(noisy),
    [...others.slice(0, 3), target, ...others.slice(3)],
    4,
  );
  assert.deepEqual(mixed[3], alone);
});

test('with the real engine: batch composition does not change a row, and prompts of any length work', async () => {
  const cfg: ModelConfig = { vocabSize: V, contextLength: 48, layers: 2, dModel: 32, heads: 2 };
  const optimizer = {
    learningRate: 1e-3,
    warmupSteps: 0,
    weightDecay: 0,
    gradClip: 1,
    beta1: 0.9,
    beta2: 0.99,
  };
  const engine = await createModelEngine(cfg, { threads: 1, seed: 5, optimizer });
  try {
    const rows = [
      row([BOS, ...encode('def f(x): return x')], { seed: 11, maxTokens: 12 }),
      row([BOS], { seed: 12, maxTokens: 20, topP: 0.8 }),
      row([BOS, ...encode('a much longer prompt that goes on')], { seed: 13, maxTokens: 10, stop: ['e'] }),
      row([BOS, 5], { seed: 14, maxTokens: 16, temperature: 0.7 }),
    ];
    const together = await sampleRows(engine, rows);
    for (let i = 0; i < rows.length; i++) {
      const [alone] = await sampleRows(engine, [rows[i] as SampleRow]);
      assert.deepEqual(alone?.tokens, together[i]?.tokens, `row ${i}`);
      assert.equal(alone?.text, together[i]?.text);
      assert.ok(
        alone?.logprobs.every((x, k) => Math.abs(x - (together[i]?.logprobs[k] as number)) < 1e-4),
        `row ${i} logprobs`,
      );
    }
    // Same seed, same result; another seed, another result.
    const again = await sampleRows(engine, rows);
    assert.deepEqual(
      again.map((r) => r.tokens),
      together.map((r) => r.tokens),
    );
    const other = await sampleRows(
      engine,
      rows.map((r) => ({ ...r, seed: r.seed + 100 })),
    );
    assert.notDeepEqual(
      other.map((r) => r.tokens),
      together.map((r) => r.tokens),
    );
    // An untrained model rarely says EOS: most rows run to their budget.
    assert.equal(together[0]?.tokens.length, 12);
  } finally {
    await engine.close();
  }
});
