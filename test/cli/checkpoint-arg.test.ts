// The CHECKPOINT argument shared by azr eval, azr serve and azr eval --bench cruxeval, built-in or tinker.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { checkpointFormat, resolveCheckpoint } from '../../src/cli/checkpoint-arg.js';
import { answerFormatOf, resolveConfig } from '../../src/run/config.js';
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

test('a tinker checkpoint is found through its run: pointer, server, tokenizer, context; misuses are usage errors', async () => {
  const pointer = {
    kind: 'tinker',
    statePath: 'tinker://model_1/weights/iter-000002',
    samplerPath: 'tinker://model_1/sampler_weights/sampler-2',
    modelId: 'model_1',
    baseModel: '/models/smollm2-135m',
    loraRank: 8,
    step: 2,
  };
  // Outside a run directory its server and tokenizer are unknown.
  const loose = join(dir, 'loose-tinker');
  mkdirSync(loose);
  writeFileSync(join(loose, 'tinker.json'), JSON.stringify(pointer));
  await assert.rejects(
    resolveCheckpoint(loose),
    (e) => e instanceof UsageError && /outside its run directory/.test(e.message),
  );

  const config = resolveConfig({
    preset: 'tiny',
    overrides: {
      backend: {
        kind: 'tinker',
        url: 'http://127.0.0.1:8000',
        baseModel: pointer.baseModel,
        tokenizer: '/models/smollm2-135m',
        apiKeyEnv: 'AZR_TEST_NO_SUCH_KEY',
      },
    },
  });
  const run = new RunDir(join(dir, 'tinker-run'));
  run.create();
  writeFileSync(run.configPath, JSON.stringify(config));
  const ckpt = run.checkpointPath('iter-000002');
  mkdirSync(ckpt, { recursive: true });
  writeFileSync(join(ckpt, 'tinker.json'), JSON.stringify(pointer));
  run.writeState({
    version: 1,
    iteration: 2,
    rng: [1, 2, 3, 4],
    checkpoint: 'iter-000002',
    elapsedS: 0,
    bufferSizes: {},
  });
  const resolved = await resolveCheckpoint(run.root);
  assert.deepEqual(resolved, {
    kind: 'tinker',
    path: ckpt,
    pointer,
    url: 'http://127.0.0.1:8000',
    tokenizerDir: '/models/smollm2-135m',
    apiKeyEnv: 'AZR_TEST_NO_SUCH_KEY',
    config: JSON.parse(JSON.stringify(config)),
    configFile: run.configPath,
  });
  const moved = await resolveCheckpoint(run.root, { tinkerUrl: 'http://127.0.0.1:9000' });
  assert.equal(moved.kind === 'tinker' && moved.url, 'http://127.0.0.1:9000');
  // The run sampled without the answer grammar; it is scored without it.
  const { format } = await checkpointFormat(resolved);
  assert.deepEqual(format, { ...answerFormatOf(config), grammar: null });

  // A built-in checkpoint is not a tinker one, and --tinker-url does not belong to it.
  const plain = join(dir, 'plain-ckpt');
  mkdirSync(plain);
  assert.equal((await resolveCheckpoint(plain)).kind, 'builtin');
  await assert.rejects(
    resolveCheckpoint(plain, { tinkerUrl: 'http://127.0.0.1:9000' }),
    (e) => e instanceof UsageError && /not a checkpoint of the tinker backend/.test(e.message),
  );
});
