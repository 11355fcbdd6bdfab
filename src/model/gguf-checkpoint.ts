// A GGUF file as a pretrained checkpoint: the spec from its `<arch>.*` metadata, its tensors renamed from
// llama.cpp's names (blk.N.attn_q.weight) to Hugging Face's (model.layers.N.self_attn.q_proj.weight) and
// dequantized to float32 when read.
//
// llama.cpp's converter permutes the rows of a Llama model's Q and K projections (within each head it
// interleaves the two rotary halves); reading undoes that exactly as transformers' GGUF loader does, so
// the tensors equal those of the Hugging Face model transformers builds from the same file. Qwen2 and
// Qwen3 files are stored unpermuted.
import { type GgufFile, type GgufTensorInfo, type GgufValue, metaString, readGguf } from './gguf.js';
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
import { readTensorFloats } from './tensor-reader.js';

/** llama.cpp's per-block tensor names and their Hugging Face counterparts (after `model.layers.N.`). */
const BLOCK_TENSORS: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const TOP_TENSORS: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/** The Hugging Face name of a GGUF tensor, or undefined for a name this loader does not know. */
function huggingFaceName(ggufName: string): string | undefined {
  const top = TOP_TENSORS[ggufName];
  if (top) return top;
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(ggufName);
  const part = m && BLOCK_TENSORS[m[2]!];
  return part ? `model.layers.${m![1]}.${part}.${m![3]}` : undefined;
}

function metaValue(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key);
}

function integer(file: GgufFile, key: string, fallback?: number): number {
  const v = metaValue(file, key) ?? fallback;
  if (Array.isArray(v)) throw new Error(`${file.path}: ${key} varies per layer, which is not supported`);
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Error(`${file.path}: metadata ${key} is missing or not an integer`);
  return v;
}

function real(file: GgufFile, key: string, fallback?: number): number {
  const v = metaValue(file, key) ?? fallback;
  if (typeof v !== 'number') throw new Error(`${file.path}: metadata ${key} is missing or not a number`);
  return v;
}

function ropeScaling(file: GgufFile, arch: string): RopeScaling {
  const kind = metaValue(file, `${arch}.rope.scaling.type`);
  // Older converters wrote only a linear factor.
  const legacy = metaValue(file, `${arch}.rope.scale_linear`);
  if (kind === undefined || kind === 'none')
    return typeof legacy === 'number' && legacy !== 1 ? { kind: 'linear', factor: legacy } : { kind: 'none' };
  if (kind === 'linear') return { kind: 'linear', factor: real(file, `${arch}.rope.scaling.factor`) };
  throw new Error(`${file.path}: RoPE scaling '${String(kind)}' is not supported (none and linear are)`);
}

function specOf(file: GgufFile): PretrainedSpec {
  const arch = metaString(file, 'general.architecture');
  if (!(PRETRAINED_ARCHITECTURES as readonly string[]).includes(arch))
    throw new Error(
      `${file.path}: architecture '${arch}' is not supported (supported: ${PRETRAINED_ARCHITECTURES.join(', ')})`,
    );
  if (file.tensors.has('rope_freqs.weight'))
    throw new Error(
      `${file.path}: RoPE frequency factors (rope_freqs.weight, Llama 3 scaling) are not supported`,
    );
  const embed = file.tensors.get('token_embd.weight');
  if (embed?.shape.length !== 2) throw new Error(`${file.path}: no 2-D token_embd.weight`);
  const dModel = integer(file, `${arch}.embedding_length`);
  const heads = integer(file, `${arch}.attention.head_count`);
  const headDim = integer(file, `${arch}.attention.key_length`, dModel / heads);
  const valueDim = integer(file, `${arch}.attention.value_length`, headDim);
  if (valueDim !== headDim)
    throw new Error(
      `${file.path}: value heads of ${valueDim} differ from key heads of ${headDim}, not supported`,
    );
  const rotary = integer(file, `${arch}.rope.dimension_count`, headDim);
  if (rotary !== headDim)
    throw new Error(`${file.path}: rotary embedding over ${rotary} of ${headDim} head dims is not supported`);
  const vocabSize = embed.shape[0]!;
  const declared = metaValue(file, `${arch}.vocab_size`);
  if (declared !== undefined && declared !== vocabSize)
    throw new Error(
      `${file.path}: ${arch}.vocab_size ${String(declared)} differs from the embedding's ${vocabSize} rows`,
    );
  const tiedEmbeddings = !file.tensors.has('output.weight');
  const notes: string[] = [];
  if (!tiedEmbeddings && arch === 'qwen2')
    notes.push(
      `output.weight (${file.tensors.get('output.weight')!.type}) is stored apart from token_embd.weight ` +
        `(${embed.type}) and read as lm_head.weight, as transformers does: the head is untied even where the ` +
        'upstream model ties the two (Qwen2.5 models up to 3B do; llama.cpp then writes the matrix twice)',
    );
  return {
    architecture: arch as PretrainedArchitecture,
    layers: integer(file, `${arch}.block_count`),
    dModel,
    dFfn: integer(file, `${arch}.feed_forward_length`),
    heads,
    kvHeads: integer(file, `${arch}.attention.head_count_kv`, heads),
    headDim,
    vocabSize,
    contextLength: integer(file, `${arch}.context_length`),
    rope: { base: real(file, `${arch}.rope.freq_base`, 10000), scaling: ropeScaling(file, arch) },
    rmsNormEps: real(file, `${arch}.attention.layer_norm_rms_epsilon`),
    tiedEmbeddings,
    qkvBias: file.tensors.has('blk.0.attn_q.bias'),
    qkNorm: file.tensors.has('blk.0.attn_q_norm.weight'),
    notes,
  };
}

/**
 * Undoes llama.cpp's rotary permutation of a Q or K projection (weight [heads * headDim, in] or bias
 * [heads * headDim]): within each head, stored row 2j + i is row i * headDim / 2 + j of the original.
 */
function unpermuteRotary(
  data: Float32Array,
  heads: number,
  rowLength: number,
  out: Float32Array,
): Float32Array {
  const rows = data.length / rowLength;
  const half = rows / heads / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const from = (h * 2 * half + 2 * j + i) * rowLength;
        out.set(data.subarray(from, from + rowLength), (h * 2 * half + i * half + j) * rowLength);
      }
  return out;
}

/** Opens a GGUF file (header, metadata and tensor directory; the tensors stay on disk until read). */
export function openGgufCheckpoint(path: string): PretrainedCheckpoint {
  const file = readGguf(path);
  const spec = specOf(file);
  checkSpec(path, spec);
  const tensors = new Map<string, PretrainedTensor>();
  const stored = new Map<string, GgufTensorInfo>();
  for (const t of file.tensors.values()) {
    const name = huggingFaceName(t.name);
    if (!name)
      throw new Error(
        `${path}: tensor ${t.name} is not part of a ${spec.architecture} model this loader knows`,
      );
    tensors.set(name, { name, shape: t.shape, stored: t.type });
    stored.set(name, t);
  }
  checkTensors(path, spec, tensors);
  const permuted = spec.architecture === 'llama';
  return {
    path,
    format: 'gguf',
    spec,
    tensors,
    tokenizer: { kind: 'gguf', file },
    read(name: string, into?: Float32Array): Float32Array {
      const t = stored.get(name);
      if (!t) throw new Error(`${path}: no tensor ${name}`);
      const count = t.shape.reduce((a, b) => a * b, 1);
      const source = { path, offset: t.offset, type: t.type, count, name: t.name };
      if (permuted && /\.self_attn\.[qk]_proj\./.test(name)) {
        const heads = name.includes('.q_proj.') ? spec.heads : spec.kvHeads;
        const rowLength = t.shape.length === 2 ? t.shape[1]! : 1;
        return unpermuteRotary(readTensorFloats(source), heads, rowLength, into ?? new Float32Array(count));
      }
      return readTensorFloats(source, into);
    },
  };
}
