// The training step as two ONNX graphs. The gradient graph runs forward and the per-layer backward of
// layers.ts in reverse order over one chunk of rows and adds the chunk's gradients to running sums; the
// optimizer graph clips the summed gradients to a global norm and applies AdamW. A step is one or more
// gradient runs (the engine splits a batch into row chunks, engine.ts) and one optimizer run. Parameters
// and moments go in, updated ones come out, so the weights live on the TypeScript side. Also the
// forward-only scoring graph (log-probabilities of targets).
//
// The gradient and scoring graphs take any batch shape (B and T symbolic): one session, and so one memory
// arena, serves every chunk, whatever its rows and length.
//
// Gradient graph inputs (N = B * T):
//   <param>                                every parameter of config.ts parameterSpecs
//   acc.<param>                            the gradient sums so far (zeros for a step's first chunk)
//   tokens                                 int64 [B, T]
//   targets                                int64 [N]
//   allowed (masked variants)              uint8 [N, V], 1 where the sampler could draw the token at that
//                                          position (its grammar mask); log-softmax runs over those only
//   pg:  coef [N] = weight * advantage     loss = -sum coef * logp(target)
//   ppo: weight, advantage, old_logprobs [N], clip_eps []
//                                          loss = -sum weight * min(r A, clip(r, 1-eps, 1+eps) A), r = exp(logp - old)
// Gradient graph outputs: loss [] (of the chunk), sum.<param> = acc.<param> + the chunk's gradient.
// Optimizer graph inputs: <param>, m.<param>, v.<param>, grad.<param> (the summed gradients) and
//   lr_t []   lr * sqrt(1 - beta2^t) / (1 - beta1^t)   (bias correction folded in on the TypeScript side)
//   eps_t []  1e-8 * sqrt(1 - beta2^t)                  (so the update equals lr * mhat / (sqrt(vhat) + 1e-8))
//   wd_lr []  lr * weight decay                          (decoupled: w -= wd_lr * w for decayed parameters)
// Optimizer graph outputs: new.<param>, new.m.<param>, new.v.<param>, grad_norm [] (before clipping).
import type { GptConfig } from './config.js';
import { parameterSpecs } from './config.js';
import {
  type AttentionState,
  attention,
  attentionBackward,
  type Grads,
  gelu,
  geluBackward,
  type HeadState,
  head,
  headBackward,
  type LayerNormState,
  type LinearState,
  layerNorm,
  layerNormBackward,
  linear,
  linearBackward,
  oneHot,
  type PositionedEmbeddingState,
  positionedEmbedding,
  positionedEmbeddingBackward,
} from './layers.js';
import { Graph, type T } from './onnx/graph.js';
import { DataType } from './onnx/proto.js';

/** Additive mask value: finite, so a fully masked row softmaxes to uniform instead of NaN. */
export const NEG_INF = -1e9;

/**
 * Parameters that get weight decay: the matrices and both embeddings (as in GPT-2 / nanoGPT), not biases
 * or LayerNorm weights, whose decay toward 0 would fight their role as scales and offsets.
 */
export function isDecayed(name: string): boolean {
  return name === 'wte' || name === 'wpe' || (name.endsWith('.weight') && !/\.ln\d?\.|^lnf\./.test(name));
}

interface BlockState {
  ln1: LayerNormState;
  qkv: LinearState;
  attn: AttentionState;
  proj: LinearState;
  ln2: LayerNormState;
  fc: LinearState;
  act: { u: T };
  mlpProj: LinearState;
}

interface Forward {
  emb: PositionedEmbeddingState;
  blocks: BlockState[];
  lnf: LayerNormState;
  head: HeadState;
  /** Log-softmax over the vocabulary, [N, V]. */
  lsm: T;
}

/**
 * The additive logit bias of the `allowed` input: 0 where allowed, NEG_INF elsewhere. Fed as bytes (a
 * quarter of the float tensor) and widened in the graph.
 */
function allowedBias(g: Graph, V: number): T {
  const allowed = g.input('allowed', ['N', V], DataType.UINT8);
  const one = g.scalar(1);
  return g.mul(g.sub(g.op('Cast', [allowed], { to: DataType.FLOAT }), one), g.scalar(-NEG_INF));
}

/**
 * The forward over a [B, T] batch of token ids, B and T symbolic (one session serves every batch shape);
 * `masked` adds the `allowed` input. Positions (for wpe) and attention segments are inputs: a token sees
 * the earlier tokens of its row that are in segment 0 or in its own segment (all 0: plain causal rows).
 */
function forward(g: Graph, c: GptConfig, masked = false): Forward {
  const D = c.dModel;
  const tokens = g.input('tokens', ['B', 'T'], DataType.INT64);
  const positions = g.input('positions', ['B', 'T'], DataType.INT64);
  const segments = g.input('segments', ['B', 'T'], DataType.INT64);
  const bt = g.op('Shape', [tokens]); // int64 [2]: [B, T]
  // Additive attention mask [B, 1, T, T]: 0 where key j <= query i and segment[j] is 0 or segment[i].
  const scalar = (v: T) => g.op('Squeeze', [v]);
  const rangeT = g.op('Range', [
    scalar(g.ints([0])),
    scalar(g.op('Slice', [bt, g.ints([1]), g.ints([2])])),
    scalar(g.ints([1])),
  ]); // [T]: 0 .. T-1
  const causal = g.op('LessOrEqual', [
    g.op('Unsqueeze', [rangeT, g.ints([0])]), // key j, [1, T]
    g.op('Unsqueeze', [rangeT, g.ints([1])]), // query i, [T, 1]
  ]); // [T, T]
  const segQuery = g.op('Unsqueeze', [segments, g.ints([2])]); // [B, T, 1]
  const segKey = g.op('Unsqueeze', [segments, g.ints([1])]); // [B, 1, T]
  const visible = g.op('And', [
    causal,
    g.op('Or', [g.op('Equal', [segQuery, segKey]), g.op('Equal', [segKey, g.ints([0])])]),
  ]); // [B, T, T]
  const mask = g.op('Unsqueeze', [g.op('Where', [visible, g.scalar(0), g.scalar(NEG_INF)]), g.ints([1])]); // [B, 1, T, T]
  const emb: PositionedEmbeddingState = {
    tokens,
    positions,
    vocab: c.vocabSize,
    width: D,
    context: c.contextLength,
  };
  let x = positionedEmbedding(g, emb);
  const blocks: BlockState[] = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `h.${l}`;
    const ln1 = layerNorm(g, x, `${p}.ln1.weight`, `${p}.ln1.bias`, D);
    const qkv = linear(g, ln1.y, `${p}.attn.qkv.weight`, `${p}.attn.qkv.bias`);
    const attn = attention(g, qkv.y, mask, { batch: 0, time: 0, heads: c.heads, width: D, bt });
    const proj = linear(g, attn.y, `${p}.attn.proj.weight`, `${p}.attn.proj.bias`);
    x = g.add(x, proj.y);
    const ln2 = layerNorm(g, x, `${p}.ln2.weight`, `${p}.ln2.bias`, D);
    const fc = linear(g, ln2.y, `${p}.mlp.fc.weight`, `${p}.mlp.fc.bias`);
    const act = gelu(g, fc.y);
    const mlpProj = linear(g, act.y, `${p}.mlp.proj.weight`, `${p}.mlp.proj.bias`);
    x = g.add(x, mlpProj.y);
    blocks.push({
      ln1: ln1.state,
      qkv: qkv.state,
      attn: attn.state,
      proj: proj.state,
      ln2: ln2.state,
      fc: fc.state,
      act: act.state,
      mlpProj: mlpProj.state,
    });
  }
  const lnf = layerNorm(g, x, 'lnf.weight', 'lnf.bias', D);
  const h = head(g, lnf.y, masked ? allowedBias(g, c.vocabSize) : undefined);
  return { emb, blocks, lnf: lnf.state, head: h.state, lsm: h.lsm };
}

/** Gradients of every parameter, given d loss / d logp(target) = -coef per row. */
function backward(g: Graph, f: Forward, coef: T, targetsOneHot: T): Grads {
  const grads: Grads = new Map();
  const { dh, dwte: dwteHead } = headBackward(g, coef, targetsOneHot, f.head);
  let dx = layerNormBackward(g, dh, f.lnf, grads);
  for (let l = f.blocks.length - 1; l >= 0; l--) {
    const s = f.blocks[l] as BlockState;
    // x = x + mlpProj(gelu(fc(ln2(x)))): the residual passes dx through and adds the branch's gradient.
    const dAct = linearBackward(g, dx, s.mlpProj, grads);
    const dFc = geluBackward(g, dAct, s.act);
    dx = g.add(dx, layerNormBackward(g, linearBackward(g, dFc, s.fc, grads), s.ln2, grads));
    // x = x + proj(attention(qkv(ln1(x)))).
    const dAttn = linearBackward(g, dx, s.proj, grads);
    const dQkv = attentionBackward(g, dAttn, s.attn);
    dx = g.add(dx, layerNormBackward(g, linearBackward(g, dQkv, s.qkv, grads), s.ln1, grads));
  }
  // wte is tied: the head's gradient plus the embedding rows'.
  grads.set('wte', g.add(dwteHead, positionedEmbeddingBackward(g, dx, f.emb, grads)));
  return grads;
}

function declareParams(g: Graph, c: GptConfig): { name: string; shape: number[] }[] {
  const specs = parameterSpecs(c);
  for (const s of specs) g.input(s.name, s.shape);
  return specs;
}

/** log p(target) per row, [N]. */
function targetLogprobs(g: Graph, lsm: T, targetsOneHot: T): T {
  return g.op('ReduceSum', [g.mul(lsm, targetsOneHot), g.ints([-1])], { keepdims: 0 });
}

/** Forward-only scoring graph: `logprobs` [N] of `targets` given `tokens` [B, T] (and `allowed` when masked). */
export function buildScoreGraph(c: GptConfig, masked = false): Uint8Array {
  const g = new Graph('score');
  declareParams(g, c);
  const f = forward(g, c, masked);
  const targets = g.input('targets', ['N'], DataType.INT64);
  g.output(targetLogprobs(g, f.lsm, oneHot(g, targets, c.vocabSize)), 'logprobs', ['N']);
  return g.encode();
}

export type LossVariant = 'pg' | 'ppo';

export interface GradGraphOptions {
  variant: LossVariant;
  /** Take the `allowed` input: the loss is over the masked distribution the sampler drew from. */
  masked?: boolean;
}

/** The loss and its slope: d loss / d logp(target) = -coef per row. */
function objective(g: Graph, variant: LossVariant, lp: T): { loss: T; coef: T } {
  if (variant === 'pg') {
    const coef = g.input('coef', ['N']);
    return { loss: g.op('Neg', [g.sumAll(g.mul(coef, lp))]), coef };
  }
  const weight = g.input('weight', ['N']);
  const adv = g.input('advantage', ['N']);
  const old = g.input('old_logprobs', ['N']);
  const eps = g.input('clip_eps', []);
  const one = g.scalar(1);
  const ratio = g.op('Exp', [g.sub(lp, old)]);
  const clipped = g.op('Max', [g.op('Min', [ratio, g.add(one, eps)]), g.sub(one, eps)]);
  const unclippedObj = g.mul(ratio, adv);
  const clippedObj = g.mul(clipped, adv);
  const loss = g.op('Neg', [g.sumAll(g.mul(weight, g.op('Min', [unclippedObj, clippedObj])))]);
  // Where the unclipped term is the minimum, d(r A)/d logp = r A; where the clipped one is, the slope is 0.
  const active = g.op('Cast', [g.op('LessOrEqual', [unclippedObj, clippedObj])], { to: DataType.FLOAT });
  return { loss, coef: g.mul(g.mul(weight, active), unclippedObj) };
}

/**
 * Forward and backward over one chunk of rows, B and T symbolic, adding the chunk's gradients to running
 * sums: inputs `acc.<param>`, outputs `sum.<param>` = acc + gradient, and `loss` (of this chunk). The loss
 * is a sum over positions, so the gradient of a batch is the sum over any split of its rows.
 */
export function buildGradGraph(c: GptConfig, opts: GradGraphOptions): Uint8Array {
  const g = new Graph('grad');
  const specs = declareParams(g, c);
  const f = forward(g, c, opts.masked);
  const targets = g.input('targets', ['N'], DataType.INT64);
  const yoh = oneHot(g, targets, c.vocabSize);
  const { loss, coef } = objective(g, opts.variant, targetLogprobs(g, f.lsm, yoh));
  g.output(loss, 'loss', []);
  const grads = backward(g, f, coef, yoh);
  for (const s of specs) {
    const raw = grads.get(s.name);
    if (!raw) throw new Error(`no gradient for ${s.name}`);
    g.output(g.add(g.input(`acc.${s.name}`, s.shape), raw), `sum.${s.name}`, s.shape);
  }
  return g.encode();
}

export interface OptimizerGraphOptions {
  beta1: number;
  beta2: number;
  gradClip: number;
}

/**
 * Global-norm clipping and AdamW over a batch's summed gradients `grad.<param>`. Inputs: every parameter,
 * its moments, its gradient, lr_t, eps_t, wd_lr (see the top of this file); outputs new.<param>,
 * new.m.<param>, new.v.<param> and grad_norm (before clipping).
 */
export function buildOptimizerGraph(c: GptConfig, opts: OptimizerGraphOptions): Uint8Array {
  const g = new Graph('adamw');
  const specs = declareParams(g, c);
  const grads = new Map(specs.map((s) => [s.name, g.input(`grad.${s.name}`, s.shape)]));
  // Global-norm clipping: every gradient is scaled by min(1, clip / norm).
  const sq = specs.map((s) => g.op('ReduceSumSquare', [grads.get(s.name) as T], { keepdims: 0 }));
  const norm = g.op('Sqrt', [sq.reduce((a, b) => g.add(a, b))]);
  g.output(norm, 'grad_norm', []);
  const clip = g.scalar(opts.gradClip);
  const factor = g.div(clip, g.op('Max', [norm, clip]));

  // AdamW.
  const lrT = g.input('lr_t', []);
  const epsT = g.input('eps_t', []);
  const wdLr = g.input('wd_lr', []);
  const b1 = g.scalar(opts.beta1);
  const b2 = g.scalar(opts.beta2);
  // The clip factor is folded into the moment coefficients (scalars), saving a pass over every gradient:
  // m' = b1 m + ((1 - b1) f) g,  v' = b2 v + ((1 - b2) f^2) g^2.
  const mCoef = g.mul(g.scalar(1 - opts.beta1), factor);
  const vCoef = g.mul(g.scalar(1 - opts.beta2), g.mul(factor, factor));
  const keep = g.sub(g.scalar(1), wdLr); // decoupled decay: w' = w (1 - lr wd) - lr_t m' / (sqrt(v') + eps_t)
  for (const s of specs) {
    const raw = grads.get(s.name) as T;
    const m = g.input(`m.${s.name}`, s.shape);
    const v = g.input(`v.${s.name}`, s.shape);
    const m2 = g.add(g.mul(b1, m), g.mul(mCoef, raw));
    const v2 = g.add(g.mul(b2, v), g.mul(vCoef, g.mul(raw, raw)));
    const update = g.mul(lrT, g.div(m2, g.add(g.op('Sqrt', [v2]), epsT)));
    g.output(g.sub(isDecayed(s.name) ? g.mul(s.name, keep) : s.name, update), `new.${s.name}`, s.shape);
    g.output(m2, `new.m.${s.name}`, s.shape);
    g.output(v2, `new.v.${s.name}`, s.shape);
  }
  return g.encode();
}
