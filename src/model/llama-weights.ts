// A Llama-family checkpoint's tensors, as its loader gives them (Hugging Face names and layouts: linear
// weights [out, in], the embedding [vocab, dModel]), turned into the engine's weights (config.ts
// llamaParameterSpecs: linear weights [in, out] so a layer is x @ W, a tied embedding kept once as the
// head's [dModel, vocab]). Each tensor is fetched, converted and dropped in turn, so a load holds the
// converted model plus one tensor of the source, never the source whole.
import { type LlamaConfig, parameterSpecs } from './config.js';
import type { Weights } from './params.js';

/** One tensor of a checkpoint: row-major shape and float data. */
export interface SourceTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** A checkpoint's tensor by its Hugging Face name; undefined when it has none of that name. */
export type TensorSource = (name: string) => SourceTensor | undefined;

/** [rows, cols] to [cols, rows], in tiles that stay in cache on both sides. */
export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const from = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = a[from + c] as number;
      }
    }
  }
  return out;
}

/**
 * The engine's weights for `config` from `source`. The head is `lm_head.weight` when the model is untied;
 * a tied model's head is the embedding (a checkpoint that still carries an `lm_head.weight` equal to it
 * may leave it unread).
 */
export function llamaWeights(config: LlamaConfig, source: TensorSource): Weights {
  const out: Weights = new Map();
  for (const spec of parameterSpecs(config)) {
    const t = source(spec.name);
    if (!t) throw new Error(`the checkpoint has no tensor ${spec.name}`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size)
      throw new Error(`${spec.name} holds ${t.data.length} values, the model needs [${spec.shape}]`);
    if (spec.shape.length === 1) {
      out.set(spec.name, t.data);
      continue;
    }
    // Stored [out, in] (the embedding [vocab, dModel]); wanted [in, out], except the lookup-only
    // embedding of an untied model, which stays as it is.
    const [rows, cols] = t.shape as [number, number];
    const keep = spec.name === 'model.embed_tokens.weight' && !config.tiedEmbeddings;
    if (t.shape.length !== 2 || (keep ? rows !== spec.shape[0] : cols !== spec.shape[0]))
      throw new Error(`${spec.name} has shape [${t.shape}], which does not fit [${spec.shape}]`);
    out.set(spec.name, keep ? t.data : transpose2d(t.data, rows, cols));
  }
  return out;
}
