// A pretrained model with LoRA adapters merged into it, written as a plain Hugging Face folder, so that
// tools which know nothing of PEFT (vLLM, transformers, llama.cpp's convert_hf_to_gguf.py) serve what a run
// learned:
//   config.json               the architecture as transformers names it (LlamaForCausalLM, Qwen2ForCausalLM,
//                             Qwen3ForCausalLM), float32;
//   model.safetensors         every tensor of the base in Hugging Face names and layout, each adapted
//                             linear weight W [out, in] replaced by W + (alpha / r) (A B)^T;
//   tokenizer.json,           the base's tokenizer: a GGUF's rebuilt as the tokenizer.json it stands for
//   tokenizer_config.json     (gguf-tokenizer.ts), a folder's copied.
// Tensors are read, merged and written one at a time: the export holds one tensor of the base, not all.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from './checkpoint.js';
import { LORA_MODULE, type LoraSettings } from './config.js';
import { ggufTokenizerSpec } from './gguf-tokenizer.js';
import type { PretrainedCheckpoint, PretrainedSpec } from './pretrained.js';

/** What transformers calls each architecture's causal-LM class. */
const HF_CLASS: Record<PretrainedSpec['architecture'], string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/** Tokenizer files a Hugging Face folder may carry, copied as they are. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'vocab.json',
  'merges.txt',
];

/** config.json for `spec` (the fields transformers 4 and 5 both read). */
export function hfConfigOf(
  spec: PretrainedSpec,
  ids: { bos?: number; eos?: number; pad?: number } = {},
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    architectures: [HF_CLASS[spec.architecture]],
    model_type: spec.architecture,
    hidden_size: spec.dModel,
    intermediate_size: spec.dFfn,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.headDim,
    vocab_size: spec.vocabSize,
    max_position_embeddings: spec.contextLength,
    rope_theta: spec.rope.base,
    rope_scaling:
      spec.rope.scaling.kind === 'linear' ? { rope_type: 'linear', factor: spec.rope.scaling.factor } : null,
    rms_norm_eps: spec.rmsNormEps,
    hidden_act: 'silu',
    tie_word_embeddings: spec.tiedEmbeddings,
    torch_dtype: 'float32',
    use_cache: true,
  };
  // Qwen2's biases are implied by its class; Llama and Qwen3 say whether they have them.
  if (spec.architecture !== 'qwen2') config.attention_bias = spec.qkvBias;
  if (spec.architecture === 'llama') config.mlp_bias = false;
  if (spec.architecture !== 'llama') config.use_sliding_window = false;
  if (ids.bos !== undefined) config.bos_token_id = ids.bos;
  if (ids.eos !== undefined) config.eos_token_id = ids.eos;
  if (ids.pad !== undefined) config.pad_token_id = ids.pad;
  return config;
}

/**
 * W [out, in] + scale (A B)^T in place, with A [in, r] and B [r, out] in the engine's layout (config.ts):
 * W[o, i] += scale * sum_k A[i, k] B[k, o].
 */
export function mergeLora(
  w: Float32Array,
  outDim: number,
  inDim: number,
  a: Float32Array,
  b: Float32Array,
  rank: number,
  scale: number,
): void {
  const col = new Float32Array(rank);
  for (let o = 0; o < outDim; o++) {
    for (let k = 0; k < rank; k++) col[k] = scale * (b[k * outDim + o] as number);
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) {
      let s = 0;
      const ai = i * rank;
      for (let k = 0; k < rank; k++) s += (a[ai + k] as number) * (col[k] as number);
      w[row + i] = (w[row + i] as number) + s;
    }
  }
}

/** Summary of a written folder. */
export interface MergedExport {
  dir: string;
  tensors: number;
  /** Adapted weights merged (0 when no adapters were given). */
  merged: number;
}

/**
 * Writes `base` with `adapter` (a PEFT adapter as readPeftAdapter gives it; null: the base as it is) merged in, as a Hugging Face folder
 * at `dir`. The folder is assembled beside `dir` and renamed into place, so a crash leaves no half folder.
 */
export function writeMergedFolder(
  base: PretrainedCheckpoint,
  adapter: { lora: LoraSettings; adapters: ReadonlyMap<string, Float32Array> } | null,
  dir: string,
): MergedExport {
  if (existsSync(dir)) throw new Error(`${dir} already exists; give a new folder`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const scale = adapter ? adapter.lora.alpha / adapter.lora.rank : 0;
  // The adapted modules as weight names spell them ('self_attn.q_proj').
  const adapted = new Set((adapter?.lora.targets ?? []).map((t) => LORA_MODULE[t]));
  let merged = 0;
  const tensors = [...base.tensors.values()].map((t) => ({
    name: t.name,
    shape: t.shape,
    data: () => {
      const data = base.read(t.name);
      // model.layers.N.<module>.weight, with <module> one the adapters target.
      const m = /^(model\.layers\.\d+\.(\w+\.\w+))\.weight$/.exec(t.name);
      if (adapter && m && adapted.has(m[2] as string)) {
        const a = adapter.adapters.get(`${m[1]}.lora_A`);
        const b = adapter.adapters.get(`${m[1]}.lora_B`);
        if (!a || !b) throw new Error(`the adapters lack ${m[1]}.lora_A or .lora_B`);
        const [outDim, inDim] = t.shape as [number, number];
        mergeLora(data, outDim, inDim, a, b, adapter.lora.rank, scale);
        merged++;
      }
      return data;
    },
  }));
  writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });

  let ids: { bos?: number; eos?: number; pad?: number } = {};
  if (base.tokenizer.kind === 'gguf') {
    const spec = ggufTokenizerSpec(base.tokenizer.file);
    const idOf = (token: string | undefined) =>
      token === undefined ? undefined : spec.tokens.indexOf(token);
    ids = { bos: idOf(spec.bosToken), eos: idOf(spec.eosToken), pad: idOf(spec.padToken) };
    writeJson(join(tmp, 'tokenizer.json'), spec.json);
    writeJson(join(tmp, 'tokenizer_config.json'), {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: spec.bosToken ?? null,
      eos_token: spec.eosToken ?? null,
      pad_token: spec.padToken ?? null,
      unk_token: spec.unkToken ?? null,
      ...(spec.chatTemplate ? { chat_template: spec.chatTemplate } : {}),
      clean_up_tokenization_spaces: false,
      model_max_length: base.spec.contextLength,
    });
  } else {
    for (const f of TOKENIZER_FILES)
      if (existsSync(join(base.tokenizer.dir, f))) copyFileSync(join(base.tokenizer.dir, f), join(tmp, f));
  }
  writeJson(join(tmp, 'config.json'), hfConfigOf(base.spec, ids));
  renameSync(tmp, dir);
  return { dir, tensors: tensors.length, merged };
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
