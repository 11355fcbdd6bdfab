// A pretrained checkpoint (pretrained.ts: a GGUF file or a Hugging Face folder) in the engine: its spec
// as the engine's Llama-family config, its tensors converted once (llama-weights.ts), optionally LoRA
// adapters to train on top.
import { type LlamaConfig, parameterCount } from './config.js';
import { type EngineOptions, engineFromWeights, type OrtModelEngine } from './engine.js';
import { llamaWeights } from './llama-weights.js';
import type { Weights } from './params.js';
import type { PretrainedCheckpoint, PretrainedSpec } from './pretrained.js';

/** The context a real model runs at unless told otherwise: what self-play prompts and answers need. */
export const DEFAULT_REAL_CONTEXT = 2048;

/**
 * The engine's config for a checkpoint's spec, at `contextLength` positions (at most the checkpoint's
 * own; the KV cache and rotary tables are sized by it).
 */
export function llamaConfigOf(spec: PretrainedSpec, contextLength = DEFAULT_REAL_CONTEXT): LlamaConfig {
  if (!Number.isInteger(contextLength) || contextLength < 1)
    throw new RangeError(`contextLength must be a positive integer, got ${contextLength}`);
  const c: LlamaConfig = {
    arch: 'llama',
    family: spec.architecture,
    vocabSize: spec.vocabSize,
    contextLength: Math.min(contextLength, spec.contextLength),
    layers: spec.layers,
    dModel: spec.dModel,
    heads: spec.heads,
    kvHeads: spec.kvHeads,
    headDim: spec.headDim,
    ffn: spec.dFfn,
    ropeTheta: spec.rope.base,
    rmsEps: spec.rmsNormEps,
    tiedEmbeddings: spec.tiedEmbeddings,
    attentionBias: spec.qkvBias,
    qkNorm: spec.qkNorm,
  };
  if (spec.rope.scaling.kind === 'linear')
    c.ropeScaling = { kind: 'linear', factor: spec.rope.scaling.factor };
  return c;
}

/** A checkpoint's weights as the engine keeps them for `config` (dequantized to float32 as they are read). */
export function pretrainedWeights(checkpoint: PretrainedCheckpoint, config: LlamaConfig): Weights {
  return llamaWeights(config, (name) => {
    const t = checkpoint.tensors.get(name);
    return t ? { shape: t.shape, data: checkpoint.read(name) } : undefined;
  });
}

/** An engine over a checkpoint's weights. */
export async function pretrainedEngine(
  checkpoint: PretrainedCheckpoint,
  opts: EngineOptions & { contextLength?: number },
): Promise<OrtModelEngine> {
  const { contextLength, ...engineOpts } = opts;
  const config = llamaConfigOf(checkpoint.spec, contextLength);
  return engineFromWeights(config, pretrainedWeights(checkpoint, config), engineOpts);
}

/** Parameters of a checkpoint's model, for messages. */
export const pretrainedParameters = (spec: PretrainedSpec): number => parameterCount(llamaConfigOf(spec));
