// Sampling graphs: prefill (a whole prompt batch at once) and decode (one new token per row against the
// KV cache). The cache lives on the TypeScript side (engine.ts) and is passed in without a copy; only the
// new step's keys and values come back.
//
// Cache layout: head-major [B, H, C, hd] per layer, C a capacity that grows in blocks as the rows
// lengthen, unfilled slots masked. Measured against the time-major [S, B, H, hd] prefix (which needs a
// Concat and a Transpose of the whole cache inside every step), with the small preset, batch 32, one
// thread: 3.9-5.5 vs 6.0 ms CPU per step at 200 cached positions, 5.5-5.8 vs 9.5-11.6 ms at 400; the
// medium preset at 200: 15.5-16.8 vs 21-22 ms. At 16 positions the block padding costs ~10%.
//
// The weights are either baked in as initializers (the session is rebuilt after each update) or fed as
// graph inputs (no rebuild); `weights` picks. The head uses wte^T [D, V], transposed once on the
// TypeScript side (`wteT`), which saves a transpose per step.
import type { ModelConfig } from './config.js';
import { parameterSpecs } from './config.js';
import { layerNormInference } from './layers.js';
import { Graph, type T } from './onnx/graph.js';
import { DataType } from './onnx/proto.js';

/** Baked weights (initializers, keyed by parameter name plus `wteT`) or 'inputs' (fed each run). */
export type WeightSource = ReadonlyMap<string, Float32Array> | 'inputs';

export function transposeEmbedding(c: ModelConfig, wte: Float32Array): Float32Array {
  const D = c.dModel;
  const V = c.vocabSize;
  const out = new Float32Array(D * V);
  for (let i = 0; i < V; i++) for (let j = 0; j < D; j++) out[j * V + i] = wte[i * D + j] as number;
  return out;
}

function declareWeights(g: Graph, c: ModelConfig, weights: WeightSource): void {
  const all = [...parameterSpecs(c), { name: 'wteT', shape: [c.dModel, c.vocabSize] }];
  for (const s of all) {
    if (weights === 'inputs') {
      g.input(s.name, s.shape);
      continue;
    }
    const w = weights.get(s.name);
    if (!w) throw new Error(`missing weight ${s.name}`);
    g.floats(s.name, s.shape, w);
  }
}

/** One transformer block; `attend(q, k, v)` maps the [rows, D] projections to the attention output. */
function block(g: Graph, l: number, x: T, attend: (q: T, k: T, v: T) => T): T {
  const p = `h.${l}`;
  const h = layerNormInference(g, x, `${p}.ln1.weight`, `${p}.ln1.bias`);
  const qkv = g.add(g.matmul(h, `${p}.attn.qkv.weight`), `${p}.attn.qkv.bias`);
  const [q, k, v] = g.opN('Split', [qkv], 3, { axis: -1, num_outputs: 3 }) as [T, T, T];
  const x1 = g.add(x, g.add(g.matmul(attend(q, k, v), `${p}.attn.proj.weight`), `${p}.attn.proj.bias`));
  const h2 = layerNormInference(g, x1, `${p}.ln2.weight`, `${p}.ln2.bias`);
  const f = g.op('Gelu', [g.add(g.matmul(h2, `${p}.mlp.fc.weight`), `${p}.mlp.fc.bias`)], {
    approximate: 'tanh',
  });
  return g.add(x1, g.add(g.matmul(f, `${p}.mlp.proj.weight`), `${p}.mlp.proj.bias`));
}

/**
 * Prefill of a left-padded prompt batch [B, P], both dimensions symbolic (one session serves every batch
 * and prompt length). Inputs: tokens, positions (int64 [B, P]), mask [B, 1, P, P] (additive: causal plus
 * the left padding as keys). Outputs: `k{l}`/`v{l}` head-major [B, H, P, hd] and `logits` [B, V] of the
 * last position.
 */
export function buildPrefillGraph(c: ModelConfig, weights: WeightSource): Uint8Array {
  const g = new Graph('prefill');
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  declareWeights(g, c, weights);
  const tokens = g.input('tokens', ['B', 'P'], DataType.INT64);
  const positions = g.input('positions', ['B', 'P'], DataType.INT64);
  const mask = g.input('mask', ['B', 1, 'P', 'P']);
  // [B, P, D] throughout: Reshape's 0 copies a dimension, so the heads split needs no shape arithmetic.
  let x = g.add(g.op('Gather', ['wte', tokens]), g.op('Gather', ['wpe', positions]));
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    x = block(g, l, x, (q, k, v) => {
      const heads = (a: T) => g.transpose(g.reshape(a, [0, 0, H, hd]), [0, 2, 1, 3]); // [B, H, P, hd]
      const kh = g.output(heads(k), `k${l}`, ['B', H, 'P', hd]);
      const vh = g.output(heads(v), `v${l}`, ['B', H, 'P', hd]);
      const att = g.op('Softmax', [g.add(g.matmul(heads(g.mul(q, scale)), g.t4(kh)), mask)], { axis: -1 });
      return g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [0, 0, D]);
    });
  }
  const last = g.reshape(g.op('Slice', [x, g.ints([-1]), g.ints([2 ** 31 - 1]), g.ints([1])]), [-1, D]);
  const h = layerNormInference(g, last, 'lnf.weight', 'lnf.bias');
  g.output(g.matmul(h, 'wteT'), 'logits', ['B', c.vocabSize]);
  return g.encode();
}

/**
 * Decode step against a head-major cache [B, H, C, hd] (B and C symbolic; C = the cache's current
 * capacity, unfilled slots masked): the keys need no copy or transpose per step, the score product reads
 * them as a transposed operand. Inputs: token, position (int64 [B]), mask [B, C+1] (additive: padding and
 * unfilled slots, the last entry is the new token itself), `pk{l}`/`pv{l}` [B, H, C, hd]. Outputs: logits
 * [B, V], `nk{l}`/`nv{l}` [B, H, 1, hd].
 */
export function buildDecodeGraph(c: ModelConfig, weights: WeightSource): Uint8Array {
  const g = new Graph('decode');
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  declareWeights(g, c, weights);
  const token = g.input('token', ['B'], DataType.INT64);
  const position = g.input('position', ['B'], DataType.INT64);
  const mask = g.input('mask', ['B', 'C1']);
  const mask4 = g.op('Unsqueeze', [mask, g.ints([1, 2])]); // [B, 1, 1, C+1]
  let x = g.add(g.op('Gather', ['wte', token]), g.op('Gather', ['wpe', position])); // [B, D]
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    const pk = g.input(`pk${l}`, ['B', H, 'C', hd]);
    const pv = g.input(`pv${l}`, ['B', H, 'C', hd]);
    x = block(g, l, x, (q, k, v) => {
      const nk = g.output(g.reshape(k, [-1, H, 1, hd]), `nk${l}`, ['B', H, 1, hd]);
      const nv = g.output(g.reshape(v, [-1, H, 1, hd]), `nv${l}`, ['B', H, 1, hd]);
      const qh = g.reshape(g.mul(q, scale), [-1, H, 1, hd]);
      const past = g.matmul(qh, g.t4(pk)); // [B, H, 1, C]
      const self = g.sumLast(g.mul(qh, nk)); // [B, H, 1, 1]
      const att = g.op('Softmax', [g.add(g.op('Concat', [past, self], { axis: -1 }), mask4)], { axis: -1 });
      const attPast = g.op('Slice', [att, g.ints([0]), g.ints([-1]), g.ints([-1])]);
      const attSelf = g.op('Slice', [att, g.ints([-1]), g.ints([2 ** 31 - 1]), g.ints([-1])]);
      return g.reshape(g.add(g.matmul(attPast, pv), g.mul(attSelf, nv)), [-1, D]);
    });
  }
  const h = layerNormInference(g, x, 'lnf.weight', 'lnf.bias');
  g.output(g.matmul(h, 'wteT'), 'logits', ['B', c.vocabSize]);
  return g.encode();
}
