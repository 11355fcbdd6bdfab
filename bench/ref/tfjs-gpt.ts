// TF.js (WebAssembly backend) reference for bench/model.ts: the same GPT trained with tf.grads and Adam,
// the other way a TypeScript user would train a model. The embedding is a one-hot matmul because the
// wasm backend has no gradient kernel for gather.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export async function tfjsTrainTokensPerS(
  L: number,
  D: number,
  H: number,
  V: number,
  B: number,
  T: number,
  steps = 3,
): Promise<number> {
  await tf.setBackend('wasm');
  await tf.ready();
  const hd = D / H;
  const v = (shape: number[], std = 0.02) => tf.variable(tf.randomNormal(shape, 0, std));
  const ones = (n: number) => tf.variable(tf.ones([n]));
  const zeros = (n: number) => tf.variable(tf.zeros([n]));
  const params = {
    wte: v([V, D]),
    wpe: v([T, D]),
    lnf: [ones(D), zeros(D)],
    blocks: Array.from({ length: L }, () => ({
      ln1: [ones(D), zeros(D)],
      qkv: [v([D, 3 * D]), zeros(3 * D)],
      proj: [v([D, D]), zeros(D)],
      ln2: [ones(D), zeros(D)],
      fc: [v([D, 4 * D]), zeros(4 * D)],
      out: [v([4 * D, D]), zeros(D)],
    })),
  };
  const ln = (x: tf.Tensor2D, [g, b]: tf.Variable[]) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .div(variance.add(1e-5).sqrt())
      .mul(g as tf.Variable)
      .add(b as tf.Variable) as tf.Tensor2D;
  };
  const lin = (x: tf.Tensor2D, [w, b]: tf.Variable[]) =>
    tf.matMul(x, w as tf.Tensor2D).add(b as tf.Variable) as tf.Tensor2D;
  const mask = tf.linalg
    .bandPart(tf.ones([T, T]), -1, 0)
    .sub(1)
    .mul(1e9);
  const tokens = tf.randomUniformInt([B * T], 0, V);
  const targets = tf.oneHot(tf.randomUniformInt([B * T], 0, V), V);
  const xoh = tf.oneHot(tokens, V).toFloat();
  const loss = () =>
    tf.tidy(() => {
      let x = tf
        .matMul(xoh, params.wte)
        .reshape([B, T, D])
        .add(params.wpe)
        .reshape([B * T, D]) as tf.Tensor2D;
      for (const b of params.blocks) {
        const qkv = lin(ln(x, b.ln1), b.qkv);
        const [q, k, vv] = tf.split(qkv, 3, -1).map((z) => z.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]));
        const att = tf.softmax(
          tf
            .matMul(q as tf.Tensor, k as tf.Tensor, false, true)
            .div(Math.sqrt(hd))
            .add(mask),
        );
        const y = tf
          .matMul(att, vv as tf.Tensor)
          .transpose([0, 2, 1, 3])
          .reshape([B * T, D]) as tf.Tensor2D;
        x = x.add(lin(y, b.proj)) as tf.Tensor2D;
        const h = lin(ln(x, b.ln2), b.fc);
        const gelu = h
          .mul(0.5)
          .mul(tf.tanh(h.add(h.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)) as tf.Tensor2D;
        x = x.add(lin(gelu, b.out)) as tf.Tensor2D;
      }
      const logits = tf.matMul(ln(x, params.lnf), params.wte, false, true);
      return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
    });
  const opt = tf.train.adam(1e-3);
  opt.minimize(loss); // warm-up
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const l = opt.minimize(loss, true);
    await l?.data();
    l?.dispose();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return (B * T) / ((times[times.length >> 1] as number) / 1000);
}
