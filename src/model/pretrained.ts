// A pretrained checkpoint on disk as the engine sees it, whatever its file format: a spec of the
// architecture (the numbers a graph is built from), its tensors under Hugging Face names and layouts
// (read and converted to float32 one at a time, on request), and where its tokenizer lives.
//
// One naming for GGUF files, Hugging Face folders and PEFT adapters: `model.embed_tokens.weight`
// [vocab, d], `model.layers.N.self_attn.q_proj.weight` [out, in], `model.norm.weight`, `lm_head.weight`.
// The architectures are the Llama family: pre-norm blocks of RMSNorm, rotary attention with grouped
// KV heads, and a SwiGLU MLP; Qwen2 adds Q/K/V biases, Qwen3 an RMSNorm over each query and key head.
import type { GgufFile } from './gguf.js';

export const PRETRAINED_ARCHITECTURES = ['llama', 'qwen2', 'qwen3'] as const;
export type PretrainedArchitecture = (typeof PRETRAINED_ARCHITECTURES)[number];

/** How rotary positions are stretched: not at all, or divided by `factor` (transformers' `linear`). */
export type RopeScaling = { kind: 'none' } | { kind: 'linear'; factor: number };

export interface PretrainedSpec {
  architecture: PretrainedArchitecture;
  layers: number;
  /** Residual stream width (hidden_size). */
  dModel: number;
  /** SwiGLU inner width (intermediate_size). */
  dFfn: number;
  heads: number;
  /** Key/value heads; each serves heads / kvHeads query heads. */
  kvHeads: number;
  headDim: number;
  /** Rows of the embedding (and of the head): may exceed the tokenizer's token count. */
  vocabSize: number;
  /** Longest sequence the model was trained for (max_position_embeddings). */
  contextLength: number;
  /** Rotary embedding over the whole head: frequency base (rope_theta) and position scaling. */
  rope: { base: number; scaling: RopeScaling };
  rmsNormEps: number;
  /**
   * True when the head is the token embedding; false when the checkpoint stores `lm_head.weight`, which
   * a Qwen2 GGUF does even for a model trained tied (see `notes`).
   */
  tiedEmbeddings: boolean;
  /** Q, K and V projections carry biases (Qwen2). */
  qkvBias: boolean;
  /** RMSNorm over each query and key head before the rotation (Qwen3). */
  qkNorm: boolean;
  /** Facts about this file a reader of its weights should know. */
  notes: string[];
}

export interface PretrainedTensor {
  /** Hugging Face name. */
  name: string;
  /** Row-major shape in Hugging Face layout ([out, in] for a linear weight). */
  shape: number[];
  /** How the file stores it: a ggml type (Q4_K, F32, ...) or a safetensors dtype (BF16, ...). */
  stored: string;
}

/** Where the tokenizer comes from: the GGUF's metadata, or a folder's tokenizer.json and tokenizer_config.json. */
export type TokenizerSource = { kind: 'gguf'; file: GgufFile } | { kind: 'hf-folder'; dir: string };

export interface PretrainedCheckpoint {
  /** The GGUF file or the Hugging Face folder. */
  path: string;
  format: 'gguf' | 'hf-folder';
  spec: PretrainedSpec;
  /** Every tensor the engine needs, by Hugging Face name, in file order. */
  tensors: ReadonlyMap<string, PretrainedTensor>;
  /**
   * One tensor as float32 in Hugging Face layout, read from disk now (nothing is cached): into `into`
   * when given (an engine's own buffer; it must hold the tensor), else into a new array.
   */
  read(name: string, into?: Float32Array): Float32Array;
  tokenizer: TokenizerSource;
}

/** The tensors a spec calls for, by Hugging Face name, with their shapes. */
export function expectedTensorShapes(spec: PretrainedSpec): Map<string, number[]> {
  const { dModel: d, dFfn, heads, kvHeads, headDim: hd, vocabSize } = spec;
  const out = new Map<string, number[]>([['model.embed_tokens.weight', [vocabSize, d]]]);
  for (let l = 0; l < spec.layers; l++) {
    const p = `model.layers.${l}`;
    out.set(`${p}.input_layernorm.weight`, [d]);
    out.set(`${p}.self_attn.q_proj.weight`, [heads * hd, d]);
    out.set(`${p}.self_attn.k_proj.weight`, [kvHeads * hd, d]);
    out.set(`${p}.self_attn.v_proj.weight`, [kvHeads * hd, d]);
    if (spec.qkvBias) {
      out.set(`${p}.self_attn.q_proj.bias`, [heads * hd]);
      out.set(`${p}.self_attn.k_proj.bias`, [kvHeads * hd]);
      out.set(`${p}.self_attn.v_proj.bias`, [kvHeads * hd]);
    }
    if (spec.qkNorm) {
      out.set(`${p}.self_attn.q_norm.weight`, [hd]);
      out.set(`${p}.self_attn.k_norm.weight`, [hd]);
    }
    out.set(`${p}.self_attn.o_proj.weight`, [d, heads * hd]);
    out.set(`${p}.post_attention_layernorm.weight`, [d]);
    out.set(`${p}.mlp.gate_proj.weight`, [dFfn, d]);
    out.set(`${p}.mlp.up_proj.weight`, [dFfn, d]);
    out.set(`${p}.mlp.down_proj.weight`, [d, dFfn]);
  }
  out.set('model.norm.weight', [d]);
  if (!spec.tiedEmbeddings) out.set('lm_head.weight', [vocabSize, d]);
  return out;
}

/**
 * Checks that a checkpoint holds exactly the tensors its spec calls for, with their shapes; the error
 * names every missing, unexpected or misshapen tensor (the first few of each).
 */
export function checkTensors(
  path: string,
  spec: PretrainedSpec,
  tensors: ReadonlyMap<string, PretrainedTensor>,
) {
  const want = expectedTensorShapes(spec);
  const problems: string[] = [];
  const list = (what: string, names: string[]) => {
    if (names.length > 0)
      problems.push(
        `${what}: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}`,
      );
  };
  list(
    'missing',
    [...want.keys()].filter((n) => !tensors.has(n)),
  );
  list(
    'unexpected',
    [...tensors.keys()].filter((n) => !want.has(n)),
  );
  list(
    'wrong shape',
    [...tensors.values()]
      .filter((t) => want.has(t.name) && want.get(t.name)!.join() !== t.shape.join())
      .map((t) => `${t.name} [${t.shape}] (expected [${want.get(t.name)}])`),
  );
  if (problems.length > 0)
    throw new Error(`${path}: tensors do not match a ${spec.architecture} model: ${problems.join('; ')}`);
}

/** Checks the numbers of a spec read from a file, naming the first that is not usable. */
export function checkSpec(path: string, spec: PretrainedSpec): void {
  const positive: (keyof PretrainedSpec)[] = [
    'layers',
    'dModel',
    'dFfn',
    'heads',
    'kvHeads',
    'headDim',
    'vocabSize',
    'contextLength',
  ];
  for (const k of positive) {
    const v = spec[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`${path}: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (spec.heads % spec.kvHeads !== 0)
    throw new Error(`${path}: ${spec.heads} query heads do not split evenly over ${spec.kvHeads} KV heads`);
  if (spec.headDim % 2 !== 0)
    throw new Error(`${path}: rotary embedding needs an even head dim, got ${spec.headDim}`);
  if (!(spec.rope.base > 0)) throw new Error(`${path}: RoPE base must be positive, got ${spec.rope.base}`);
  if (spec.rope.scaling.kind === 'linear' && !(spec.rope.scaling.factor > 0))
    throw new Error(`${path}: linear RoPE scaling factor must be positive, got ${spec.rope.scaling.factor}`);
  if (!(spec.rmsNormEps > 0))
    throw new Error(`${path}: RMSNorm eps must be positive, got ${spec.rmsNormEps}`);
}
