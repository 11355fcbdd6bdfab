// Tiny random Llama-family models written by python/llama_family_fixture.py, and the logits and greedy
// continuations transformers' own classes give for them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../src/model/checkpoint.js';
import type { LlamaConfig, LoraSettings } from '../../src/model/config.js';
import { engineFromWeights, type OrtModelEngine } from '../../src/model/engine.js';
import type { OptimizerSettings } from '../../src/model/engine-types.js';
import { llamaWeights } from '../../src/model/llama-weights.js';

export const LLAMA_FIXTURES = ['llama', 'qwen2', 'qwen3'] as const;

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/fixtures/llama-family');

export interface Reference {
  sequences: number[][];
  logits: number[][][];
  greedy: number[][];
}

/** The fields of a Hugging Face config.json the fixtures use. */
function configOf(dir: string): LlamaConfig {
  const j = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return {
    arch: 'llama',
    family: j.model_type,
    vocabSize: j.vocab_size,
    contextLength: j.max_position_embeddings,
    layers: j.num_hidden_layers,
    dModel: j.hidden_size,
    heads: j.num_attention_heads,
    kvHeads: j.num_key_value_heads,
    headDim: j.head_dim ?? j.hidden_size / j.num_attention_heads,
    ffn: j.intermediate_size,
    ropeTheta: j.rope_parameters.rope_theta,
    rmsEps: j.rms_norm_eps,
    tiedEmbeddings: j.tie_word_embeddings,
    attentionBias: j.model_type === 'qwen2',
    qkNorm: j.model_type === 'qwen3',
  };
}

export const FIXTURE_OPTIMIZER: OptimizerSettings = {
  learningRate: 1e-2,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1e9,
  beta1: 0.9,
  beta2: 0.99,
};

export async function loadLlamaFixture(
  name: string,
  opts: { lora?: LoraSettings; seed?: number; threads?: number } = {},
): Promise<{ engine: OrtModelEngine; ref: Reference; config: LlamaConfig }> {
  const dir = join(fixtures, name);
  const config = configOf(dir);
  const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
  const engine = await engineFromWeights(
    config,
    llamaWeights(config, (n) => tensors.get(n)),
    {
      threads: opts.threads ?? 1,
      seed: opts.seed ?? 0,
      optimizer: FIXTURE_OPTIMIZER,
      ...(opts.lora ? { lora: opts.lora } : {}),
    },
  );
  return { engine, ref: JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')), config };
}
