// Shape of the built-in transformer and the names of its parameters. Training graph, decode graph,
// checkpoints and the benchmark's PyTorch reference all derive from this one description.
//
// Architecture (GPT-2 style, as in llm.c): token + learned position embeddings, `layers` pre-norm blocks
// of causal multi-head self-attention and a 4x tanh-GELU MLP (LayerNorm with bias, linear layers with
// bias), a final LayerNorm, and a head tied to the token embedding. Linear weights are stored [in, out]
// so a layer is `x @ W + b`.

export interface ModelConfig {
  vocabSize: number;
  /** Longest sequence (prompt + completion) the model sees, in tokens. */
  contextLength: number;
  layers: number;
  dModel: number;
  heads: number;
}

export interface ParamSpec {
  name: string;
  shape: number[];
  /** How a fresh model initialises it. `normal` uses std 0.02, scaled down for residual projections. */
  init: 'normal' | 'residual' | 'zeros' | 'ones';
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
} as const satisfies Record<string, Pick<ModelConfig, 'layers' | 'dModel' | 'heads'>>;

export type ModelPreset = keyof typeof MODEL_PRESETS;

export function validateModelConfig(c: ModelConfig): void {
  const ints: (keyof ModelConfig)[] = ['vocabSize', 'contextLength', 'layers', 'dModel', 'heads'];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || c[k] <= 0)
      throw new Error(`model.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.dModel % c.heads !== 0) {
    throw new Error(`model.dModel (${c.dModel}) must be divisible by model.heads (${c.heads})`);
  }
}

/** Every parameter in a fixed order: the order of graph inputs and of checkpoint tensors. */
export function parameterSpecs(c: ModelConfig): ParamSpec[] {
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
