// The Llama family in the engine against transformers: tiny random Llama, Qwen2 and Qwen3 models written by
// python/llama_family_fixture.py, with the logits and greedy continuations transformers' own classes give.
// Every position is checked through prefill alone, through prefill then one decode step per token, and in a
// batch whose rows have different prompt lengths (left padding, masked keys).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BYTE_VOCABULARY, sampleRows } from '../../src/model/sampler.js';
import { LLAMA_FIXTURES, loadLlamaFixture as load } from './llama-fixtures.js';
import { relativeError } from './relative-error.js';

const TOLERANCE = 1e-4;

for (const name of LLAMA_FIXTURES) {
  test(`${name}: prefill and decode logits match transformers at every position`, async () => {
    const { engine, ref, config } = await load(name);
    const V = config.vocabSize;
    try {
      for (const [s, seq] of ref.sequences.entries()) {
        const want = ref.logits[s] as number[][];
        // Prefill of each prefix: the logits of its last position.
        for (let t = 1; t <= seq.length; t++) {
          const cache = engine.newCache(1);
          const got = await engine.prefill(cache, Int32Array.from(seq.slice(0, t)), t, Int32Array.of(t));
          engine.freeCache(cache);
          const err = relativeError(got, want[t - 1] as number[]);
          assert.ok(err < TOLERANCE, `sequence ${s} prefill of ${t}: relative error ${err}`);
        }
        // One token of prompt, then decode steps to the end.
        const cache = engine.newCache(1);
        let got = await engine.prefill(cache, Int32Array.of(seq[0] as number), 1, Int32Array.of(1));
        for (let t = 1; t < seq.length; t++) {
          got = await engine.decode(cache, Int32Array.of(seq[t] as number));
          const err = relativeError(got, want[t] as number[]);
          assert.ok(err < TOLERANCE, `sequence ${s} decode at ${t}: relative error ${err}`);
        }
        engine.freeCache(cache);
      }
      // Both sequences in one batch (the shorter left-padded), then both decoded together.
      const [a, b] = ref.sequences as [number[], number[]];
      const split = 3;
      const T = a.length - split;
      const tokens = new Int32Array(2 * T);
      tokens.set(a.slice(0, T), 0);
      tokens.set(b.slice(0, b.length - split), T);
      const cache = engine.newCache(2);
      const lengths = Int32Array.of(T, b.length - split);
      let got = await engine.prefill(cache, tokens, T, lengths);
      for (let k = 0; k <= split; k++) {
        for (const [row, seq] of [a, b].entries()) {
          const at = (lengths[row] as number) - 1 + k;
          const err = relativeError(got.subarray(row * V, (row + 1) * V), ref.logits[row]?.[at] as number[]);
          assert.ok(err < TOLERANCE, `batched row ${row} at ${at}: relative error ${err}`);
          assert.ok(seq.length > at);
        }
        if (k < split)
          got = await engine.decode(
            cache,
            Int32Array.of(a[T + k] as number, b[b.length - split + k] as number),
          );
      }
      engine.freeCache(cache);
    } finally {
      await engine.close();
    }
  });

  test(`${name}: greedy sampling continues as transformers' generate does`, async () => {
    const { engine, ref } = await load(name);
    try {
      const rows = ref.sequences.map((prompt, i) => ({
        prompt,
        maxTokens: (ref.greedy[i] as number[]).length,
        temperature: 0,
        topP: 1,
        seed: i,
      }));
      // No end ids and every id allowed: the continuation is the model's argmax at each step.
      const vocabulary = {
        ...BYTE_VOCABULARY,
        endIds: [],
        completionMask: (v: number) => new Uint8Array(v).fill(1),
      };
      const out = await sampleRows(engine, rows, { vocabulary });
      out.forEach((r, i) => {
        assert.deepEqual(r.tokens, ref.greedy[i]);
      });
    } finally {
      await engine.close();
    }
  });
}

test('a Llama-family engine without adapters refuses to train, naming the model', async () => {
  const { engine } = await load('llama');
  try {
    await assert.rejects(
      engine.trainStep({
        batch: 1,
        time: 2,
        tokens: Int32Array.of(1, 2),
        targets: Int32Array.of(2, 3),
        advantages: Float32Array.of(1, 1),
        weights: Float32Array.of(0.5, 0.5),
      }),
      /this llama model has no LoRA adapters to train/,
    );
  } finally {
    await engine.close();
  }
});
