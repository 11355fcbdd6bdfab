// A plain TypeScript forward pass of the built-in GPT, written from the math in float64, as the reference
// the ONNX graphs are tested against.
import type { ModelConfig } from '../../src/model/config.js';

type W = ReadonlyMap<string, Float32Array>;

function get(w: W, name: string): Float32Array {
  const x = w.get(name);
  if (!x) throw new Error(`missing ${name}`);
  return x;
}

function layerNorm(x: Float64Array, D: number, g: Float32Array, b: Float32Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i] as number;
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += ((x[r * D + i] as number) - mean) ** 2;
    const istd = 1 / Math.sqrt(v / D + 1e-5);
    for (let i = 0; i < D; i++)
      out[r * D + i] = ((x[r * D + i] as number) - mean) * istd * (g[i] as number) + (b[i] as number);
  }
  return out;
}

/** x [rows, n] @ w [n, m] + b [m] */
function linear(
  x: Float64Array,
  n: number,
  w: Float32Array,
  b: Float32Array | null,
  m: number,
): Float64Array {
  const rows = x.length / n;
  const out = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < m; j++) {
      let s = b ? (b[j] as number) : 0;
      for (let k = 0; k < n; k++) s += (x[r * n + k] as number) * (w[k * m + j] as number);
      out[r * m + j] = s;
    }
  }
  return out;
}

const gelu = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));

/** logprob of targets[b, t] for every position, [batch * time]. */
export function referenceLogprobs(
  c: ModelConfig,
  w: W,
  batch: { batch: number; time: number; tokens: Int32Array; targets: Int32Array },
): Float64Array {
  const { dModel: D, heads: H, vocabSize: V } = c;
  const hd = D / H;
  const T = batch.time;
  const out = new Float64Array(batch.batch * T);
  const wte = get(w, 'wte');
  const wpe = get(w, 'wpe');
  for (let b = 0; b < batch.batch; b++) {
    let x = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      const tok = batch.tokens[b * T + t] as number;
      for (let i = 0; i < D; i++) x[t * D + i] = (wte[tok * D + i] as number) + (wpe[t * D + i] as number);
    }
    for (let l = 0; l < c.layers; l++) {
      const p = `h.${l}`;
      const h = layerNorm(x, D, get(w, `${p}.ln1.weight`), get(w, `${p}.ln1.bias`));
      const qkv = linear(h, D, get(w, `${p}.attn.qkv.weight`), get(w, `${p}.attn.qkv.bias`), 3 * D);
      const y = new Float64Array(T * D);
      for (let hh = 0; hh < H; hh++) {
        for (let i = 0; i < T; i++) {
          const scores: number[] = [];
          for (let j = 0; j <= i; j++) {
            let s = 0;
            for (let k = 0; k < hd; k++)
              s += (qkv[i * 3 * D + hh * hd + k] as number) * (qkv[j * 3 * D + D + hh * hd + k] as number);
            scores.push(s / Math.sqrt(hd));
          }
          const m = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - m));
          const z = e.reduce((a, v) => a + v, 0);
          for (let k = 0; k < hd; k++) {
            let acc = 0;
            for (let j = 0; j <= i; j++)
              acc += ((e[j] as number) / z) * (qkv[j * 3 * D + 2 * D + hh * hd + k] as number);
            y[i * D + hh * hd + k] = acc;
          }
        }
      }
      const proj = linear(y, D, get(w, `${p}.attn.proj.weight`), get(w, `${p}.attn.proj.bias`), D);
      x = x.map((v, i) => v + (proj[i] as number));
      const h2 = layerNorm(x, D, get(w, `${p}.ln2.weight`), get(w, `${p}.ln2.bias`));
      const f = linear(h2, D, get(w, `${p}.mlp.fc.weight`), get(w, `${p}.mlp.fc.bias`), 4 * D).map(gelu);
      const mlp = linear(f, 4 * D, get(w, `${p}.mlp.proj.weight`), get(w, `${p}.mlp.proj.bias`), D);
      x = x.map((v, i) => v + (mlp[i] as number));
    }
    const hf = layerNorm(x, D, get(w, 'lnf.weight'), get(w, 'lnf.bias'));
    for (let t = 0; t < T; t++) {
      const logits = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += (hf[t * D + i] as number) * (wte[v * D + i] as number);
        logits[v] = s;
      }
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
      out[b * T + t] = (logits[batch.targets[b * T + t] as number] as number) - lse;
    }
  }
  return out;
}
