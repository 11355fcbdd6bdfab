// A Hugging Face model folder as a pretrained checkpoint: config.json for the spec, and the weights in
// model.safetensors or in shards listed by model.safetensors.index.json, as float32, bfloat16 or
// float16 (widened to float32 when read). Configs written by transformers 4 (rope_theta, rope_scaling)
// and 5 (rope_parameters) are both read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GgmlTypeName } from './gguf.js';
import {
  checkSpec,
  checkTensors,
  PRETRAINED_ARCHITECTURES,
  type PretrainedArchitecture,
  type PretrainedCheckpoint,
  type PretrainedSpec,
  type PretrainedTensor,
  type RopeScaling,
} from './pretrained.js';
import { readSafetensorsHeader, type SafetensorsEntry } from './safetensors-header.js';
import { readTensorFloats } from './tensor-reader.js';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** Tensors a saved model may carry that are not weights (old transformers saved the rotary table). */
const IGNORED = /\.rotary_emb\.inv_freq$/;

type Config = Record<string, unknown>;

/**
 * True when `dir` looks like a Hugging Face model folder: safetensors weights beside a config.json that
 * names a `model_type` (a checkpoint folder of the built-in model also holds a config.json and a
 * model.safetensors, but no model_type).
 */
export function isHfFolder(dir: string): boolean {
  const config = join(dir, 'config.json');
  if (!existsSync(config)) return false;
  if (!existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'model.safetensors.index.json')))
    return false;
  try {
    return (
      typeof (JSON.parse(readFileSync(config, 'utf8')) as { model_type?: unknown }).model_type === 'string'
    );
  } catch {
    return false;
  }
}

function field(dir: string, c: Config, key: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== 'number') throw new Error(`${dir}: config.json ${key} is missing or not a number`);
  return v;
}

function ropeOf(dir: string, c: Config): PretrainedSpec['rope'] {
  // transformers 5 writes rope_parameters; earlier versions rope_theta and rope_scaling.
  const params = (c.rope_parameters ?? c.rope_scaling ?? null) as Config | null;
  const base = (params?.rope_theta as number | undefined) ?? field(dir, c, 'rope_theta', 10000);
  const kind = (params?.rope_type ?? params?.type ?? 'default') as string;
  let scaling: RopeScaling;
  if (kind === 'default') scaling = { kind: 'none' };
  else if (kind === 'linear') scaling = { kind: 'linear', factor: field(dir, params!, 'factor') };
  else throw new Error(`${dir}: RoPE scaling '${kind}' is not supported (default and linear are)`);
  return { base, scaling };
}

function specOf(dir: string, c: Config): PretrainedSpec {
  const arch = c.model_type;
  if (typeof arch !== 'string' || !(PRETRAINED_ARCHITECTURES as readonly string[]).includes(arch))
    throw new Error(
      `${dir}: architecture '${String(arch)}' is not supported (supported: ${PRETRAINED_ARCHITECTURES.join(', ')})`,
    );
  const refuse = (what: string) => {
    throw new Error(`${dir}: ${what} is not supported`);
  };
  if ((c.hidden_act ?? 'silu') !== 'silu') refuse(`hidden_act '${String(c.hidden_act)}'`);
  if (c.mlp_bias === true) refuse('mlp_bias');
  if (c.use_sliding_window === true) refuse('sliding-window attention (use_sliding_window)');
  if ((c.partial_rotary_factor ?? 1) !== 1)
    refuse(`partial_rotary_factor ${String(c.partial_rotary_factor)}`);
  const dModel = field(dir, c, 'hidden_size');
  const heads = field(dir, c, 'num_attention_heads');
  return {
    architecture: arch as PretrainedArchitecture,
    layers: field(dir, c, 'num_hidden_layers'),
    dModel,
    dFfn: field(dir, c, 'intermediate_size'),
    heads,
    kvHeads: field(dir, c, 'num_key_value_heads', heads),
    headDim: (c.head_dim as number | null | undefined) ?? dModel / heads,
    vocabSize: field(dir, c, 'vocab_size'),
    contextLength: field(dir, c, 'max_position_embeddings'),
    rope: ropeOf(dir, c),
    rmsNormEps: field(dir, c, 'rms_norm_eps'),
    // The three config classes default to an untied head.
    tiedEmbeddings: c.tie_word_embeddings === true,
    qkvBias: arch === 'qwen2' || c.attention_bias === true,
    qkNorm: arch === 'qwen3',
    notes: [],
  };
}

/** The safetensors files of the folder: the one model.safetensors, or the shards the index names. */
function weightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> })
      .weight_map;
    if (!map) throw new Error(`${index}: no weight_map`);
    return [...new Set(Object.values(map))].map((f) => join(dir, f));
  }
  return [join(dir, 'model.safetensors')];
}

/** Opens a Hugging Face folder: config.json and the safetensors headers (the tensors stay on disk until read). */
export function openHfFolder(dir: string): PretrainedCheckpoint {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${dir}: no config.json (not a Hugging Face model folder)`);
  let config: Config;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as Config;
  } catch (e) {
    throw new Error(`${configPath}: not JSON (${(e as Error).message})`);
  }
  const spec = specOf(dir, config);
  checkSpec(dir, spec);
  const entries = new Map<string, SafetensorsEntry & { file: string }>();
  for (const file of weightFiles(dir)) {
    if (!existsSync(file)) throw new Error(`${dir}: weight file ${file} is missing`);
    for (const e of readSafetensorsHeader(file).entries.values()) {
      if (IGNORED.test(e.name) || (spec.tiedEmbeddings && e.name === 'lm_head.weight')) continue;
      if (entries.has(e.name)) throw new Error(`${dir}: tensor ${e.name} is stored twice`);
      if (!FLOAT_DTYPES.has(e.dtype))
        throw new Error(
          `${file}: tensor ${e.name} has dtype ${e.dtype} (supported: ${[...FLOAT_DTYPES].join(', ')})`,
        );
      entries.set(e.name, { ...e, file });
    }
  }
  const tensors = new Map<string, PretrainedTensor>();
  for (const e of entries.values()) tensors.set(e.name, { name: e.name, shape: e.shape, stored: e.dtype });
  checkTensors(dir, spec, tensors);
  return {
    path: dir,
    format: 'hf-folder',
    spec,
    tensors,
    tokenizer: { kind: 'hf-folder', dir },
    read(name: string, into?: Float32Array): Float32Array {
      const e = entries.get(name);
      if (!e) throw new Error(`${dir}: no tensor ${name}`);
      const count = e.shape.reduce((a, b) => a * b, 1);
      // The three float dtypes have ggml's names.
      return readTensorFloats(
        { path: e.file, offset: e.offset, type: e.dtype as GgmlTypeName, count, name },
        into,
      );
    },
  };
}
