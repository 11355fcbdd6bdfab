// Sampling graphs: prefill (a whole prompt batch at once) and decode (one new token per row against the
// KV cache), for every architecture of config.ts. The cache lives on the TypeScript side (engine.ts) and
// is passed in without a copy; only the new step's keys and values come back.
//
// One skeleton serves both architectures: inputs, the attention against the cache, the outputs. What
// differs is a table entry (`ARCHITECTURES`): which weights exist, how tokens become vectors, what a
// block computes around the attention, and the head.
//
// Cache layout: head-major [B, KV, C, hd] per layer (KV = key/value heads: all heads for the GPT, fewer
// under grouped-query attention), C a capacity that grows in blocks as the rows lengthen, unfilled slots
// masked. Measured against the time-major [S, B, H, hd] prefix (which needs a Concat and a Transpose of
// the whole cache inside every step), with the small preset, batch 32, one thread: 3.9-5.5 vs 6.0 ms CPU
// per step at 200 cached positions, 5.5-5.8 vs 9.5-11.6 ms at 400; the medium preset at 200: 15.5-16.8 vs
// 21-22 ms. At 16 positions the block padding costs ~10%.
//
// Grouped-query attention: the G = H / KV query heads that share a key/value head are stacked next to it
// ([B, KV, G, ...]), so one batched product per layer scores them all against the cache as it is stored;
// keys and values are never repeated per query head. With G = 1 (the GPT) the graphs are the plain
// multi-head ones.
//
// The weights are either baked in as initializers (the session is rebuilt after each update) or fed as
// graph inputs (no rebuild; the only choice for real checkpoints, whose weights would exceed protobuf's
// 2 GB and are shared by every session of the engine); `weights` picks. The GPT's head uses wte^T [D, V],
// transposed once on the TypeScript side (`wteT`), which saves a transpose per step.
import type { GptConfig, LlamaConfig, ModelConfig } from './config.js';
import { headDimOf, isLlama, kvHeadsOf, parameterSpecs, ropeFrequencies } from './config.js';
import { layerNormInference, rmsNormInference, rotary, rotaryAngles, swiglu } from './layers.js';
import { Graph, type T } from './onnx/graph.js';
import { DataType } from './onnx/proto.js';

/** Baked weights (initializers, keyed by parameter name plus `wteT` for the GPT) or 'inputs' (fed each run). */
export type WeightSource = ReadonlyMap<string, Float32Array> | 'inputs';

export function transposeEmbedding(c: ModelConfig, wte: Float32Array): Float32Array {
  const D = c.dModel;
  const V = c.vocabSize;
  const out = new Float32Array(D * V);
  for (let i = 0; i < V; i++) for (let j = 0; j < D; j++) out[j * V + i] = wte[i * D + j] as number;
  return out;
}

/**
 * Attention of one block, given per-head projections: q [..., H, hd], k and v [..., KV, hd] (positions
 * already applied). Returns the heads' outputs merged, [..., H * hd].
 */
type Attend = (q: T, k: T, v: T) => T;

/** What an architecture puts into the sampling graphs around the shared attention. */
interface SamplingArchitecture<C extends ModelConfig> {
  /** Weights beyond parameterSpecs that the sampling graphs take (derived on the TypeScript side). */
  extraWeights(c: C): { name: string; shape: number[] }[];
  /** Per-graph position state (the rotary angles, broadcasting over heads) from the int64 positions. */
  positions(g: Graph, c: C, positions: T): unknown;
  /** Token ids ([B, P] or [B]: `rank`) to vectors [...ids shape, D]; GPT adds the learned position embedding. */
  embed(g: Graph, c: C, tokens: T, positions: T, rank: 1 | 2): T;
  /**
   * One block. x [..., D]; `lead` is the Reshape prefix that keeps x's leading axes ([0, 0] for [B, P, D],
   * [0] for [B, D]).
   */
  block(g: Graph, c: C, l: number, x: T, lead: number[], pos: unknown, attend: Attend): T;
  /** Final norm and head: x [N, D] to logits [N, V]. */
  head(g: Graph, c: C, x: T): T;
}

const gpt: SamplingArchitecture<GptConfig> = {
  extraWeights: (c) => [{ name: 'wteT', shape: [c.dModel, c.vocabSize] }],
  positions: () => undefined,
  embed: (g, _c, tokens, positions) =>
    g.add(g.op('Gather', ['wte', tokens]), g.op('Gather', ['wpe', positions])),
  block(g, c, l, x, lead, _pos, attend) {
    const p = `h.${l}`;
    const hd = c.dModel / c.heads;
    const h = layerNormInference(g, x, `${p}.ln1.weight`, `${p}.ln1.bias`);
    const qkv = g.add(g.matmul(h, `${p}.attn.qkv.weight`), `${p}.attn.qkv.bias`);
    const heads = (a: T) => g.reshape(a, [...lead, c.heads, hd]);
    const [q, k, v] = g.opN('Split', [qkv], 3, { axis: -1, num_outputs: 3 }) as [T, T, T];
    const a = attend(heads(q), heads(k), heads(v));
    const x1 = g.add(x, g.add(g.matmul(a, `${p}.attn.proj.weight`), `${p}.attn.proj.bias`));
    const h2 = layerNormInference(g, x1, `${p}.ln2.weight`, `${p}.ln2.bias`);
    const f = g.op('Gelu', [g.add(g.matmul(h2, `${p}.mlp.fc.weight`), `${p}.mlp.fc.bias`)], {
      approximate: 'tanh',
    });
    return g.add(x1, g.add(g.matmul(f, `${p}.mlp.proj.weight`), `${p}.mlp.proj.bias`));
  },
  head: (g, _c, x) => g.matmul(layerNormInference(g, x, 'lnf.weight', 'lnf.bias'), 'wteT'),
};

const EMBED = 'model.embed_tokens.weight';

const llama: SamplingArchitecture<LlamaConfig> = {
  extraWeights: () => [],
  positions(g, c, positions) {
    const { cos, sin } = rotaryAngles(g, positions, ropeFrequencies(c));
    const heads = (a: T) => g.op('Unsqueeze', [a, g.ints([-2])]); // [..., 1, hd/2]: broadcast over heads
    return { cos: heads(cos), sin: heads(sin) };
  },
  embed(g, c, tokens, _positions, rank) {
    if (!c.tiedEmbeddings) return g.op('Gather', [EMBED, tokens]);
    // Tied: the embedding is kept as the head's [D, V]; gather columns, then put D last.
    const cols = g.op('Gather', [EMBED, tokens], { axis: 1 }); // [D, ...ids shape]
    return g.transpose(cols, rank === 2 ? [1, 2, 0] : [1, 0]);
  },
  block(g, c, l, x, lead, pos, attend) {
    const p = `model.layers.${l}`;
    const { cos, sin } = pos as { cos: T; sin: T };
    const h = rmsNormInference(g, x, `${p}.input_layernorm.weight`, c.rmsEps);
    const project = (m: 'q' | 'k' | 'v', heads: number) => {
      const y = g.matmul(h, `${p}.self_attn.${m}_proj.weight`);
      const biased = c.attentionBias ? g.add(y, `${p}.self_attn.${m}_proj.bias`) : y;
      return g.reshape(biased, [...lead, heads, c.headDim]);
    };
    const normed = (a: T, m: 'q' | 'k') =>
      c.qkNorm ? rmsNormInference(g, a, `${p}.self_attn.${m}_norm.weight`, c.rmsEps) : a;
    const q = rotary(g, normed(project('q', c.heads), 'q'), cos, sin);
    const k = rotary(g, normed(project('k', c.kvHeads), 'k'), cos, sin);
    const a = attend(q, k, project('v', c.kvHeads));
    const x1 = g.add(x, g.matmul(a, `${p}.self_attn.o_proj.weight`));
    const h2 = rmsNormInference(g, x1, `${p}.post_attention_layernorm.weight`, c.rmsEps);
    const { y } = swiglu(
      g,
      g.matmul(h2, `${p}.mlp.gate_proj.weight`),
      g.matmul(h2, `${p}.mlp.up_proj.weight`),
    );
    return g.add(x1, g.matmul(y, `${p}.mlp.down_proj.weight`));
  },
  head(g, c, x) {
    const h = rmsNormInference(g, x, 'model.norm.weight', c.rmsEps);
    return g.matmul(h, c.tiedEmbeddings ? EMBED : 'lm_head.weight');
  },
};

/** The table: each architecture's part of the sampling graphs. */
function architecture(c: ModelConfig): SamplingArchitecture<ModelConfig> {
  return (isLlama(c) ? llama : gpt) as SamplingArchitecture<ModelConfig>;
}

function declareWeights(g: Graph, c: ModelConfig, weights: WeightSource): void {
  const all = [...parameterSpecs(c), ...architecture(c).extraWeights(c)];
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

/**
 * Prefill of a left-padded prompt batch [B, P], both dimensions symbolic (one session serves every batch
 * and prompt length). Inputs: tokens, positions (int64 [B, P]), mask [B, 1, P, P] (additive: causal plus
 * the left padding as keys). Outputs: `k{l}`/`v{l}` head-major [B, KV, P, hd] and `logits` [B, V] of the
 * last position (the head runs on that position only).
 */
export function buildPrefillGraph(c: ModelConfig, weights: WeightSource): Uint8Array {
  const g = new Graph('prefill');
  const arch = architecture(c);
  const H = c.heads;
  const KV = kvHeadsOf(c);
  const G = H / KV;
  const hd = headDimOf(c);
  declareWeights(g, c, weights);
  const tokens = g.input('tokens', ['B', 'P'], DataType.INT64);
  const positions = g.input('positions', ['B', 'P'], DataType.INT64);
  const mask = g.input('mask', ['B', 1, 'P', 'P']);
  const mask5 = G > 1 ? g.op('Unsqueeze', [mask, g.ints([1])]) : mask; // [B, 1, 1, P, P]
  // [B, P, D] throughout: Reshape's 0 copies a dimension, so the heads split needs no shape arithmetic.
  let x = arch.embed(g, c, tokens, positions, 2);
  const pos = arch.positions(g, c, positions);
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    x = arch.block(g, c, l, x, [0, 0], pos, (q, k, v) => {
      const kh = g.output(g.transpose(k, [0, 2, 1, 3]), `k${l}`, ['B', KV, 'P', hd]);
      const vh = g.output(g.transpose(v, [0, 2, 1, 3]), `v${l}`, ['B', KV, 'P', hd]);
      const qs = g.mul(q, scale);
      if (G === 1) {
        const qh = g.transpose(qs, [0, 2, 1, 3]); // [B, H, P, hd]
        const att = g.op('Softmax', [g.add(g.matmul(qh, g.t4(kh)), mask)], { axis: -1 });
        return g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [0, 0, H * hd]);
      }
      // [B, KV, G, P, hd] against keys [B, KV, 1, hd, P]: the group's queries share their key head.
      const qh = g.transpose(g.reshape(qs, [0, 0, KV, G, hd]), [0, 2, 3, 1, 4]);
      const kt = g.op('Unsqueeze', [g.t4(kh), g.ints([2])]);
      const att = g.op('Softmax', [g.add(g.matmul(qh, kt), mask5)], { axis: -1 }); // [B, KV, G, P, P]
      const o = g.matmul(att, g.op('Unsqueeze', [vh, g.ints([2])])); // [B, KV, G, P, hd]
      return g.reshape(g.transpose(o, [0, 3, 1, 2, 4]), [0, 0, H * hd]);
    });
  }
  const last = g.reshape(g.op('Slice', [x, g.ints([-1]), g.ints([2 ** 31 - 1]), g.ints([1])]), [
    -1,
    c.dModel,
  ]);
  g.output(arch.head(g, c, last), 'logits', ['B', c.vocabSize]);
  return g.encode();
}

/**
 * Decode step against a head-major cache [B, KV, C, hd] (B and C symbolic; C = the cache's current
 * capacity, unfilled slots masked): the keys need no copy or transpose per step, the score product reads
 * them as a transposed operand. Inputs: token, position (int64 [B]), mask [B, C+1] (additive: padding and
 * unfilled slots, the last entry is the new token itself), `pk{l}`/`pv{l}` [B, KV, C, hd]. Outputs: logits
 * [B, V], `nk{l}`/`nv{l}` [B, KV, 1, hd].
 */
export function buildDecodeGraph(c: ModelConfig, weights: WeightSource): Uint8Array {
  const g = new Graph('decode');
  const arch = architecture(c);
  const H = c.heads;
  const KV = kvHeadsOf(c);
  const G = H / KV;
  const hd = headDimOf(c);
  declareWeights(g, c, weights);
  const token = g.input('token', ['B'], DataType.INT64);
  const position = g.input('position', ['B'], DataType.INT64);
  const mask = g.input('mask', ['B', 'C1']);
  const mask4 = g.op('Unsqueeze', [mask, g.ints([1, 2])]); // [B, 1, 1, C+1]
  let x = arch.embed(g, c, token, position, 1); // [B, D]
  const pos = arch.positions(g, c, position);
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    const pk = g.input(`pk${l}`, ['B', KV, 'C', hd]);
    const pv = g.input(`pv${l}`, ['B', KV, 'C', hd]);
    x = arch.block(g, c, l, x, [0], pos, (q, k, v) => {
      const nk = g.output(g.reshape(k, [-1, KV, 1, hd]), `nk${l}`, ['B', KV, 1, hd]);
      const nv = g.output(g.reshape(v, [-1, KV, 1, hd]), `nv${l}`, ['B', KV, 1, hd]);
      const qh = g.reshape(g.mul(q, scale), [-1, KV, G, hd]); // the group's queries against their key head
      const past = g.matmul(qh, g.t4(pk)); // [B, KV, G, C]
      const self = g.sumLast(g.mul(qh, nk)); // [B, KV, G, 1]
      const att = g.op('Softmax', [g.add(g.op('Concat', [past, self], { axis: -1 }), mask4)], { axis: -1 });
      const attPast = g.op('Slice', [att, g.ints([0]), g.ints([-1]), g.ints([-1])]);
      const attSelf = g.op('Slice', [att, g.ints([-1]), g.ints([2 ** 31 - 1]), g.ints([-1])]);
      return g.reshape(g.add(g.matmul(attPast, pv), g.mul(attSelf, nv)), [-1, H * hd]);
    });
  }
  g.output(arch.head(g, c, x), 'logits', ['B', c.vocabSize]);
  return g.encode();
}
