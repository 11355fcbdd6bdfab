// LoRA adapters saved in PEFT's format mean the same to `peft` as to the engine: after a training step,
// peft's PeftModel over the Hugging Face base gives the logits the engine gives with its merged adapters;
// and the files read back into the engine unchanged. Merged into the base as a Hugging Face folder (azr
// export --merged), transformers gives the same logits without peft.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LoraSettings } from '../../src/model/config.js';
import { openHfFolder } from '../../src/model/hf-folder.js';
import { writeMergedFolder } from '../../src/model/merged-export.js';
import { readPeftAdapter, writePeftAdapter } from '../../src/model/peft.js';
import { packTrainBatch } from '../../src/rl/objective.js';
import { Rng } from '../../src/util/rng.js';
import { runReferenceScript } from '../reference-python.js';
import { loadLlamaFixture } from './llama-fixtures.js';
import { relativeError } from './relative-error.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'azr-peft-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const LORA: LoraSettings = { rank: 4, alpha: 8, targets: ['q', 'v', 'o', 'up', 'down'] };

for (const name of ['llama', 'qwen2'] as const)
  test(`${name}: peft loads the saved adapter and computes the engine's logits`, async () => {
    const { engine, config, ref } = await loadLlamaFixture(name, { lora: LORA, seed: 6 });
    try {
      const rng = new Rng(2);
      const V = config.vocabSize;
      const seqs = [0.9, -1.1, 0.4].map((advantage) => ({
        prompt: Array.from({ length: 4 }, () => rng.int(V)),
        completion: Array.from({ length: 5 }, () => rng.int(V)),
        advantage,
      }));
      for (let i = 0; i < 2; i++) await engine.trainStep(packTrainBatch(seqs, 9, 0, V));
      const out = join(dir, name);
      writePeftAdapter(out, config, LORA, engine.parameters, name);
      const back = readPeftAdapter(out, config);
      assert.deepEqual(back.lora, LORA);
      for (const [k, a] of engine.parameters) assert.deepEqual(back.adapters.get(k), a, k);

      const seq = ref.sequences[1] as number[];
      const peft = JSON.parse(
        await runReferenceScript(join(root, 'python/peft_reference.py'), [
          join(root, 'test/fixtures/llama-family', name),
          out,
          JSON.stringify([seq]),
        ]),
      ) as { logits: number[][][] };
      const cache = engine.newCache(1);
      const got = await engine.prefill(cache, Int32Array.from(seq), seq.length, Int32Array.of(seq.length));
      engine.freeCache(cache);
      const want = peft.logits[0]?.[seq.length - 1] as number[];
      const err = relativeError(got, want);
      assert.ok(err < 1e-4, `relative difference ${err}`);
      // The adapter moved the model: peft's logits are not the base's.
      const base = ref.logits[1]?.[seq.length - 1] as number[];
      assert.ok(
        base.some((b, i) => Math.abs(b - (want[i] as number)) > 1e-3),
        'the adapter changed nothing',
      );

      // azr export --merged: a Hugging Face folder with the adapters merged in; transformers alone (no
      // peft) loads it and gives the same logits.
      const folder = join(dir, `${name}-merged`);
      const written = writeMergedFolder(
        openHfFolder(join(root, 'test/fixtures/llama-family', name)),
        { lora: LORA, adapters: engine.parameters },
        folder,
      );
      assert.equal(written.merged, config.layers * LORA.targets.length);
      const logitsFile = join(dir, `${name}-merged.f32`);
      await runReferenceScript(join(root, 'python/reference_logits.py'), [
        folder,
        logitsFile,
        JSON.stringify([seq]),
      ]);
      const all = new Float32Array(new Uint8Array(readFileSync(logitsFile)).buffer);
      const last = all.subarray((seq.length - 1) * V, seq.length * V);
      const mergedErr = relativeError(got, last);
      assert.ok(mergedErr < 1e-4, `merged folder: relative difference ${mergedErr}`);
    } finally {
      await engine.close();
    }
  });
