// Pretrained checkpoints read from disk against what transformers reads from the same files: the spec
// against its config, and every tensor, bit for bit, against its float32 state dict. The tiny
// checkpoints (python/make_tiny_checkpoints.py) cover Hugging Face folders in three dtypes, sharded and
// not, and small GGUFs of Llama (with llama.cpp's Q/K permutation) and Qwen3; the pulled SmolLM2 and
// Qwen2.5-Coder-0.5B are checked against python/pretrained_fixture.py's record when present.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PretrainedCheckpoint, PretrainedSpec } from '../../src/model/pretrained.js';
import { openPretrained, resolveModel } from '../../src/model/resolve-model.js';
import { type RealModelName, realModel } from './real-models.js';

interface Reference {
  class: string;
  config: Record<string, unknown> & {
    rope_parameters: { rope_type: string; rope_theta: number; factor?: number };
  };
  tensors: { name: string; shape: number[]; sha256: string; sum: number }[];
}

const TINY = 'test/fixtures/tiny-checkpoints';
const tiny = JSON.parse(readFileSync(join(TINY, 'expected.json'), 'utf8')) as Record<string, Reference>;
const work = mkdtempSync(join(tmpdir(), 'azr-pretrained-'));
after(() => rmSync(work, { recursive: true, force: true }));

function assertSpecIs(spec: PretrainedSpec, c: Reference['config']): void {
  const heads = c.num_attention_heads as number;
  const rope = c.rope_parameters;
  assert.deepEqual(
    {
      architecture: spec.architecture,
      layers: spec.layers,
      dModel: spec.dModel,
      dFfn: spec.dFfn,
      heads: spec.heads,
      kvHeads: spec.kvHeads,
      headDim: spec.headDim,
      vocabSize: spec.vocabSize,
      contextLength: spec.contextLength,
      rmsNormEps: spec.rmsNormEps,
      tiedEmbeddings: spec.tiedEmbeddings,
      rope: spec.rope,
    },
    {
      architecture: c.model_type,
      layers: c.num_hidden_layers,
      dModel: c.hidden_size,
      dFfn: c.intermediate_size,
      heads,
      kvHeads: c.num_key_value_heads,
      headDim: c.head_dim ?? (c.hidden_size as number) / heads,
      vocabSize: c.vocab_size,
      contextLength: c.max_position_embeddings,
      rmsNormEps: c.rms_norm_eps,
      tiedEmbeddings: c.tie_word_embeddings,
      rope: {
        base: rope.rope_theta,
        scaling: rope.rope_type === 'linear' ? { kind: 'linear', factor: rope.factor } : { kind: 'none' },
      },
    },
  );
}

/** Every tensor transformers holds (bar a tied head, which is the embedding) is read with the same bits. */
function assertTensorsAre(ckpt: PretrainedCheckpoint, ref: Reference): void {
  const want = ref.tensors.filter((t) => !(ckpt.spec.tiedEmbeddings && t.name === 'lm_head.weight'));
  assert.deepEqual([...ckpt.tensors.keys()].sort(), want.map((t) => t.name).sort());
  for (const t of want) {
    const data = ckpt.read(t.name);
    assert.deepEqual(ckpt.tensors.get(t.name)!.shape, t.shape, t.name);
    assert.equal(
      data.length,
      t.shape.reduce((a, b) => a * b, 1),
      t.name,
    );
    const sha = createHash('sha256')
      .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      .digest('hex');
    if (sha !== t.sha256) {
      let sum = 0;
      for (const x of data) sum += x;
      assert.fail(`${t.name} differs from transformers' (sum ${sum} against ${t.sum})`);
    }
  }
}

for (const [name, ref] of Object.entries(tiny).filter(([k]) => k !== 'about')) {
  test(`tiny ${name} reads as transformers reads it (${ref.class})`, () => {
    const ckpt = openPretrained(join(TINY, name));
    assert.equal(ckpt.format, name.endsWith('.gguf') ? 'gguf' : 'hf-folder');
    assertSpecIs(ckpt.spec, ref.config);
    assert.equal(ckpt.spec.qkvBias, ckpt.spec.architecture === 'qwen2');
    assert.equal(ckpt.spec.qkNorm, ckpt.spec.architecture === 'qwen3');
    assertTensorsAre(ckpt, ref);
    if (ckpt.tokenizer.kind === 'hf-folder') assert.equal(ckpt.tokenizer.dir, join(TINY, name));
    else assert.equal(ckpt.tokenizer.file.path, join(TINY, name));
  });
}

for (const name of ['smollm2-135m', 'qwen2.5-coder-0.5b'] as RealModelName[]) {
  const model = realModel(name);
  test(`${name}: every tensor equals transformers' state dict from the same GGUF`, {
    skip: model.skip,
  }, () => {
    const ref = JSON.parse(readFileSync(`test/fixtures/pretrained-${name}.json`, 'utf8')) as Reference;
    const ckpt = openPretrained(model.path());
    assertSpecIs(ckpt.spec, ref.config);
    assertTensorsAre(ckpt, ref);
    assert.equal(ckpt.tokenizer.kind, 'gguf');
    if (name === 'qwen2.5-coder-0.5b') {
      assert.equal(ckpt.spec.qkvBias, true);
      assert.equal(ckpt.spec.tiedEmbeddings, false);
      assert.match(
        ckpt.spec.notes.join(),
        /output\.weight \(Q8_0\) is stored apart from token_embd\.weight \(Q5_0\)/,
      );
      assert.equal(ckpt.tensors.get('lm_head.weight')!.stored, 'Q8_0');
    }
  });
}

/** A copy of a tiny folder with its config.json changed. */
function withConfig(folder: string, change: (c: Record<string, unknown>) => void): string {
  const dir = join(work, `${folder}-${Math.random().toString(36).slice(2)}`);
  cpSync(join(TINY, folder), dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  change(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

test('a config in transformers 4 style (rope_theta, rope_scaling) gives the same spec', () => {
  const dir = withConfig('llama-f32-tied', (c) => {
    const rope = c.rope_parameters as Record<string, unknown>;
    delete c.rope_parameters;
    c.rope_theta = rope.rope_theta;
    c.rope_scaling = { type: 'linear', factor: rope.factor };
  });
  assert.deepEqual(openPretrained(dir).spec, openPretrained(join(TINY, 'llama-f32-tied')).spec);
});

test('an unsupported architecture is an error that names it', () => {
  assert.throws(
    () => openPretrained(join(TINY, 'phi3.gguf')),
    /architecture 'phi3' is not supported \(supported: llama, qwen2, qwen3\)/,
  );
  const dir = withConfig('qwen3-f16', (c) => {
    c.model_type = 'gemma';
  });
  assert.throws(() => openPretrained(dir), /architecture 'gemma' is not supported/);
});

test('an unimplemented RoPE scaling is an error that names it', () => {
  const dir = withConfig('qwen3-f16', (c) => {
    c.rope_parameters = { rope_type: 'yarn', factor: 4, rope_theta: 10000 };
  });
  assert.throws(() => openPretrained(dir), /RoPE scaling 'yarn' is not supported \(default and linear are\)/);
});

test('tensors that do not fit the config are named', () => {
  const deeper = withConfig('qwen3-f16', (c) => {
    c.num_hidden_layers = 3;
  });
  assert.throws(
    () => openPretrained(deeper),
    /missing: model\.layers\.2\.input_layernorm\.weight, .* and \d+ more/,
  );
  const wider = withConfig('qwen2-bf16-sharded', (c) => {
    c.intermediate_size = 48;
  });
  assert.throws(
    () => openPretrained(wider),
    /wrong shape: .*model\.layers\.0\.mlp\.gate_proj\.weight \[64,32\] \(expected \[48,32\]\)/,
  );
});

test('a safetensors dtype other than F32, F16 and BF16 is an error naming the tensor', () => {
  const dir = join(work, 'int-weights');
  mkdirSync(dir);
  cpSync(join(TINY, 'qwen3-f16', 'config.json'), join(dir, 'config.json'));
  const header = Buffer.from(
    JSON.stringify({ 'model.norm.weight': { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }),
  );
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([size, header, Buffer.alloc(16)]));
  assert.throws(
    () => openPretrained(dir),
    /tensor model\.norm\.weight has dtype I64 \(supported: F32, F16, BF16\)/,
  );
});

test('a pullable model that is not pulled yet names the pull command; other names list what is pullable', () => {
  const empty = join(work, 'no-models');
  mkdirSync(empty);
  assert.throws(
    () => resolveModel('qwen2.5-coder-0.5b', empty),
    /model qwen2\.5-coder-0\.5b is not in .*no-models: fetch it with `npx azr pull qwen2\.5-coder-0\.5b`/,
  );
  assert.throws(
    () => resolveModel('gpt-5', empty),
    /gpt-5 is neither a file, a folder, nor a pullable model \(smollm2-135m, /,
  );
  assert.throws(() => resolveModel(empty, empty), /is a folder but not a Hugging Face model/);
  writeFileSync(join(empty, 'smollm2-135m.gguf'), '');
  assert.deepEqual(resolveModel('smollm2-135m', empty), {
    kind: 'gguf',
    path: join(empty, 'smollm2-135m.gguf'),
    pulled: 'smollm2-135m',
  });
});
