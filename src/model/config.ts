// Shapes of the engine's architectures and the names of their parameters. Training graph, decode graph,
// checkpoints and the benchmark's PyTorch reference all derive from these descriptions.
//
// Two architectures, one engine:
// - `gpt`, the built-in model (GPT-2 style, as in llm.c): token + learned position embeddings, `layers`
//   pre-norm blocks of causal multi-head self-attention and a 4x tanh-GELU MLP (LayerNorm with bias,
//   linear layers with bias), a final LayerNorm, and a head tied to the token embedding. Trained here from
//   random weights or a base pretrained here.
// - `llama`, the family real checkpoints come in (Llama, SmolLM2, Qwen2, Qwen3): RMSNorm, rotary position
//   embeddings, SwiGLU MLP, grouped-query attention; Qwen2 adds biases to the Q/K/V projections and keeps
//   an untied head, Qwen3 normalizes queries and keys per head. The variants are flags of one description.
// Linear weights are stored [in, out] in both, so a layer is `x @ W (+ b)`; real checkpoints (stored
// [out, in]) are transposed once when loaded.

/** The built-in GPT (checkpoints written before `arch` existed have none). */
export interface GptConfig {
  arch?: 'gpt';
  vocabSize: number;
  /** Longest sequence (prompt + completion) the model sees, in tokens. */
  contextLength: number;
  layers: number;
  dModel: number;
  heads: number;
}

/** How positions scale the rotary frequencies (Hugging Face's `rope_scaling` / GGUF `rope.scaling.*`). */
export type RopeScaling =
  | { kind: 'linear'; factor: number }
  | {
      /** Llama 3.1's: long wavelengths divided by `factor`, short ones kept, a smooth band between. */
      kind: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalContext: number;
    };

/** A model of the Llama family (see the top of this file). */
export interface LlamaConfig {
  arch: 'llama';
  /** What the checkpoint calls itself (`llama`, `qwen2`, `qwen3`): for messages, not for the graph. */
  family: string;
  vocabSize: number;
  /** Longest sequence the engine will run, at most the checkpoint's own context. */
  contextLength: number;
  layers: number;
  dModel: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; heads is a multiple of it (grouped-query attention). */
  kvHeads: number;
  headDim: number;
  /** Width of the SwiGLU MLP's hidden layer. */
  ffn: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  rmsEps: number;
  /** The head reuses the token embedding (no separate output matrix). */
  tiedEmbeddings: boolean;
  /** Biases on the query, key and value projections (Qwen2). */
  attentionBias: boolean;
  /** RMSNorm of each query and key head before the rotation (Qwen3). */
  qkNorm: boolean;
}

export type ModelConfig = GptConfig | LlamaConfig;

/** The linear layers of a Llama-family block that can carry a LoRA adapter (PEFT's target_modules, short). */
export const LORA_TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** Low-rank adapters on a frozen Llama-family model: W x + (alpha / rank) B A x, as PEFT's LoRA (dropout 0). */
export interface LoraSettings {
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
}

/** The Hugging Face module a LoRA target names, within a block. */
export const LORA_MODULE: Readonly<Record<LoraTarget, string>> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

export function validateLora(l: LoraSettings): void {
  if (!Number.isInteger(l.rank) || l.rank < 1)
    throw new Error(`lora.rank must be a positive integer, got ${l.rank}`);
  if (!(l.alpha > 0)) throw new Error(`lora.alpha must be > 0, got ${l.alpha}`);
  if (l.targets.length === 0) throw new Error('lora.targets must name at least one module');
  for (const t of l.targets)
    if (!LORA_TARGETS.includes(t))
      throw new Error(`lora.targets: ${t} is not one of ${LORA_TARGETS.join(', ')}`);
}

/**
 * A LoRA adapter's two matrices for every targeted module of every block, named after the module
 * (`model.layers.0.self_attn.q_proj.lora_A`), stored like the engine's linear weights: A [in, r],
 * B [r, out] (PEFT keeps lora_A [r, in] and lora_B [out, r]; exports transpose). A starts as PEFT's
 * (Kaiming-uniform), B at zero, so a fresh adapter changes nothing.
 */
export function loraParameterSpecs(c: LlamaConfig, lora: LoraSettings): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const shapes = new Map(parameterSpecs(c).map((s) => [s.name, s.shape]));
  for (let l = 0; l < c.layers; l++)
    for (const t of LORA_TARGETS) {
      if (!lora.targets.includes(t)) continue;
      const module = `model.layers.${l}.${LORA_MODULE[t]}`;
      const [inDim, outDim] = shapes.get(`${module}.weight`) as [number, number];
      specs.push(
        { name: `${module}.lora_A`, shape: [inDim, lora.rank], init: 'lora_a' },
        { name: `${module}.lora_B`, shape: [lora.rank, outDim], init: 'zeros' },
      );
    }
  return specs;
}

export const isLlama = (c: ModelConfig): c is LlamaConfig => c.arch === 'llama';

/** Query heads' width: dModel / heads for the GPT, the checkpoint's own head dimension for the Llama family. */
export const headDimOf = (c: ModelConfig): number => (isLlama(c) ? c.headDim : c.dModel / c.heads);

/** Heads the KV cache holds per layer. */
export const kvHeadsOf = (c: ModelConfig): number => (isLlama(c) ? c.kvHeads : c.heads);

export interface ParamSpec {
  name: string;
  shape: number[];
  /**
   * How a fresh model initialises it. `normal` uses std 0.02, scaled down for residual projections;
   * `lora_a` is uniform in +-1/sqrt(fan in) (PEFT's Kaiming-uniform with a = sqrt 5).
   */
  init: 'normal' | 'residual' | 'zeros' | 'ones' | 'lora_a';
}

/** Named sizes; parameter counts are for the default vocabulary and context. */
export const MODEL_PRESETS = {
  /** ~0.5M parameters: tests and smoke runs. */
  tiny: { layers: 2, dModel: 128, heads: 4 },
  /** ~2M parameters: the default self-play model on a laptop CPU. */
  small: { layers: 4, dModel: 192, heads: 4 },
  /** ~10M parameters. */
  medium: { layers: 6, dModel: 384, heads: 6 },
  /** ~20M parameters. */
  large: { layers: 8, dModel: 448, heads: 7 },
} as const satisfies Record<string, Pick<GptConfig, 'layers' | 'dModel' | 'heads'>>;

export type ModelPreset = keyof typeof MODEL_PRESETS;

export function validateModelConfig(c: ModelConfig): void {
  const positive = (k: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) <= 0)
      throw new Error(`model.${k} must be a positive integer, got ${v}`);
  };
  for (const k of ['vocabSize', 'contextLength', 'layers', 'dModel', 'heads'] as const) positive(k, c[k]);
  if (!isLlama(c)) {
    if (c.arch !== undefined && c.arch !== 'gpt')
      throw new Error(
        `model.arch ${JSON.stringify(c.arch)} is not an architecture of this engine (gpt, llama)`,
      );
    if (c.dModel % c.heads !== 0)
      throw new Error(`model.dModel (${c.dModel}) must be divisible by model.heads (${c.heads})`);
    return;
  }
  for (const k of ['kvHeads', 'headDim', 'ffn'] as const) positive(k, c[k]);
  if (c.heads % c.kvHeads !== 0)
    throw new Error(`model.heads (${c.heads}) must be a multiple of model.kvHeads (${c.kvHeads})`);
  if (c.headDim % 2 !== 0) throw new Error(`model.headDim (${c.headDim}) must be even (rotary pairs)`);
  if (!(c.ropeTheta > 0)) throw new Error(`model.ropeTheta must be > 0, got ${c.ropeTheta}`);
  if (!(c.rmsEps > 0)) throw new Error(`model.rmsEps must be > 0, got ${c.rmsEps}`);
}

/** Every parameter in a fixed order: the order of graph inputs and of checkpoint tensors. */
export function parameterSpecs(c: ModelConfig): ParamSpec[] {
  return isLlama(c) ? llamaParameterSpecs(c) : gptParameterSpecs(c);
}

function gptParameterSpecs(c: GptConfig): ParamSpec[] {
  const D = c.dModel;
  const specs: ParamSpec[] = [
    { name: 'wte', shape: [c.vocabSize, D], init: 'normal' },
    { name: 'wpe', shape: [c.contextLength, D], init: 'normal' },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `h.${l}`;
    specs.push(
      { name: `${p}.ln1.weight`, shape: [D], init: 'ones' },
      { name: `${p}.ln1.bias`, shape: [D], init: 'zeros' },
      { name: `${p}.attn.qkv.weight`, shape: [D, 3 * D], init: 'normal' },
      { name: `${p}.attn.qkv.bias`, shape: [3 * D], init: 'zeros' },
      { name: `${p}.attn.proj.weight`, shape: [D, D], init: 'residual' },
      { name: `${p}.attn.proj.bias`, shape: [D], init: 'zeros' },
      { name: `${p}.ln2.weight`, shape: [D], init: 'ones' },
      { name: `${p}.ln2.bias`, shape: [D], init: 'zeros' },
      { name: `${p}.mlp.fc.weight`, shape: [D, 4 * D], init: 'normal' },
      { name: `${p}.mlp.fc.bias`, shape: [4 * D], init: 'zeros' },
      { name: `${p}.mlp.proj.weight`, shape: [4 * D, D], init: 'residual' },
      { name: `${p}.mlp.proj.bias`, shape: [D], init: 'zeros' },
    );
  }
  specs.push(
    { name: 'lnf.weight', shape: [D], init: 'ones' },
    { name: 'lnf.bias', shape: [D], init: 'zeros' },
  );
  return specs;
}

export function parameterCount(c: ModelConfig): number {
  return parameterSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The Llama family's parameters under Hugging Face's names (what GGUF and safetensors loaders, PEFT adapters
 * and exports meet on), linear weights [in, out]. A tied model has no `lm_head.weight`: its head is the
 * embedding, which the engine keeps transposed ([dModel, vocab]) under `model.embed_tokens.weight`; an untied
 * one keeps the embedding [vocab, dModel] for lookups and the head [dModel, vocab].
 */
function llamaParameterSpecs(c: LlamaConfig): ParamSpec[] {
  const D = c.dModel;
  const q = c.heads * c.headDim;
  const kv = c.kvHeads * c.headDim;
  const specs: ParamSpec[] = [
    {
      name: 'model.embed_tokens.weight',
      shape: c.tiedEmbeddings ? [D, c.vocabSize] : [c.vocabSize, D],
      init: 'normal',
    },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [D], init: 'ones' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [D, q], init: 'normal' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [D, kv], init: 'normal' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [D, kv], init: 'normal' },
    );
    if (c.attentionBias)
      specs.push(
        { name: `${p}.self_attn.q_proj.bias`, shape: [q], init: 'zeros' },
        { name: `${p}.self_attn.k_proj.bias`, shape: [kv], init: 'zeros' },
        { name: `${p}.self_attn.v_proj.bias`, shape: [kv], init: 'zeros' },
      );
    if (c.qkNorm)
      specs.push(
        { name: `${p}.self_attn.q_norm.weight`, shape: [c.headDim], init: 'ones' },
        { name: `${p}.self_attn.k_norm.weight`, shape: [c.headDim], init: 'ones' },
      );
    specs.push(
      { name: `${p}.self_attn.o_proj.weight`, shape: [q, D], init: 'residual' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [D], init: 'ones' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [D, c.ffn], init: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [D, c.ffn], init: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [c.ffn, D], init: 'residual' },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [D], init: 'ones' });
  if (!c.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [D, c.vocabSize], init: 'normal' });
  return specs;
}

/**
 * The rotary inverse frequencies of a Llama-family model, one per pair of the head: theta^(-2i/hd),
 * rescaled as `ropeScaling` says (Hugging Face's default, linear and llama3 rules).
 */
export function ropeFrequencies(c: LlamaConfig): number[] {
  const half = c.headDim / 2;
  const base = Array.from({ length: half }, (_, i) => 1 / c.ropeTheta ** ((2 * i) / c.headDim));
  const s = c.ropeScaling;
  if (!s) return base;
  if (s.kind === 'linear') return base.map((f) => f / s.factor);
  const lowWavelength = s.originalContext / s.lowFreqFactor;
  const highWavelength = s.originalContext / s.highFreqFactor;
  return base.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < highWavelength) return f;
    if (wavelength > lowWavelength) return f / s.factor;
    const smooth = (s.originalContext / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
