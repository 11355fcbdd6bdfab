// The GPT's layers in ONNX graph terms, llm.c style: each layer's forward next to its hand-written
// backward. A forward returns its output and the state its backward needs; a backward takes the gradient
// of the output, records parameter gradients in `grads` (keyed by parameter name) and returns the
// gradient of the input. Shapes: N rows (batch * time), D width, H heads, hd = D / H, V vocabulary.
//
// Performance notes (measured on the target CPU with ONNX Runtime's `all` optimisation level):
// - Linear layers are plain MatMul on [N, in] x [in, out]; the transposes in the backward (x^T dy, dy W^T)
//   are folded by the optimiser into FusedMatMul's transA/transB, so they cost nothing.
// - Attention keeps [B, H, T, hd]; only the head split/merge are real transposes.
import type { Graph, T } from './onnx/graph.js';
import { DataType } from './onnx/proto.js';

export type Grads = Map<string, T>;

function setGrad(grads: Grads, name: string, g: T): void {
  if (grads.has(name)) throw new Error(`gradient of ${name} recorded twice`);
  grads.set(name, g);
}

// ---------------------------------------------------------------------------------------------------
// Linear: y = x @ W + b, x [N, in], W [in, out], b [out].

export interface LinearState {
  x: T;
  weight: string;
  bias: string;
}

export function linear(g: Graph, x: T, weight: string, bias: string): { y: T; state: LinearState } {
  return { y: g.add(g.matmul(x, weight), bias), state: { x, weight, bias } };
}

/** dW = x^T dy, db = sum_rows dy, dx = dy W^T. */
export function linearBackward(g: Graph, dy: T, s: LinearState, grads: Grads): T {
  setGrad(grads, s.weight, g.matmul(g.t2(s.x), dy));
  setGrad(grads, s.bias, g.sum0(dy));
  return g.matmul(dy, g.t2(s.weight));
}

// ---------------------------------------------------------------------------------------------------
// LayerNorm over the last axis (epsilon 1e-5), with weight and bias.

export interface LayerNormState {
  xhat: T;
  istd: T;
  weight: string;
  bias: string;
  width: number;
}

export function layerNorm(
  g: Graph,
  x: T,
  weight: string,
  bias: string,
  width: number,
): { y: T; state: LayerNormState } {
  // ONNX LayerNormalization also returns the mean and 1/std it computed, which the backward reuses.
  const [y, mean, istd] = g.opN('LayerNormalization', [x, weight, bias], 3, {
    axis: -1,
    epsilon: { float: 1e-5 },
    stash_type: 1,
  }) as [T, T, T];
  return { y, state: { xhat: g.mul(g.sub(x, mean), istd), istd, weight, bias, width } };
}

/** LayerNorm without the backward's state (sampling graphs): one node. */
export function layerNormInference(g: Graph, x: T, weight: string, bias: string): T {
  return g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: { float: 1e-5 }, stash_type: 1 });
}

/** dx = istd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * weight. */
export function layerNormBackward(g: Graph, dy: T, s: LayerNormState, grads: Grads): T {
  setGrad(grads, s.weight, g.sum0(g.mul(dy, s.xhat)));
  setGrad(grads, s.bias, g.sum0(dy));
  const dxh = g.mul(dy, s.weight);
  const invD = g.scalar(1 / s.width);
  const meanDxh = g.mul(g.sumLast(dxh), invD);
  const meanDxhXhat = g.mul(g.sumLast(g.mul(dxh, s.xhat)), invD);
  return g.mul(s.istd, g.sub(g.sub(dxh, meanDxh), g.mul(s.xhat, meanDxhXhat)));
}

// ---------------------------------------------------------------------------------------------------
// GELU, tanh approximation: gelu(u) = 0.5 u (1 + tanh(c (u + k u^3))).

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

export function gelu(g: Graph, u: T): { y: T; state: { u: T } } {
  return { y: g.op('Gelu', [u], { approximate: 'tanh' }), state: { u } };
}

/**
 * The tanh form is u * sigmoid(2z), z = c (u + k u^3), so with s = sigmoid(2z):
 * du = dy * (s + u s (1 - s) 2c (1 + 3k u^2)). Written this way it takes 13 elementwise passes over the
 * [N, 4D] activations instead of the 17 of the tanh form's derivative.
 */
export function geluBackward(g: Graph, dy: T, s: { u: T }): T {
  const u = s.u;
  const u2 = g.mul(u, u);
  const sig = g.op('Sigmoid', [
    g.mul(u, g.add(g.scalar(2 * GELU_C), g.mul(g.scalar(2 * GELU_C * GELU_K), u2))),
  ]);
  const slope = g.mul(u, g.add(g.scalar(2 * GELU_C), g.mul(g.scalar(6 * GELU_C * GELU_K), u2))); // u 2c (1 + 3k u^2)
  const t = g.mul(slope, sig);
  return g.mul(dy, g.add(sig, g.mul(t, g.sub(g.scalar(1), sig))));
}

// ---------------------------------------------------------------------------------------------------
// Causal multi-head self-attention core (between the qkv projection and the output projection):
//   qkv [N, 3D] -> y [N, D], y = softmax(q k^T / sqrt(hd) + mask) v per head.

export interface AttentionShape {
  batch: number;
  time: number;
  heads: number;
  width: number;
  /**
   * int64 [2] tensor holding [batch, time] when they are symbolic (a graph that serves every batch shape);
   * `batch` and `time` are then ignored.
   */
  bt?: T;
}

export interface AttentionState {
  q: T;
  k: T;
  v: T;
  /** The additive mask: the backward recomputes the probabilities (attentionProbs). */
  mask: T;
  /** The heads' outputs att v, [B, H, T, hd], before the merge. */
  o: T;
  shape: AttentionShape;
}

/** Reshape to [B, T, ...rest]: constant dimensions, or the runtime [B, T] of a symbolic graph. */
export function reshapeBT(g: Graph, a: T, s: { batch: number; time: number; bt?: T }, rest: number[]): T {
  if (!s.bt) return g.reshape(a, [s.batch, s.time, ...rest]);
  return g.op('Reshape', [a, g.op('Concat', [s.bt, g.ints(rest)], { axis: 0 })]);
}

function splitHeads(g: Graph, a: T, s: AttentionShape): T {
  const hd = s.width / s.heads;
  return g.transpose(reshapeBT(g, a, s, [s.heads, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
}

function mergeHeads(g: Graph, a: T, s: AttentionShape): T {
  return g.reshape(g.transpose(a, [0, 2, 1, 3]), [-1, s.width]); // [N, D]
}

/** `mask` is additive, broadcastable to [B, H, T, T] (0 where a query may attend, a large negative elsewhere). */
export function attention(g: Graph, qkv: T, mask: T, shape: AttentionShape): { y: T; state: AttentionState } {
  const scale = g.scalar(1 / Math.sqrt(shape.width / shape.heads));
  const [q0, k0, v0] = g.opN('Split', [qkv], 3, { axis: -1, num_outputs: 3 }) as [T, T, T];
  // The 1/sqrt(hd) scale is applied to q ([N, D]) rather than to the scores ([B, H, T, T]).
  const q = splitHeads(g, g.mul(q0, scale), shape);
  const k = splitHeads(g, k0, shape);
  const v = splitHeads(g, v0, shape);
  const o = g.matmul(attentionProbs(g, q, g.t4(k), mask), v);
  return { y: mergeHeads(g, o, shape), state: { q, k, v, mask, o, shape } };
}

/** softmax(q kT + mask) over the last axis: q already scaled, kT the keys transposed. */
function attentionProbs(g: Graph, q: T, kT: T, mask: T): T {
  return g.op('Softmax', [g.add(g.matmul(q, kT), mask)], { axis: -1 });
}

/**
 * `x` as a value that exists only once `after` does (a Reshape to x's own shape, read from `after`, which
 * has it): what is computed from it runs in the backward pass, where `after` is made. The backward passes
 * recompute the attention probabilities from it instead of keeping each layer's [B, H, T, T] from the
 * forward pass until its backward: those were the largest tensors a long row kept (Qwen2.5-Coder-0.5B,
 * one 1,807-token row: 14 heads x 24 layers of 13 MB per head), and recomputing them costs one q kT
 * product and a softmax per layer. Without the dependency ONNX Runtime may run the recomputation in the
 * forward pass and keep it just as long; without the Reshape it would merge it with the forward's.
 */
function inBackward(g: Graph, x: T, after: T): T {
  return g.op('Reshape', [x, g.op('Shape', [after])]);
}

/** Backward of the attention core: d qkv [N, 3D] from dy [N, D]. */
export function attentionBackward(g: Graph, dy: T, s: AttentionState): T {
  const scale = g.scalar(1 / Math.sqrt(s.shape.width / s.shape.heads));
  const dO = splitHeads(g, dy, s.shape);
  const att = attentionProbs(g, inBackward(g, s.q, dO), g.t4(s.k), s.mask);
  const datt = g.matmul(dO, g.t4(s.v));
  const dv = g.matmul(g.t4(att), dO);
  // Softmax backward: ds = att * (datt - sum_j datt * att). The row sum equals dO . o per query (sum_j
  // (dO . v_j) att_j = dO . sum_j att_j v_j, as FlashAttention computes it): a pass over [B, H, T, hd]
  // instead of a product and a sum over the [B, H, T, T] scores. Masked entries have att = 0, so ds = 0 there.
  const ds = g.mul(att, g.sub(datt, g.sumLast(g.mul(dO, s.o))));
  const dq = g.mul(g.matmul(ds, s.k), scale); // q was scaled before the product
  const dk = g.matmul(g.t4(ds), s.q);
  return g.op(
    'Concat',
    [mergeHeads(g, dq, s.shape), mergeHeads(g, dk, s.shape), mergeHeads(g, dv, s.shape)],
    {
      axis: -1,
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Embeddings: x[b, t] = wte[tokens[b, t]] + wpe[t].

export interface EmbeddingState {
  tokens: T;
  batch: number;
  time: number;
  vocab: number;
  width: number;
  context: number;
}

/** tokens: int64 [N] -> x [N, D]. */
export function embedding(
  g: Graph,
  tokens: T,
  s: Omit<EmbeddingState, 'tokens'>,
): { y: T; state: EmbeddingState } {
  const pos = g.op('Slice', ['wpe', g.ints([0]), g.ints([s.time]), g.ints([0])]); // [T, D]
  const tok = g.op('Gather', ['wte', g.reshape(tokens, [s.batch, s.time])]); // [B, T, D]
  return { y: g.reshape(g.add(tok, pos), [s.batch * s.time, s.width]), state: { ...s, tokens } };
}

/**
 * dwte (input side) = onehot(tokens)^T dx, a [V, N] x [N, D] product (deterministic, unlike a scatter-add
 * order could be, and cheap for a byte-level vocabulary); dwpe = sum over the batch, zero past T.
 * Returns the input-side wte gradient; the caller adds the tied head's part.
 */
export function embeddingBackward(g: Graph, dx: T, s: EmbeddingState, grads: Grads): T {
  const dpos = g.sum0(g.reshape(dx, [s.batch, s.time, s.width])); // [T, D]
  setGrad(
    grads,
    'wpe',
    s.context > s.time ? g.op('Pad', [dpos, g.ints([0, 0, s.context - s.time, 0])]) : dpos,
  );
  return g.matmul(g.t2(oneHot(g, s.tokens, s.vocab)), dx);
}

export interface PositionedEmbeddingState {
  /** int64 [B, T] token ids and position ids, any B and T. */
  tokens: T;
  positions: T;
  vocab: number;
  width: number;
  context: number;
}

/** x[b, t] = wte[tokens[b, t]] + wpe[positions[b, t]], as [N, D]. */
export function positionedEmbedding(g: Graph, s: PositionedEmbeddingState): T {
  const x = g.add(g.op('Gather', ['wte', s.tokens]), g.op('Gather', ['wpe', s.positions])); // [B, T, D]
  return g.reshape(x, [-1, s.width]);
}

/**
 * dwpe = onehot(positions)^T dx ([context, N] x [N, D]; positions may repeat within a row) and the input
 * side of dwte = onehot(tokens)^T dx, returned for the caller to add the tied head's part.
 */
export function positionedEmbeddingBackward(g: Graph, dx: T, s: PositionedEmbeddingState, grads: Grads): T {
  const flat = (ids: T, depth: number) => g.t2(oneHot(g, g.reshape(ids, [-1]), depth));
  setGrad(grads, 'wpe', g.matmul(flat(s.positions, s.context), dx));
  return g.matmul(flat(s.tokens, s.vocab), dx);
}

export function oneHot(g: Graph, ids: T, vocab: number): T {
  return g.op('OneHot', [ids, g.ints([vocab]), g.floatVector([0, 1])], { axis: -1 });
}

// ---------------------------------------------------------------------------------------------------
// Tied head and log-softmax: lsm = log_softmax(h @ wte^T + bias), h [N, D] -> [N, V]. The optional additive
// bias is the sampler's vocabulary mask (0 allowed, NEG_INF masked): the update then scores tokens under the
// distribution they were drawn from, and masked entries get probability 0 and no gradient.

export interface HeadState {
  h: T;
  lsm: T;
}

export function head(g: Graph, h: T, bias?: T): { lsm: T; state: HeadState } {
  const logits = g.matmul(h, g.t2('wte'));
  const lsm = g.op('LogSoftmax', [bias ? g.add(logits, bias) : logits], { axis: -1 });
  return { lsm, state: { h, lsm } };
}

/**
 * Given d loss / d logp(target) = -coef per row (so loss = -sum coef * logp for fixed coef), the logits'
 * gradient is coef * (softmax - onehot(target)); under a mask the softmax is the masked one, 0 where masked. Returns { dh, dwte } (the head's part of wte's gradient).
 */
export function headBackward(g: Graph, coef: T, targetsOneHot: T, s: HeadState): { dh: T; dwte: T } {
  const dlogits = g.mul(g.reshape(coef, [-1, 1]), g.sub(g.op('Exp', [s.lsm]), targetsOneHot));
  return { dh: g.matmul(dlogits, 'wte'), dwte: g.matmul(g.t2(dlogits), s.h) };
}

// ---------------------------------------------------------------------------------------------------
// The Llama family's layers (config.ts): RMSNorm, rotary position embeddings and the SwiGLU MLP. The
// forwards keep what a backward needs (the training step with LoRA builds on them).

export interface RmsNormState {
  /** x / rms(x), before the weight. */
  xhat: T;
  /** 1 / rms(x), [N, 1]. */
  irms: T;
  weight: string;
  width: number;
}

/** y = x / sqrt(mean(x^2) + eps) * weight, over the last axis. */
export function rmsNorm(
  g: Graph,
  x: T,
  weight: string,
  eps: number,
  width: number,
): { y: T; state: RmsNormState } {
  const ms = g.op('ReduceMean', [g.mul(x, x), g.ints([-1])], { keepdims: 1 });
  const irms = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.scalar(eps))])]);
  const xhat = g.mul(x, irms);
  return { y: g.mul(xhat, weight), state: { xhat, irms, weight, width } };
}

/** RMSNorm without the backward's state (sampling graphs): ONNX Runtime's one-node kernel. */
export function rmsNormInference(g: Graph, x: T, weight: string, eps: number): T {
  return g.op('SimplifiedLayerNormalization', [x, weight], {
    axis: -1,
    epsilon: { float: eps },
    stash_type: 1,
  });
}

/**
 * Rotary position embedding in the "rotate half" layout Hugging Face uses (the loaders bring every
 * checkpoint to it): the head's first and second halves x1, x2 pair up, and with angles a = position *
 * inverse frequency, y = [x1 cos a - x2 sin a, x2 cos a + x1 sin a]. `cos` and `sin` broadcast against
 * x's leading axes and have hd/2 entries on the last.
 */
export function rotary(g: Graph, x: T, cos: T, sin: T): T {
  const [x1, x2] = g.opN('Split', [x], 2, { axis: -1, num_outputs: 2 }) as [T, T];
  return g.op('Concat', [g.sub(g.mul(x1, cos), g.mul(x2, sin)), g.add(g.mul(x2, cos), g.mul(x1, sin))], {
    axis: -1,
  });
}

/**
 * cos and sin of position * inverse frequency, [...positions shape, hd/2]: `positions` int64, `invFreq`
 * the per-pair frequencies (with any context scaling already applied, ropeFrequencies).
 */
export function rotaryAngles(g: Graph, positions: T, invFreq: readonly number[]): { cos: T; sin: T } {
  const p = g.op('Unsqueeze', [g.op('Cast', [positions], { to: DataType.FLOAT }), g.ints([-1])]);
  const a = g.mul(p, g.floatVector(invFreq));
  return { cos: g.op('Cos', [a]), sin: g.op('Sin', [a]) };
}

/** SwiGLU: silu(gate) * up, silu(u) = u sigmoid(u). */
export function swiglu(g: Graph, gate: T, up: T): { y: T; state: { gate: T; up: T; sig: T } } {
  const sig = g.op('Sigmoid', [gate]);
  return { y: g.mul(g.mul(gate, sig), up), state: { gate, up, sig } };
}

/**
 * d x of RMSNorm: with dxhat = dy * weight, dx = irms * (dxhat - xhat * mean(dxhat * xhat)) (LayerNorm's
 * backward without the mean terms). The weight's gradient is recorded only when it is trained.
 */
export function rmsNormBackward(g: Graph, dy: T, s: RmsNormState, grads?: Grads): T {
  if (grads) {
    // Sum over every axis but the last (x may be [N, D] or [B, T, H, hd] for a per-head norm).
    const flat = g.reshape(g.mul(dy, s.xhat), [-1, s.width]);
    setGrad(grads, s.weight, g.sum0(flat));
  }
  const dxh = g.mul(dy, s.weight);
  const mean = g.mul(g.sumLast(g.mul(dxh, s.xhat)), g.scalar(1 / s.width));
  return g.mul(s.irms, g.sub(dxh, g.mul(s.xhat, mean)));
}

/** The rotation's transpose is the rotation by minus the angle: dx = [d1 cos + d2 sin, d2 cos - d1 sin]. */
export function rotaryBackward(g: Graph, dy: T, cos: T, sin: T): T {
  const [d1, d2] = g.opN('Split', [dy], 2, { axis: -1, num_outputs: 2 }) as [T, T];
  return g.op('Concat', [g.add(g.mul(d1, cos), g.mul(d2, sin)), g.sub(g.mul(d2, cos), g.mul(d1, sin))], {
    axis: -1,
  });
}

/** y = g s(g) u: d up = dy g s(g); d gate = dy u s(g) (1 + g (1 - s(g))). */
export function swigluBackward(g: Graph, dy: T, s: { gate: T; up: T; sig: T }): { dGate: T; dUp: T } {
  const silu = g.mul(s.gate, s.sig);
  const slope = g.mul(s.sig, g.add(g.scalar(1), g.mul(s.gate, g.sub(g.scalar(1), s.sig))));
  return { dUp: g.mul(dy, silu), dGate: g.mul(g.mul(dy, s.up), slope) };
}

// ---------------------------------------------------------------------------------------------------
// A frozen linear layer with an optional low-rank adapter (LoRA): y = x W (+ b) + scale (x A) B, W [in, out]
// frozen, A [in, r] and B [r, out] trained. Only the adapter gets gradients.

export interface LoraAdapter {
  a: string;
  b: string;
  /** alpha / rank. */
  scale: number;
}

export interface LoraLinearState {
  x: T;
  weight: string;
  adapter: LoraAdapter | undefined;
  /** scale * (x A), [N, r]. */
  xa: T | undefined;
}

export function loraLinear(
  g: Graph,
  x: T,
  weight: string,
  bias: string | undefined,
  adapter: LoraAdapter | undefined,
): { y: T; state: LoraLinearState } {
  const base = g.matmul(x, weight);
  const y = bias ? g.add(base, bias) : base;
  if (!adapter) return { y, state: { x, weight, adapter, xa: undefined } };
  // The scale multiplies the [N, r] product, not the [N, out] one.
  const xa = g.mul(g.matmul(x, adapter.a), g.scalar(adapter.scale));
  return { y: g.add(y, g.matmul(xa, adapter.b)), state: { x, weight, adapter, xa } };
}

/**
 * dB = (scale x A)^T dy, dA = scale x^T (dy B^T), dx = dy W^T + scale (dy B^T) A^T. `needDx` false skips
 * dx (the first layer's input is the frozen embedding: nothing upstream trains).
 */
export function loraLinearBackward(
  g: Graph,
  dy: T,
  s: LoraLinearState,
  grads: Grads,
  needDx = true,
): T | undefined {
  let dx = needDx ? g.matmul(dy, g.t2(s.weight)) : undefined;
  if (s.adapter && s.xa) {
    const { a, b, scale } = s.adapter;
    setGrad(grads, b, g.matmul(g.t2(s.xa), dy));
    const dxa = g.mul(g.matmul(dy, g.t2(b)), g.scalar(scale)); // [N, r]
    setGrad(grads, a, g.matmul(g.t2(s.x), dxa));
    if (dx) dx = g.add(dx, g.matmul(dxa, g.t2(a)));
  }
  return dx;
}

// ---------------------------------------------------------------------------------------------------
// Grouped-query attention over [B, T] rows: H query heads in KV groups of G = H / KV, each group sharing
// one key/value head. Queries are laid out [B, KV, G, T, hd] against keys and values [B, KV, 1, T, hd], so
// the products broadcast over the group and keys are never repeated.

export interface GqaShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

export interface GqaState {
  /** Scaled queries [B, KV, G, T, hd]. */
  q: T;
  /** Keys and values [B, KV, 1, T, hd]. */
  k: T;
  v: T;
  /** The additive mask: the backward recomputes the probabilities (attentionProbs). */
  mask: T;
  /** att v, [B, KV, G, T, hd]. */
  o: T;
  shape: GqaShape;
}

/**
 * q [B, T, H, hd], k and v [B, T, KV, hd] (positions applied), `mask` additive, broadcastable to
 * [B, 1, 1, T, T]. Returns the heads' outputs merged, [B * T, H * hd].
 */
export function gqaAttention(
  g: Graph,
  q: T,
  k: T,
  v: T,
  mask: T,
  shape: GqaShape,
): { y: T; state: GqaState } {
  const { heads: H, kvHeads: KV, headDim: hd } = shape;
  const G = H / KV;
  const q5 = g.transpose(
    g.reshape(g.mul(q, g.scalar(1 / Math.sqrt(hd))), [0, 0, KV, G, hd]),
    [0, 2, 3, 1, 4],
  );
  const kv5 = (a: T) => g.op('Unsqueeze', [g.transpose(a, [0, 2, 1, 3]), g.ints([2])]);
  const k5 = kv5(k);
  const v5 = kv5(v);
  const o = g.matmul(attentionProbs(g, q5, g.op('Transpose', [k5], { perm: [0, 1, 2, 4, 3] }), mask), v5);
  const y = g.reshape(g.transpose(o, [0, 3, 1, 2, 4]), [-1, H * hd]);
  return { y, state: { q: q5, k: k5, v: v5, mask, o, shape } };
}

/** d q [B, T, H, hd], d k and d v [B, T, KV, hd] from dy [B * T, H * hd]; `bt` is int64 [2] = [B, T]. */
export function gqaAttentionBackward(g: Graph, dy: T, s: GqaState, bt: T): { dq: T; dk: T; dv: T } {
  const { heads: H, kvHeads: KV, headDim: hd } = s.shape;
  const G = H / KV;
  const scale = g.scalar(1 / Math.sqrt(hd));
  const dO = g.transpose(reshapeBT(g, dy, { batch: 0, time: 0, bt }, [KV, G, hd]), [0, 2, 3, 1, 4]);
  const t5 = (a: T) => g.op('Transpose', [a], { perm: [0, 1, 2, 4, 3] });
  const att = attentionProbs(g, inBackward(g, s.q, dO), t5(s.k), s.mask);
  const datt = g.matmul(dO, t5(s.v));
  // Softmax backward with the row sum as dO . o (see attentionBackward).
  const ds = g.mul(att, g.sub(datt, g.sumLast(g.mul(dO, s.o))));
  const groupSum = (a: T) => g.op('ReduceSum', [a, g.ints([2])], { keepdims: 0 }); // [B, KV, T, hd]
  const dv = groupSum(g.matmul(t5(att), dO));
  const dk = groupSum(g.matmul(t5(ds), s.q));
  const dq = g.mul(g.matmul(ds, s.k), scale); // [B, KV, G, T, hd]
  return {
    dq: reshapeBT(g, g.transpose(dq, [0, 3, 1, 2, 4]), { batch: 0, time: 0, bt }, [H, hd]),
    dk: g.transpose(dk, [0, 2, 1, 3]),
    dv: g.transpose(dv, [0, 2, 1, 3]),
  };
}

// ---------------------------------------------------------------------------------------------------
// A frozen head over picked positions: only the M positions the loss reads get logits. h [N, D] ->
// log-softmax [M, V] of rows `pick`. A real vocabulary is 49k-152k wide, and most positions of a
// self-play row are prompt, whose logits the loss never reads.

export interface PickedHeadState {
  lsm: T;
  pick: T;
  /** int64 [2]: the shape of h, for scattering the gradient back. */
  hShape: T;
  weight: string;
}

/** `weight` [D, V]; `bias` the additive vocabulary mask of the picked rows, [M, V]. */
export function pickedHead(
  g: Graph,
  h: T,
  pick: T,
  weight: string,
  bias?: T,
): { lsm: T; state: PickedHeadState } {
  const logits = g.matmul(g.op('Gather', [h, pick]), weight);
  const lsm = g.op('LogSoftmax', [bias ? g.add(logits, bias) : logits], { axis: -1 });
  return { lsm, state: { lsm, pick, hShape: g.op('Shape', [h]), weight } };
}

/** log p(target) per picked row, [M]: the log-softmax read at each target. */
export function pickedLogprobs(g: Graph, lsm: T, targets: T): T {
  const at = g.op('GatherElements', [lsm, g.op('Unsqueeze', [targets, g.ints([1])])], { axis: 1 });
  return g.op('Squeeze', [at, g.ints([1])]);
}

/**
 * Given d loss / d logp(target) = -coef per picked row: d logits = coef (softmax - onehot(target)), built
 * with one scatter of -coef into the targets' column (one update per row: deterministic), then
 * dh = scattered back to the picked rows of a zero [N, D].
 */
export function pickedHeadBackward(g: Graph, coef: T, targets: T, s: PickedHeadState): T {
  const c = g.op('Unsqueeze', [coef, g.ints([1])]); // [M, 1]
  const dlogits = g.op(
    'ScatterElements',
    [g.mul(c, g.op('Exp', [s.lsm])), g.op('Unsqueeze', [targets, g.ints([1])]), g.op('Neg', [c])],
    { axis: 1, reduction: 'add' },
  );
  const dPicked = g.matmul(dlogits, g.t2(s.weight)); // [M, D]
  const zeros = g.op('ConstantOfShape', [s.hShape]);
  return g.op('ScatterND', [zeros, g.op('Unsqueeze', [s.pick, g.ints([1])]), dPicked]);
}
