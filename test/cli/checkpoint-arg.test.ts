// The CHECKPOINT argument shared by azr eval, azr serve and azr eval --bench cruxeval.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { resolveCheckpoint } from '../../src/cli/checkpoint-arg.js';
import { RunDir } from '../../src/run/rundir.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-ckpt-arg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a checkpoint stands for itself, a run for its committed checkpoint; missing ones are usage errors', async () => {
  const plain = join(dir, 'ckpt');
  mkdirSync(plain);
  assert.deepEqual(await resolveCheckpoint(plain), { kind: 'builtin', path: plain });
  await assert.rejects(
    resolveCheckpoint(join(dir, 'nope')),
    (e) => e instanceof UsageError && /does not exist/.test(e.message),
  );

  const run = new RunDir(join(dir, 'run'));
  run.create();
  const state = {
    version: 1 as const,
    iteration: 0,
    rng: [1, 2, 3, 4],
    checkpoint: null,
    elapsedS: 0,
    bufferSizes: {},
  };
  run.writeState(state);
  await assert.rejects(
    resolveCheckpoint(run.root),
    (e) => e instanceof UsageError && /has no checkpoint yet/.test(e.message),
  );
  run.writeState({ ...state, iteration: 3, checkpoint: 'iter-000003' });
  assert.deepEqual(await resolveCheckpoint(run.root), {
    kind: 'builtin',
    path: run.checkpointPath('iter-000003'),
  });
});

test('a GGUF file, a Hugging Face folder or a pullable name is a pretrained model; an absent pull says how', async () => {
  const gguf = join(dir, 'm.gguf');
  writeFileSync(gguf, 'GGUF');
  assert.deepEqual(await resolveCheckpoint(gguf), { kind: 'pretrained', model: gguf });
  const hf = join(dir, 'hf');
  mkdirSync(hf);
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ model_type: 'llama' }));
  writeFileSync(join(hf, 'model.safetensors'), '');
  assert.deepEqual(await resolveCheckpoint(hf), { kind: 'pretrained', model: hf });
  // The built-in model's checkpoint folder holds a config.json and model.safetensors too, without model_type.
  const own = join(dir, 'own');
  mkdirSync(own);
  writeFileSync(join(own, 'config.json'), JSON.stringify({ model: { dModel: 8 } }));
  writeFileSync(join(own, 'model.safetensors'), '');
  assert.deepEqual(await resolveCheckpoint(own), { kind: 'builtin', path: own });
  // A pullable model's name resolves whether or not it was pulled: loading it says how to pull it.
  assert.deepEqual(await resolveCheckpoint('smollm2-135m'), { kind: 'pretrained', model: 'smollm2-135m' });
});

test('a checkpoint of the tinker backend is refused with where its weights are', async () => {
  const ckpt = join(dir, 'tinker-ckpt');
  mkdirSync(ckpt);
  const pointer = {
    kind: 'tinker',
    statePath: 'tinker://model_1/weights/iter-000002',
    samplerPath: 'tinker://model_1/sampler-2',
    modelId: 'model_1',
    baseModel: 'Qwen/Qwen3-4B',
    loraRank: 8,
    step: 2,
  };
  writeFileSync(join(ckpt, 'tinker.json'), JSON.stringify(pointer));
  await assert.rejects(
    resolveCheckpoint(ckpt),
    (e) =>
      e instanceof UsageError &&
      e.message.includes('checkpoint of the tinker backend') &&
      e.message.includes('tinker://model_1/weights/iter-000002'),
  );
});
