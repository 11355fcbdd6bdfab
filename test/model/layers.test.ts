// Each layer's hand-written backward (src/model/layers.ts) against central finite differences of its own
// forward, one small graph per layer. The scalar checked is L = sum(y * dy) for a random dy, so d L / d in
// is exactly what the backward computes from dy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  attention,
  attentionBackward,
  embedding,
  embeddingBackward,
  type Grads,
  gelu,
  geluBackward,
  gqaAttention,
  gqaAttentionBackward,
  head,
  headBackward,
  layerNorm,
  layerNormBackward,
  linear,
  linearBackward,
  loraLinear,
  loraLinearBackward,
  oneHot,
  pickedHead,
  pickedHeadBackward,
  pickedLogprobs,
  rmsNorm,
  rmsNormBackward,
  rotary,
  rotaryAngles,
  rotaryBackward,
  swiglu,
  swigluBackward,
} from '../../src/model/layers.js';
import { Graph, type T } from '../../src/model/onnx/graph.js';
import { DataType } from '../../src/model/onnx/proto.js';
import { NEG_INF } from '../../src/model/train-graph.js';
import { Rng } from '../../src/util/rng.js';

interface FloatInput {
  name: string;
  shape: number[];
  data: Float32Array;
}

interface LayerCase {
  inputs: FloatInput[];
  /** Int64 inputs (token ids), fed as they are. */
  ids?: { name: string; shape: number[]; data: number[] };
  /** Builds forward and backward; returns y, its shape and the gradient tensor of every float input. */
  build(g: Graph, dy: T): { y: T; shape: number[]; grads: Map<string, T> };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function random(rng: Rng, shape: number[], scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: size(shape) }, () => offset + rng.normal() * scale);
}

async function checkLayer(label: string, c: LayerCase, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const g = new Graph(label);
  for (const x of c.inputs) g.input(x.name, x.shape);
  if (c.ids) g.input(c.ids.name, c.ids.shape, DataType.INT64);
  // dy's shape is known once the forward is built; a graph input may be declared after its first use.
  const built = c.build(g, 'dy');
  g.input('dy', built.shape);
  g.output(built.y, 'y', built.shape);
  for (const x of c.inputs) {
    const gr = built.grads.get(x.name);
    assert.ok(gr, `${label}: no gradient for ${x.name}`);
    g.output(gr, `d_${x.name}`, x.shape);
  }
  const session = await ort.InferenceSession.create(g.encode(), { intraOpNumThreads: 1 });
  const dyData = random(rng, built.shape);
  const feeds = (): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = { dy: new ort.Tensor('float32', dyData, built.shape) };
    for (const x of c.inputs) f[x.name] = new ort.Tensor('float32', x.data, x.shape);
    if (c.ids)
      f[c.ids.name] = new ort.Tensor('int64', BigInt64Array.from(c.ids.data.map(BigInt)), c.ids.shape);
    return f;
  };
  const scalar = async (): Promise<number> => {
    const y = (await session.run(feeds())).y?.data as Float32Array;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += (y[i] as number) * (dyData[i] as number);
    return s;
  };
  const analytic = await session.run(feeds());
  const eps = 1e-2;
  const failures: string[] = [];
  for (const x of c.inputs) {
    const grad = analytic[`d_${x.name}`]?.data as Float32Array;
    for (let k = 0; k < 6; k++) {
      const i = rng.int(x.data.length);
      const old = x.data[i] as number;
      x.data[i] = old + eps;
      const up = await scalar();
      x.data[i] = old - eps;
      const down = await scalar();
      x.data[i] = old;
      const fd = (up - down) / (2 * eps);
      const an = grad[i] as number;
      if (Math.abs(fd - an) > 0.02 * Math.max(Math.abs(fd), Math.abs(an)) + 2e-3)
        failures.push(`${x.name}[${i}]: analytic ${an}, finite difference ${fd}`);
    }
  }
  await session.release();
  assert.deepEqual(failures, [], `${label}: ${failures.join('; ')}`);
}

const N = 6;
const D = 8;

test('linear: dx, dW, db match finite differences', async () => {
  const rng = new Rng(1);
  await checkLayer(
    'linear',
    {
      inputs: [
        { name: 'x', shape: [N, D], data: random(rng, [N, D]) },
        { name: 'W', shape: [D, 5], data: random(rng, [D, 5], 0.5) },
        { name: 'b', shape: [5], data: random(rng, [5]) },
      ],
      build(g, dy) {
        const grads: Grads = new Map();
        const f = linear(g, 'x', 'W', 'b');
        grads.set('x', linearBackward(g, dy, f.state, grads));
        return { y: f.y, shape: [N, 5], grads };
      },
    },
    11,
  );
});

test('LayerNorm: dx, dweight, dbias match finite differences', async () => {
  const rng = new Rng(2);
  await checkLayer(
    'layernorm',
    {
      inputs: [
        { name: 'x', shape: [N, D], data: random(rng, [N, D], 1.5, 0.3) },
        { name: 'w', shape: [D], data: random(rng, [D], 0.3, 1) },
        { name: 'b', shape: [D], data: random(rng, [D], 0.3) },
      ],
      build(g, dy) {
        const grads: Grads = new Map();
        const f = layerNorm(g, 'x', 'w', 'b', D);
        grads.set('x', layerNormBackward(g, dy, f.state, grads));
        return { y: f.y, shape: [N, D], grads };
      },
    },
    12,
  );
});

test('GELU (tanh): du matches finite differences, including negative and large inputs', async () => {
  const rng = new Rng(3);
  await checkLayer(
    'gelu',
    {
      inputs: [{ name: 'u', shape: [N, D], data: random(rng, [N, D], 2) }],
      build(g, dy) {
        const f = gelu(g, 'u');
        return { y: f.y, shape: [N, D], grads: new Map([['u', geluBackward(g, dy, f.state)]]) };
      },
    },
    13,
  );
});

test('causal attention: d qkv matches finite differences (2 sequences, 2 heads)', async () => {
  const rng = new Rng(4);
  const B = 2;
  const Tn = 3;
  const Dm = 4;
  await checkLayer(
    'attention',
    {
      inputs: [{ name: 'qkv', shape: [B * Tn, 3 * Dm], data: random(rng, [B * Tn, 3 * Dm]) }],
      build(g, dy) {
        const mask = new Float32Array(Tn * Tn);
        for (let i = 0; i < Tn; i++) for (let j = i + 1; j < Tn; j++) mask[i * Tn + j] = NEG_INF;
        const f = attention(g, 'qkv', g.floats('mask', [Tn, Tn], mask), {
          batch: B,
          time: Tn,
          heads: 2,
          width: Dm,
        });
        return { y: f.y, shape: [B * Tn, Dm], grads: new Map([['qkv', attentionBackward(g, dy, f.state)]]) };
      },
    },
    14,
  );
});

test('embeddings: dwte (input rows, repeated tokens) and dwpe (zero past the batch time) match', async () => {
  const rng = new Rng(5);
  const V = 5;
  const ctx = 4;
  const B = 2;
  const Tn = 3;
  await checkLayer(
    'embedding',
    {
      inputs: [
        { name: 'wte', shape: [V, D], data: random(rng, [V, D]) },
        { name: 'wpe', shape: [ctx, D], data: random(rng, [ctx, D]) },
      ],
      ids: { name: 'tokens', shape: [B * Tn], data: [1, 3, 1, 0, 1, 4] },
      build(g, dy) {
        const grads: Grads = new Map();
        const f = embedding(g, 'tokens', { batch: B, time: Tn, vocab: V, width: D, context: ctx });
        grads.set('wte', embeddingBackward(g, dy, f.state, grads));
        return { y: f.y, shape: [B * Tn, D], grads };
      },
    },
    15,
  );
});

test('tied head + log-softmax: dh and dwte of -sum coef * logp(target) match', async () => {
  const rng = new Rng(6);
  const V = 7;
  await checkLayer(
    'head',
    {
      inputs: [
        { name: 'h', shape: [N, D], data: random(rng, [N, D]) },
        { name: 'wte', shape: [V, D], data: random(rng, [V, D], 0.5) },
      ],
      ids: { name: 'targets', shape: [N], data: [0, 6, 3, 3, 1, 2] },
      build(g, dy) {
        // y = -logp(target) per row, so L = sum(dy * y) = -sum dy * logp: the head's loss with coef = dy.
        const f = head(g, 'h');
        const yoh = oneHot(g, 'targets', V);
        const lp = g.op('ReduceSum', [g.mul(f.lsm, yoh), g.ints([-1])], { keepdims: 0 });
        const { dh, dwte } = headBackward(g, dy, yoh, f.state);
        return {
          y: g.op('Neg', [lp]),
          shape: [N],
          grads: new Map([
            ['h', dh],
            ['wte', dwte],
          ]),
        };
      },
    },
    16,
  );
});

// ---------------------------------------------------------------------------------------------------
// The Llama family's layers.

test('RMSNorm: dx and dweight match finite differences', async () => {
  const rng = new Rng(21);
  await checkLayer(
    'rmsnorm',
    {
      inputs: [
        { name: 'x', shape: [N, D], data: random(rng, [N, D], 1.5, 0.3) },
        { name: 'w', shape: [D], data: random(rng, [D], 0.3, 1) },
      ],
      build(g, dy) {
        const grads: Grads = new Map();
        const f = rmsNorm(g, 'x', 'w', 1e-5, D);
        grads.set('x', rmsNormBackward(g, dy, f.state, grads));
        return { y: f.y, shape: [N, D], grads };
      },
    },
    22,
  );
});

test('rotary embedding: dx matches finite differences at several positions', async () => {
  const rng = new Rng(23);
  const B = 2;
  const Tn = 3;
  const H = 2;
  const hd = 4;
  await checkLayer(
    'rotary',
    {
      inputs: [{ name: 'x', shape: [B, Tn, H, hd], data: random(rng, [B, Tn, H, hd]) }],
      ids: { name: 'positions', shape: [B, Tn], data: [0, 1, 2, 5, 9, 30] },
      build(g, dy) {
        const { cos, sin } = rotaryAngles(g, 'positions', [1, 0.1]);
        const c = g.op('Unsqueeze', [cos, g.ints([-2])]);
        const s = g.op('Unsqueeze', [sin, g.ints([-2])]);
        return {
          y: rotary(g, 'x', c, s),
          shape: [B, Tn, H, hd],
          grads: new Map([['x', rotaryBackward(g, dy, c, s)]]),
        };
      },
    },
    24,
  );
});

test('SwiGLU: dgate and dup match finite differences', async () => {
  const rng = new Rng(25);
  await checkLayer(
    'swiglu',
    {
      inputs: [
        { name: 'gate', shape: [N, D], data: random(rng, [N, D], 2) },
        { name: 'up', shape: [N, D], data: random(rng, [N, D]) },
      ],
      build(g, dy) {
        const f = swiglu(g, 'gate', 'up');
        const { dGate, dUp } = swigluBackward(g, dy, f.state);
        return {
          y: f.y,
          shape: [N, D],
          grads: new Map([
            ['gate', dGate],
            ['up', dUp],
          ]),
        };
      },
    },
    26,
  );
});

test('LoRA linear over a frozen weight and bias: dx, dA, dB match finite differences', async () => {
  const rng = new Rng(27);
  const r = 3;
  const out = 5;
  await checkLayer(
    'lora',
    {
      inputs: [
        { name: 'x', shape: [N, D], data: random(rng, [N, D]) },
        { name: 'A', shape: [D, r], data: random(rng, [D, r], 0.5) },
        { name: 'B', shape: [r, out], data: random(rng, [r, out], 0.5) },
      ],
      build(g, dy) {
        g.floats('W', [D, out], random(rng, [D, out], 0.5));
        g.floats('b', [out], random(rng, [out]));
        const grads: Grads = new Map();
        const f = loraLinear(g, 'x', 'W', 'b', { a: 'A', b: 'B', scale: 2.5 });
        grads.set('x', loraLinearBackward(g, dy, f.state, grads) as T);
        return { y: f.y, shape: [N, out], grads };
      },
    },
    28,
  );
});

test('grouped-query attention with segments: dq, dk, dv match finite differences (4 heads, 2 KV heads)', async () => {
  const rng = new Rng(29);
  const B = 2;
  const Tn = 4;
  const H = 4;
  const KV = 2;
  const hd = 3;
  await checkLayer(
    'gqa',
    {
      inputs: [
        { name: 'q', shape: [B, Tn, H, hd], data: random(rng, [B, Tn, H, hd]) },
        { name: 'k', shape: [B, Tn, KV, hd], data: random(rng, [B, Tn, KV, hd]) },
        { name: 'v', shape: [B, Tn, KV, hd], data: random(rng, [B, Tn, KV, hd]) },
      ],
      build(g, dy) {
        // Row 0 causal; row 1 a shared prefix (positions 0-1) then two segments that do not see each other.
        const mask = new Float32Array(B * Tn * Tn);
        const seg = [
          [0, 0, 0, 0],
          [0, 0, 1, 2],
        ];
        for (let b = 0; b < B; b++)
          for (let i = 0; i < Tn; i++)
            for (let j = 0; j < Tn; j++) {
              const si = seg[b]?.[i] as number;
              const sj = seg[b]?.[j] as number;
              if (j > i || !(sj === 0 || sj === si)) mask[(b * Tn + i) * Tn + j] = NEG_INF;
            }
        const m = g.floats('mask', [B, 1, 1, Tn, Tn], mask);
        const f = gqaAttention(g, 'q', 'k', 'v', m, { heads: H, kvHeads: KV, headDim: hd });
        const bt = g.ints([B, Tn]);
        const d = gqaAttentionBackward(g, dy, f.state, bt);
        return {
          y: f.y,
          shape: [B * Tn, H * hd],
          grads: new Map([
            ['q', d.dq],
            ['k', d.dk],
            ['v', d.dv],
          ]),
        };
      },
    },
    30,
  );
});

test('head over picked positions: dh of -sum coef * logp(target) matches, zero at unpicked rows', async () => {
  const rng = new Rng(31);
  const V = 7;
  await checkLayer(
    'picked-head',
    {
      inputs: [{ name: 'h', shape: [N, D], data: random(rng, [N, D]) }],
      ids: { name: 'targets', shape: [3], data: [6, 0, 3] },
      build(g, dy) {
        g.floats('W', [D, V], random(rng, [D, V], 0.5));
        const pick = g.ints([4, 1, 2]);
        const f = pickedHead(g, 'h', pick, 'W');
        const lp = pickedLogprobs(g, f.lsm, 'targets');
        return {
          y: g.op('Neg', [lp]),
          shape: [3],
          grads: new Map([['h', pickedHeadBackward(g, dy, 'targets', f.state)]]),
        };
      },
    },
    32,
  );
});
