// The built-in GPT as ONNX graphs, llm.c style: each layer's forward and its hand-written backward side by
// side, and one graph per job:
//   train   forward + backward + global-norm clipping + AdamW: parameters and moments in, updated out
//   score   forward only: log-probability of each target token
//   prefill a whole (left-padded) prompt batch: keys/values for the cache and the last position's logits
//   decode  one token per row against the cache passed in; returns logits and only the new keys/values
// Shapes: B batch, T time, N = B*T rows, D model width, H heads, hd = D/H, V vocabulary.
import type { ModelConfig } from './config.js';
import { parameterSpecs } from './config.js';
import { Graph, type T } from './onnx/graph.js';
import { DataType } from './onnx/proto.js';

export const NEG_INF = -1e9; // finite, so a fully masked row softmaxes to uniform instead of NaN

export interface OptimizerConstants {
  beta1: number;
  beta2: number;
  gradClip: number;
}

/** Parameters that get weight decay: matrices and embeddings (as in GPT-2/nanoGPT), not biases or norms. */
export function isDecayed(name: string): boolean {
  return name === 'wte' || name === 'wpe' || (name.endsWith('.weight') && !/\.ln\d?\.|^lnf\./.test(name));
}

interface LnState {
  y: T;
  xhat: T;
  istd: T;
  weight: string;
  bias: string;
}

/** LayerNorm over the last axis, keeping what its backward needs. */
function layerNorm(g: Graph, x: T, weight: string, bias: string): LnState {
  const [y, mean, istd] = g.opN('LayerNormalization', [x, weight, bias], 3, {
    axis: -1,
    epsilon: { float: 1e-5 },
    stash_type: 1,
  }) as [T, T, T];
  return { y, xhat: g.mul(g.sub(x, mean), istd), istd, weight, bias };
}

/** dx of LayerNorm; records the parameter gradients. */
function layerNormBackward(g: Graph, dy: T, s: LnState, D: number, grads: Map<string, T>): T {
  grads.set(s.weight, g.sum0(g.mul(dy, s.xhat)));
  grads.set(s.bias, g.sum0(dy));
  const dxh = g.mul(dy, s.weight);
  const invD = g.scalar(1 / D);
  const meanDxh = g.mul(g.sumLast(dxh), invD);
  const meanDxhXhat = g.mul(g.sumLast(g.mul(dxh, s.xhat)), invD);
  return g.mul(s.istd, g.sub(g.sub(dxh, meanDxh), g.mul(s.xhat, meanDxhXhat)));
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** d gelu_tanh(u) / du. */
function geluGrad(g: Graph, u: T): T {
  const u2 = g.mul(u, u);
  const th = g.op('Tanh', [g.mul(g.scalar(GELU_C), g.add(u, g.mul(g.scalar(GELU_K), g.mul(u2, u))))]);
  const half = g.scalar(0.5);
  const one = g.scalar(1);
  const left = g.mul(half, g.add(one, th));
  const right = g.mul(
    g.mul(g.mul(half, u), g.sub(one, g.mul(th, th))),
    g.mul(g.scalar(GELU_C), g.add(one, g.mul(g.scalar(3 * GELU_K), u2))),
  );
  return g.add(left, right);
}

interface BlockState {
  ln1: LnState;
  q: T;
  k: T;
  v: T;
  att: T;
  y: T;
  ln2: LnState;
  u: T;
  f: T;
}

interface Forward {
  /** Log-softmax over the vocabulary, [N, V]. */
  lsm: T;
  /** Final LayerNorm output, [N, D]. */
  lnf: LnState;
  blocks: BlockState[];
  tokensFlat: T;
}

/** The training/scoring forward over [B, T] with a causal mask. */
function forwardTrain(g: Graph, c: ModelConfig, B: number, Tn: number): Forward {
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  const N = B * Tn;
  const tokensFlat = g.input('tokens', [N], DataType.INT64);
  const mask = new Float32Array(Tn * Tn);
  for (let i = 0; i < Tn; i++) for (let j = i + 1; j < Tn; j++) mask[i * Tn + j] = NEG_INF;
  const causal = g.floats('causal_mask', [Tn, Tn], mask);
  const heads = (a: T) => g.transpose(g.reshape(a, [B, Tn, H, hd]), [0, 2, 1, 3]); // [B,H,T,hd]
  const unheads = (a: T) => g.reshape(g.transpose(a, [0, 2, 1, 3]), [N, D]);
  const pos = g.op('Slice', ['wpe', g.ints([0]), g.ints([Tn]), g.ints([0])]); // [T, D]
  let x = g.reshape(g.add(g.op('Gather', ['wte', g.reshape(tokensFlat, [B, Tn])]), pos), [N, D]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  const blocks: BlockState[] = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `h.${l}`;
    const ln1 = layerNorm(g, x, `${p}.ln1.weight`, `${p}.ln1.bias`);
    const qkv = g.add(g.matmul(ln1.y, `${p}.attn.qkv.weight`), `${p}.attn.qkv.bias`);
    const [q, k, v] = g.opN('Split', [qkv], 3, { axis: -1, num_outputs: 3 }).map(heads) as [T, T, T];
    const att = g.op('Softmax', [g.add(g.mul(g.matmul(q, g.t4(k)), scale), causal)], { axis: -1 });
    const y = unheads(g.matmul(att, v));
    x = g.add(x, g.add(g.matmul(y, `${p}.attn.proj.weight`), `${p}.attn.proj.bias`));
    const ln2 = layerNorm(g, x, `${p}.ln2.weight`, `${p}.ln2.bias`);
    const u = g.add(g.matmul(ln2.y, `${p}.mlp.fc.weight`), `${p}.mlp.fc.bias`);
    const f = g.op('Gelu', [u], { approximate: 'tanh' });
    x = g.add(x, g.add(g.matmul(f, `${p}.mlp.proj.weight`), `${p}.mlp.proj.bias`));
    blocks.push({ ln1, q, k, v, att, y, ln2, u, f });
  }
  const lnf = layerNorm(g, x, 'lnf.weight', 'lnf.bias');
  const logits = g.matmul(lnf.y, g.t2('wte'));
  const lsm = g.op('LogSoftmax', [logits], { axis: -1 });
  return { lsm, lnf, blocks, tokensFlat };
}

function oneHot(g: Graph, ids: T, V: number): T {
  return g.op('OneHot', [ids, g.ints([V]), g.floats(`onehot_values_${ids}`, [2], Float32Array.of(0, 1))], {
    axis: -1,
  });
}

function declareParams(g: Graph, c: ModelConfig): { name: string; shape: number[] }[] {
  const specs = parameterSpecs(c);
  for (const s of specs) g.input(s.name, s.shape);
  return specs;
}

/** Forward-only scoring graph: logprobs [N] of `targets` given `tokens`. */
export function buildScoreGraph(c: ModelConfig, B: number, Tn: number): Uint8Array {
  const g = new Graph('score');
  declareParams(g, c);
  const fwd = forwardTrain(g, c, B, Tn);
  const targets = g.input('targets', [B * Tn], DataType.INT64);
  const lp = g.op('ReduceSum', [g.mul(fwd.lsm, oneHot(g, targets, c.vocabSize)), g.ints([-1])], {
    keepdims: 0,
  });
  g.output(lp, 'logprobs', [B * Tn]);
  return g.encode();
}

export type LossVariant = 'pg' | 'ppo';

export interface TrainGraphOptions extends OptimizerConstants {
  variant: LossVariant;
  /** Also output every raw gradient as `grad.<name>` (tests). */
  withGrads?: boolean;
}

/**
 * One training step. Inputs: parameters, `m.<name>`/`v.<name>`, tokens, targets, and
 *   pg:  coef [N] = weight * advantage             loss = -sum coef * logp
 *   ppo: weight, advantage, old [N], clip_eps []   loss = -sum weight * min(r*A, clip(r)*A)
 * plus lr_t (bias-corrected step size), eps_t (bias-corrected epsilon) and wd_lr (lr * weight decay).
 * Outputs: `new.<name>`, `new.m.<name>`, `new.v.<name>`, loss, grad_norm (before clipping).
 */
export function buildTrainGraph(c: ModelConfig, B: number, Tn: number, opts: TrainGraphOptions): Uint8Array {
  const g = new Graph('train');
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  const N = B * Tn;
  const V = c.vocabSize;
  const specs = declareParams(g, c);
  const fwd = forwardTrain(g, c, B, Tn);
  const targets = g.input('targets', [N], DataType.INT64);
  const yoh = oneHot(g, targets, V);
  const lp = g.op('ReduceSum', [g.mul(fwd.lsm, yoh), g.ints([-1])], { keepdims: 0 }); // [N]

  // Loss and d loss / d logp per row.
  let loss: T;
  let coef: T; // d loss / d logp = -coef
  if (opts.variant === 'pg') {
    coef = g.input('coef', [N]);
    loss = g.op('Neg', [g.sumAll(g.mul(coef, lp))]);
  } else {
    const weight = g.input('weight', [N]);
    const adv = g.input('advantage', [N]);
    const old = g.input('old_logprobs', [N]);
    const eps = g.input('clip_eps', []);
    const ratio = g.op('Exp', [g.sub(lp, old)]);
    const one = g.scalar(1);
    const clipped = g.op('Max', [g.op('Min', [ratio, g.add(one, eps)]), g.sub(one, eps)]);
    const unclippedObj = g.mul(ratio, adv);
    const clippedObj = g.mul(clipped, adv);
    const obj = g.op('Min', [unclippedObj, clippedObj]);
    loss = g.op('Neg', [g.sumAll(g.mul(weight, obj))]);
    const active = g.op('Cast', [g.op('LessOrEqual', [unclippedObj, clippedObj])], { to: DataType.FLOAT });
    coef = g.mul(g.mul(weight, active), unclippedObj); // d(r*A)/d logp = r*A
  }
  g.output(loss, 'loss', []);

  // ---- backward
  const grads = new Map<string, T>();
  // logits = lnf @ wte^T; d loss/d logits = coef * (softmax - onehot)
  const dlogits = g.mul(g.reshape(coef, [N, 1]), g.sub(g.op('Exp', [fwd.lsm]), yoh));
  const dwteHead = g.matmul(g.t2(dlogits), fwd.lnf.y); // [V, D]
  let dx = layerNormBackward(g, g.matmul(dlogits, 'wte'), fwd.lnf, D, grads);
  const heads = (a: T) => g.transpose(g.reshape(a, [B, Tn, H, hd]), [0, 2, 1, 3]);
  const unheads = (a: T) => g.reshape(g.transpose(a, [0, 2, 1, 3]), [N, D]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = c.layers - 1; l >= 0; l--) {
    const p = `h.${l}`;
    const s = fwd.blocks[l] as BlockState;
    // MLP: x += gelu(ln2(x) @ Wfc + bfc) @ Wproj + bproj
    grads.set(`${p}.mlp.proj.weight`, g.matmul(g.t2(s.f), dx));
    grads.set(`${p}.mlp.proj.bias`, g.sum0(dx));
    const du = g.mul(g.matmul(dx, g.t2(`${p}.mlp.proj.weight`)), geluGrad(g, s.u));
    grads.set(`${p}.mlp.fc.weight`, g.matmul(g.t2(s.ln2.y), du));
    grads.set(`${p}.mlp.fc.bias`, g.sum0(du));
    dx = g.add(dx, layerNormBackward(g, g.matmul(du, g.t2(`${p}.mlp.fc.weight`)), s.ln2, D, grads));
    // Attention: x += softmax(q k^T * scale + mask) v @ Wproj + bproj
    grads.set(`${p}.attn.proj.weight`, g.matmul(g.t2(s.y), dx));
    grads.set(`${p}.attn.proj.bias`, g.sum0(dx));
    const dO = heads(g.matmul(dx, g.t2(`${p}.attn.proj.weight`)));
    const da = g.matmul(dO, g.t4(s.v));
    const dv = g.matmul(g.t4(s.att), dO);
    const ds = g.mul(g.mul(s.att, g.sub(da, g.sumLast(g.mul(da, s.att)))), scale);
    const dq = g.matmul(ds, s.k);
    const dk = g.matmul(g.t4(ds), s.q);
    const dqkv = g.op('Concat', [unheads(dq), unheads(dk), unheads(dv)], { axis: -1 });
    grads.set(`${p}.attn.qkv.weight`, g.matmul(g.t2(s.ln1.y), dqkv));
    grads.set(`${p}.attn.qkv.bias`, g.sum0(dqkv));
    dx = g.add(dx, layerNormBackward(g, g.matmul(dqkv, g.t2(`${p}.attn.qkv.weight`)), s.ln1, D, grads));
  }
  // Embeddings: wte gets the head's gradient plus the input rows'; wpe the first T rows.
  grads.set('wte', g.add(dwteHead, g.matmul(g.t2(oneHot(g, fwd.tokensFlat, V)), dx)));
  const dpos = g.sum0(g.reshape(dx, [B, Tn, D])); // [T, D]
  grads.set(
    'wpe',
    c.contextLength > Tn ? g.op('Pad', [dpos, g.ints([0, 0, c.contextLength - Tn, 0])]) : dpos,
  );

  // ---- global-norm clipping
  const sq = specs.map((s) => g.op('ReduceSumSquare', [grads.get(s.name) as T], { keepdims: 0 }));
  const norm = g.op('Sqrt', [sq.reduce((a, b) => g.add(a, b))]);
  g.output(norm, 'grad_norm', []);
  const clip = g.scalar(opts.gradClip);
  const factor = g.div(clip, g.op('Max', [norm, clip])); // min(1, clip / norm)

  // ---- AdamW (bias correction folded into lr_t and eps_t, computed on the TypeScript side)
  const lrT = g.input('lr_t', []);
  const epsT = g.input('eps_t', []);
  const wdLr = g.input('wd_lr', []);
  const b1 = g.scalar(opts.beta1);
  const b1c = g.scalar(1 - opts.beta1);
  const b2 = g.scalar(opts.beta2);
  const b2c = g.scalar(1 - opts.beta2);
  for (const s of specs) {
    const raw = grads.get(s.name);
    if (!raw) throw new Error(`no gradient for ${s.name}`);
    if (opts.withGrads) g.output(raw, `grad.${s.name}`, s.shape);
    const gr = g.mul(raw, factor);
    const m = g.input(`m.${s.name}`, s.shape);
    const v = g.input(`v.${s.name}`, s.shape);
    const m2 = g.add(g.mul(b1, m), g.mul(b1c, gr));
    const v2 = g.add(g.mul(b2, v), g.mul(b2c, g.mul(gr, gr)));
    let step = g.mul(lrT, g.div(m2, g.add(g.op('Sqrt', [v2]), epsT)));
    if (isDecayed(s.name)) step = g.add(step, g.mul(wdLr, s.name));
    g.output(g.sub(s.name, step), `new.${s.name}`, s.shape);
    g.output(m2, `new.m.${s.name}`, s.shape);
    g.output(v2, `new.v.${s.name}`, s.shape);
  }
  return g.encode();
}

/** Weights baked in as initializers: the decode side is rebuilt after each update (measured faster). */
function bakeParams(g: Graph, c: ModelConfig, weights: ReadonlyMap<string, Float32Array>): void {
  for (const s of parameterSpecs(c)) {
    const w = weights.get(s.name);
    if (!w) throw new Error(`missing weight ${s.name}`);
    g.floats(s.name, s.shape, w);
  }
  // The head needs wte^T [D, V]; transposing once here saves a transpose per decode step.
  const D = c.dModel;
  const V = c.vocabSize;
  const wte = weights.get('wte') as Float32Array;
  const wteT = new Float32Array(D * V);
  for (let i = 0; i < V; i++) for (let j = 0; j < D; j++) wteT[j * V + i] = wte[i * D + j] as number;
  g.floats('wteT', [D, V], wteT);
}

function block(g: Graph, c: ModelConfig, l: number, x: T, attend: (q: T, k: T, v: T) => T): T {
  const p = `h.${l}`;
  const h = layerNorm(g, x, `${p}.ln1.weight`, `${p}.ln1.bias`).y;
  const qkv = g.add(g.matmul(h, `${p}.attn.qkv.weight`), `${p}.attn.qkv.bias`);
  const [q, k, v] = g.opN('Split', [qkv], 3, { axis: -1, num_outputs: 3 }) as [T, T, T];
  const y = attend(q, k, v);
  const x1 = g.add(x, g.add(g.matmul(y, `${p}.attn.proj.weight`), `${p}.attn.proj.bias`));
  const h2 = layerNorm(g, x1, `${p}.ln2.weight`, `${p}.ln2.bias`).y;
  const f = g.op('Gelu', [g.add(g.matmul(h2, `${p}.mlp.fc.weight`), `${p}.mlp.fc.bias`)], {
    approximate: 'tanh',
  });
  return g.add(x1, g.add(g.matmul(f, `${p}.mlp.proj.weight`), `${p}.mlp.proj.bias`));
}

/**
 * Prefill of a left-padded prompt batch [B, P]. Inputs: tokens, positions (int64 [B, P]), mask [B, 1, P, P]
 * (causal plus key padding, additive). Outputs: `k{l}`/`v{l}` time-major [P, B, H, hd], logits [B, V] of
 * the last position.
 */
export function buildPrefillGraph(
  c: ModelConfig,
  weights: ReadonlyMap<string, Float32Array>,
  B: number,
  P: number,
): Uint8Array {
  const g = new Graph('prefill');
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  bakeParams(g, c, weights);
  const tokens = g.input('tokens', [B, P], DataType.INT64);
  const positions = g.input('positions', [B, P], DataType.INT64);
  const mask = g.input('mask', [B, 1, P, P]);
  let x = g.reshape(g.add(g.op('Gather', ['wte', tokens]), g.op('Gather', ['wpe', positions])), [B * P, D]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    x = block(g, c, l, x, (q, k, v) => {
      const split = (a: T) => g.reshape(a, [B, P, H, hd]);
      const qh = g.transpose(split(q), [0, 2, 1, 3]);
      const kt = split(k);
      const vt = split(v);
      g.output(g.transpose(kt, [1, 0, 2, 3]), `k${l}`, [P, B, H, hd]);
      g.output(g.transpose(vt, [1, 0, 2, 3]), `v${l}`, [P, B, H, hd]);
      const kh = g.transpose(kt, [0, 2, 1, 3]);
      const att = g.op('Softmax', [g.add(g.mul(g.matmul(qh, g.t4(kh)), scale), mask)], { axis: -1 });
      return g.reshape(g.transpose(g.matmul(att, g.transpose(vt, [0, 2, 1, 3])), [0, 2, 1, 3]), [B * P, D]);
    });
  }
  const last = g.reshape(
    g.op('Slice', [g.reshape(x, [B, P, D]), g.ints([P - 1]), g.ints([P]), g.ints([1])]),
    [B, D],
  );
  const h = layerNorm(g, last, 'lnf.weight', 'lnf.bias').y;
  g.output(g.matmul(h, 'wteT'), 'logits', [B, c.vocabSize]);
  return g.encode();
}

/**
 * One decode step for B rows. Inputs: token and position (int64 [B]), mask [B, S+1] (additive; masks the
 * rows' left padding), past keys/values `pk{l}`/`pv{l}` time-major [S, B, H, hd]. Outputs: logits [B, V],
 * the new entries `nk{l}`/`nv{l}` [1, B, H, hd].
 */
export function buildDecodeGraph(
  c: ModelConfig,
  weights: ReadonlyMap<string, Float32Array>,
  B: number,
): Uint8Array {
  const g = new Graph('decode');
  const D = c.dModel;
  const H = c.heads;
  const hd = D / H;
  bakeParams(g, c, weights);
  const token = g.input('token', [B], DataType.INT64);
  const position = g.input('position', [B], DataType.INT64);
  const mask = g.input('mask', [B, 'S1']);
  const mask4 = g.op('Unsqueeze', [mask, g.ints([1, 2])]); // [B,1,1,S+1]
  let x = g.add(g.op('Gather', ['wte', token]), g.op('Gather', ['wpe', position])); // [B, D]
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let l = 0; l < c.layers; l++) {
    const pk = g.input(`pk${l}`, ['S', B, H, hd]);
    const pv = g.input(`pv${l}`, ['S', B, H, hd]);
    x = block(g, c, l, x, (q, k, v) => {
      const nk = g.output(g.reshape(k, [1, B, H, hd]), `nk${l}`, [1, B, H, hd]);
      const nv = g.output(g.reshape(v, [1, B, H, hd]), `nv${l}`, [1, B, H, hd]);
      // [B,H,S+1,hd]; the key transpose below is folded into the MatMul by the optimizer (a transposed
      // operand), which a direct [1,2,3,0] permutation would not be.
      const keys = g.transpose(g.op('Concat', [pk, nk], { axis: 0 }), [1, 2, 0, 3]);
      const values = g.transpose(g.op('Concat', [pv, nv], { axis: 0 }), [1, 2, 0, 3]);
      const qh = g.reshape(q, [B, H, 1, hd]);
      const att = g.op('Softmax', [g.add(g.mul(g.matmul(qh, g.t4(keys)), scale), mask4)], { axis: -1 });
      return g.reshape(g.matmul(att, values), [B, D]);
    });
  }
  const h = layerNorm(g, x, 'lnf.weight', 'lnf.bias').y;
  g.output(g.matmul(h, 'wteT'), 'logits', [B, c.vocabSize]);
  return g.encode();
}
