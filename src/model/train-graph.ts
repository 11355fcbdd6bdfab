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
import type { GptConfig, LlamaConfig, LoraSettings, ParamSpec } from './config.js';
import {
  LORA_MODULE,
  LORA_TARGETS,
  type LoraTarget,
  loraParameterSpecs,
  parameterSpecs,
  ropeFrequencies,
} from './config.js';
import {
  type AttentionState,
  attention,
  attentionBackward,
  type GqaState,
  type Grads,
  gelu,
  geluBackward,
  gqaAttention,
  gqaAttentionBackward,
  type HeadState,
  head,
  headBackward,
  type LayerNormState,
  type LinearState,
  type LoraLinearState,
  layerNorm,
  layerNormBackward,
  linear,
  linearBackward,
  loraLinear,
  loraLinearBackward,
  oneHot,
  type PickedHeadState,
  type PositionedEmbeddingState,
  pickedHead,
  pickedHeadBackward,
  pickedLogprobs,
  positionedEmbedding,
  positionedEmbeddingBackward,
  type RmsNormState,
  reshapeBT,
  rmsNorm,
  rmsNormBackward,
  rotary,
  rotaryAngles,
  rotaryBackward,
  swiglu,
  swigluBackward,
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
function allowedBias(g: Graph, V: number, rows = 'N'): T {
  const allowed = g.input('allowed', [rows, V], DataType.UINT8);
  const one = g.scalar(1);
  return g.mul(g.sub(g.op('Cast', [allowed], { to: DataType.FLOAT }), one), g.scalar(-NEG_INF));
}

/**
 * The row inputs every training graph takes (tokens, positions, segments; int64 [B, T], B and T symbolic)
 * and the additive attention mask [B, 1, T, T] they imply: a token sees the earlier tokens of its row that
 * are in segment 0 (a shared prefix) or in its own segment (all 0: plain causal rows). `bt` is [B, T].
 */
function rowInputs(g: Graph): { tokens: T; positions: T; mask: T; bt: T } {
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
  return { tokens, positions, mask, bt };
}

/**
 * The GPT's forward over a [B, T] batch of token ids (rowInputs); `masked` adds the `allowed` input.
 * Positions index wpe.
 */
function forward(g: Graph, c: GptConfig, masked = false): Forward {
  const D = c.dModel;
  const { tokens, positions, mask, bt } = rowInputs(g);
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

/** The loss and its slope: d loss / d logp(target) = -coef per row (`rows`: the rows' dimension name). */
function objective(g: Graph, variant: LossVariant, lp: T, rows = 'N'): { loss: T; coef: T } {
  if (variant === 'pg') {
    const coef = g.input('coef', [rows]);
    return { loss: g.op('Neg', [g.sumAll(g.mul(coef, lp))]), coef };
  }
  const weight = g.input('weight', [rows]);
  const adv = g.input('advantage', [rows]);
  const old = g.input('old_logprobs', [rows]);
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
  return buildAdamwGraph(parameterSpecs(c), isDecayed, opts);
}

/**
 * The optimizer graph over any list of trained parameters (the GPT's weights, or a LoRA adapter's
 * matrices), `decayed` naming those that get weight decay.
 */
export function buildAdamwGraph(
  specs: readonly ParamSpec[],
  decayed: (name: string) => boolean,
  opts: OptimizerGraphOptions,
): Uint8Array {
  const g = new Graph('adamw');
  for (const s of specs) g.input(s.name, s.shape);
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
    g.output(g.sub(decayed(s.name) ? g.mul(s.name, keep) : s.name, update), `new.${s.name}`, s.shape);
    g.output(m2, `new.m.${s.name}`, s.shape);
    g.output(v2, `new.v.${s.name}`, s.shape);
  }
  return g.encode();
}

// ---------------------------------------------------------------------------------------------------
// The Llama family with LoRA: the base is frozen (fed as inputs, shared with the sampling graphs), the
// adapters train. Inputs beyond rowInputs:
//   every base weight of config.ts parameterSpecs(llama), every adapter matrix of loraParameterSpecs
//   (gradient graph: also acc.<adapter>)
//   pick      int64 [M]  flat indices (b * T + t) of the positions the loss reads, in any order, unique
//   targets   int64 [M]  the next token at each picked position
//   allowed   uint8 [M, V] (masked variants)
//   pg: coef [M]; ppo: weight, advantage, old_logprobs [M], clip_eps []
// Only picked positions reach the head: a real vocabulary is tens of thousands wide and most positions of
// a self-play row are prompt. Nothing upstream of the first block trains, so its input gradient is not
// computed.

/** Adapter matrices' names for one module, if the settings target it. */
function adapterOf(lora: LoraSettings | undefined, l: number, t: LoraTarget) {
  if (!lora?.targets.includes(t)) return undefined;
  const m = `model.layers.${l}.${LORA_MODULE[t]}`;
  return { a: `${m}.lora_A`, b: `${m}.lora_B`, scale: lora.alpha / lora.rank };
}

interface LlamaBlockState {
  n1: RmsNormState;
  q: LoraLinearState;
  k: LoraLinearState;
  v: LoraLinearState;
  qNorm: RmsNormState | undefined;
  kNorm: RmsNormState | undefined;
  attn: GqaState;
  o: LoraLinearState;
  n2: RmsNormState;
  gate: LoraLinearState;
  up: LoraLinearState;
  act: { gate: T; up: T; sig: T };
  down: LoraLinearState;
}

interface LlamaForward {
  blocks: LlamaBlockState[];
  final: RmsNormState;
  head: PickedHeadState;
  lp: T;
  targets: T;
  cos: T;
  sin: T;
  bt: T;
}

function llamaForward(
  g: Graph,
  c: LlamaConfig,
  lora: LoraSettings | undefined,
  masked: boolean,
): LlamaForward {
  const D = c.dModel;
  const { headDim: hd, heads: H, kvHeads: KV } = c;
  const { tokens, positions, mask, bt } = rowInputs(g);
  const mask5 = g.op('Unsqueeze', [mask, g.ints([1])]); // [B, 1, 1, T, T]
  const pick = g.input('pick', ['M'], DataType.INT64);
  const targets = g.input('targets', ['M'], DataType.INT64);
  const embed = 'model.embed_tokens.weight';
  // Tied: the embedding is kept as the head's [D, V]; gather its columns.
  let x = c.tiedEmbeddings
    ? g.reshape(g.transpose(g.op('Gather', [embed, tokens], { axis: 1 }), [1, 2, 0]), [-1, D])
    : g.reshape(g.op('Gather', [embed, tokens]), [-1, D]);
  const angles = rotaryAngles(g, positions, ropeFrequencies(c)); // [B, T, hd/2]
  const cos = g.op('Unsqueeze', [angles.cos, g.ints([-2])]);
  const sin = g.op('Unsqueeze', [angles.sin, g.ints([-2])]);
  const blocks: LlamaBlockState[] = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    const n1 = rmsNorm(g, x, `${p}.input_layernorm.weight`, c.rmsEps, D);
    const proj = (t: 'q' | 'k' | 'v') =>
      loraLinear(
        g,
        n1.y,
        `${p}.self_attn.${t}_proj.weight`,
        c.attentionBias ? `${p}.self_attn.${t}_proj.bias` : undefined,
        adapterOf(lora, l, t),
      );
    const q = proj('q');
    const k = proj('k');
    const v = proj('v');
    const heads = (a: T, n: number) => reshapeBT(g, a, { batch: 0, time: 0, bt }, [n, hd]);
    const qNorm = c.qkNorm
      ? rmsNorm(g, heads(q.y, H), `${p}.self_attn.q_norm.weight`, c.rmsEps, hd)
      : undefined;
    const kNorm = c.qkNorm
      ? rmsNorm(g, heads(k.y, KV), `${p}.self_attn.k_norm.weight`, c.rmsEps, hd)
      : undefined;
    const qr = rotary(g, qNorm?.y ?? heads(q.y, H), cos, sin);
    const kr = rotary(g, kNorm?.y ?? heads(k.y, KV), cos, sin);
    const attn = gqaAttention(g, qr, kr, heads(v.y, KV), mask5, { heads: H, kvHeads: KV, headDim: hd });
    const o = loraLinear(g, attn.y, `${p}.self_attn.o_proj.weight`, undefined, adapterOf(lora, l, 'o'));
    x = g.add(x, o.y);
    const n2 = rmsNorm(g, x, `${p}.post_attention_layernorm.weight`, c.rmsEps, D);
    const gate = loraLinear(g, n2.y, `${p}.mlp.gate_proj.weight`, undefined, adapterOf(lora, l, 'gate'));
    const up = loraLinear(g, n2.y, `${p}.mlp.up_proj.weight`, undefined, adapterOf(lora, l, 'up'));
    const act = swiglu(g, gate.y, up.y);
    const down = loraLinear(g, act.y, `${p}.mlp.down_proj.weight`, undefined, adapterOf(lora, l, 'down'));
    x = g.add(x, down.y);
    blocks.push({
      n1: n1.state,
      q: q.state,
      k: k.state,
      v: v.state,
      qNorm: qNorm?.state,
      kNorm: kNorm?.state,
      attn: attn.state,
      o: o.state,
      n2: n2.state,
      gate: gate.state,
      up: up.state,
      act: act.state,
      down: down.state,
    });
  }
  const final = rmsNorm(g, x, 'model.norm.weight', c.rmsEps, D);
  const head = pickedHead(
    g,
    final.y,
    pick,
    c.tiedEmbeddings ? embed : 'lm_head.weight',
    masked ? allowedBias(g, c.vocabSize, 'M') : undefined,
  );
  return {
    blocks,
    final: final.state,
    head: head.state,
    lp: pickedLogprobs(g, head.lsm, targets),
    targets,
    cos,
    sin,
    bt,
  };
}

/** The adapters' gradients, given d loss / d logp(target) = -coef per picked position. */
function llamaBackward(g: Graph, c: LlamaConfig, f: LlamaForward, coef: T): Grads {
  const grads: Grads = new Map();
  const { headDim: hd, heads: H, kvHeads: KV } = c;
  let dx = rmsNormBackward(g, pickedHeadBackward(g, coef, f.targets, f.head), f.final);
  for (let l = f.blocks.length - 1; l >= 0; l--) {
    const s = f.blocks[l] as LlamaBlockState;
    const dAct = loraLinearBackward(g, dx, s.down, grads) as T;
    const { dGate, dUp } = swigluBackward(g, dAct, s.act);
    const dn2 = g.add(
      loraLinearBackward(g, dGate, s.gate, grads) as T,
      loraLinearBackward(g, dUp, s.up, grads) as T,
    );
    dx = g.add(dx, rmsNormBackward(g, dn2, s.n2));
    const d = gqaAttentionBackward(g, loraLinearBackward(g, dx, s.o, grads) as T, s.attn, f.bt);
    const unrotate = (a: T, norm: RmsNormState | undefined, n: number) => {
      const r = rotaryBackward(g, a, f.cos, f.sin);
      return g.reshape(norm ? rmsNormBackward(g, r, norm) : r, [-1, n * hd]);
    };
    const first = l === 0;
    const parts = [
      loraLinearBackward(g, unrotate(d.dq, s.qNorm, H), s.q, grads, !first),
      loraLinearBackward(g, unrotate(d.dk, s.kNorm, KV), s.k, grads, !first),
      loraLinearBackward(g, g.reshape(d.dv, [-1, KV * hd]), s.v, grads, !first),
    ];
    if (!first) dx = g.add(dx, rmsNormBackward(g, parts.reduce((a, b) => g.add(a as T, b as T)) as T, s.n1));
  }
  return grads;
}

function declareLlama(g: Graph, c: LlamaConfig, lora: LoraSettings | undefined): ParamSpec[] {
  for (const s of parameterSpecs(c)) g.input(s.name, s.shape);
  const adapters = lora ? loraParameterSpecs(c, lora) : [];
  for (const s of adapters) g.input(s.name, s.shape);
  return adapters;
}

/** Forward-only scoring: `logprobs` [M] of the picked positions' targets (and `allowed` when masked). */
export function buildLlamaScoreGraph(
  c: LlamaConfig,
  lora: LoraSettings | undefined,
  masked = false,
): Uint8Array {
  const g = new Graph('score');
  declareLlama(g, c, lora);
  const f = llamaForward(g, c, lora, masked);
  g.output(f.lp, 'logprobs', ['M']);
  return g.encode();
}

/** The gradient graph of a Llama-family model's adapters over one chunk of rows (see buildGradGraph). */
export function buildLlamaGradGraph(c: LlamaConfig, lora: LoraSettings, opts: GradGraphOptions): Uint8Array {
  const g = new Graph('grad');
  const adapters = declareLlama(g, c, lora);
  const f = llamaForward(g, c, lora, opts.masked ?? false);
  const { loss, coef } = objective(g, opts.variant, f.lp, 'M');
  g.output(loss, 'loss', []);
  const grads = llamaBackward(g, c, f, coef);
  for (const s of adapters) {
    const raw = grads.get(s.name);
    if (!raw) throw new Error(`no gradient for ${s.name}`);
    g.output(g.add(g.input(`acc.${s.name}`, s.shape), raw), `sum.${s.name}`, s.shape);
  }
  return g.encode();
}

/**
 * The adapted weights with their adapters merged, for sampling: inputs `<module>.weight` [in, out],
 * `<module>.lora_A`, `<module>.lora_B`; outputs `merged.<module>.weight` = W + (alpha / r) A B.
 */
export function buildMergeGraph(c: LlamaConfig, lora: LoraSettings): Uint8Array {
  const g = new Graph('merge');
  const shapes = new Map(parameterSpecs(c).map((s) => [s.name, s.shape]));
  const scale = g.scalar(lora.alpha / lora.rank);
  for (const a of loraParameterSpecs(c, lora)) {
    if (!a.name.endsWith('.lora_A')) continue;
    const m = a.name.slice(0, -'.lora_A'.length);
    const shape = shapes.get(`${m}.weight`) as number[];
    const w = g.input(`${m}.weight`, shape);
    const A = g.input(a.name, a.shape);
    const B = g.input(`${m}.lora_B`, [lora.rank, shape[1] as number]);
    g.output(g.add(w, g.matmul(g.mul(A, scale), B)), `merged.${m}.weight`, shape);
  }
  return g.encode();
}

/** Adapters get weight decay like the matrices they adapt. */
export const isDecayedAdapter = (name: string): boolean => /\.lora_[AB]$/.test(name);

export { LORA_TARGETS };
