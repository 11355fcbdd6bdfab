// Real checkpoints in the engine against transformers on the same weights: SmolLM2-135M-Instruct (Llama,
// tied head) and Qwen2.5-Coder-0.5B-Instruct (Qwen2: Q/K/V biases, a separate head), each loaded from its
// GGUF by both sides (transformers dequantizes with the `gguf` package, the engine with quants.ts). Five
// prompts; every position is compared, half through prefill and half through decode steps.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import { NO_UPDATES } from '../../src/model/engine-types.js';
import { pretrainedEngine } from '../../src/model/pretrained-engine.js';
import { openPretrained } from '../../src/model/resolve-model.js';
import { runReferenceScript } from '../reference-python.js';
import { type RealModelName, realModel } from './real-models.js';
import { relativeError } from './relative-error.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'azr-real-logits-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const PROMPTS = [
  'def f(a, b):\n    return [x * 2 for x in a if x > b]\n\nprint(f([1, 5, 3], 2))',
  'The quick brown fox jumps over the lazy dog. Then it',
  '数据 données 🙂 — naïve café, ß, 𝔘nicode',
  '<think>\nThe program reverses the list.\n</think>\n<answer>\n```output\n[3, 2, 1]\n```\n</answer>',
];

// CI checks the two models it pulls; AZR_REAL_LOGITS=qwen2.5-coder-1.5b (a comma list) checks others the
// same way, run by hand (the 1.5B needs about 14 GB: its float32 weights on both sides).
const MODELS = (process.env.AZR_REAL_LOGITS?.split(',') ?? [
  'smollm2-135m',
  'qwen2.5-coder-0.5b',
]) as RealModelName[];

for (const name of MODELS) {
  const model = realModel(name);
  test(`${name}: logits match transformers on the same GGUF within 1e-4, prefill and decode`, {
    skip: model.skip,
  }, async () => {
    const path = model.path();
    const tokenizer = await BpeTokenizer.open(path);
    const chat = tokenizer.applyChatTemplate([{ role: 'user', content: 'Write f(s) that reverses s.' }]);
    const sequences = [...PROMPTS, chat].map((p) => tokenizer.encode(p));
    const out = join(dir, `${name}.f32`);
    await runReferenceScript(join(root, 'python/reference_logits.py'), [
      path,
      out,
      JSON.stringify(sequences),
    ]);
    const ref = new Float32Array(readFileSync(out).buffer.slice(0));
    const engine = await pretrainedEngine(openPretrained(path), {
      threads: 2,
      seed: 0,
      optimizer: NO_UPDATES,
      contextLength: 256,
    });
    const V = engine.config.vocabSize;
    try {
      let at = 0;
      let worst = 0;
      for (const seq of sequences) {
        const want = (t: number) => ref.subarray((at + t) * V, (at + t + 1) * V);
        const half = Math.ceil(seq.length / 2);
        const cache = engine.newCache(1, seq.length);
        let got = await engine.prefill(cache, Int32Array.from(seq.slice(0, half)), half, Int32Array.of(half));
        for (let t = half - 1; t < seq.length; t++) {
          const err = relativeError(got, want(t));
          worst = Math.max(worst, err);
          assert.ok(err < 1e-4, `position ${t} of ${seq.length}: relative error ${err}`);
          if (t + 1 < seq.length) got = await engine.decode(cache, Int32Array.of(seq[t + 1] as number));
        }
        engine.freeCache(cache);
        at += seq.length;
      }
      assert.ok(worst > 0, 'the comparison compared nothing');
    } finally {
      await engine.close();
    }
  });
}
