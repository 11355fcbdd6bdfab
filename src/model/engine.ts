// The model engine: weights and AdamW moments as Float32Arrays on the TypeScript side, ONNX Runtime
// sessions for the graphs in gpt-graphs.ts.
//
//   const engine = await createModelEngine(config, { threads: 2, seed: 1, optimizer });
//   await engine.trainStep(batch);                 // TrainBatch from src/rl/objective.ts packTrainBatch
//   const cache = engine.newCache(rows);
//   let logits = await engine.prefill(cache, tokens, time, lengths);   // [rows, V]
//   logits = await engine.decode(cache, nextTokens);                   // [rows, V], repeat
//
// Sessions are cached per shape: training per (batch, time, loss variant), prefill per (rows, padded
// prompt length), decode per rows. Prefill/decode bake the weights in as initializers (measured faster
// than feeding them: ml-backends.md section 5), so an update drops those sessions and the next sampling
// call rebuilds them (tens of milliseconds).
//
// KV cache: per layer one preallocated time-major buffer [context, rows, H, hd] for keys and one for
// values. Prompts are left-padded to a common length so every decode step writes one time slot for all
// rows; padding is masked out as keys, and positions count from each row's first real token.
import * as ort from 'onnxruntime-node';
import { readSafetensors, writeSafetensors } from './checkpoint.js';
import { type ModelConfig, parameterSpecs, validateModelConfig } from './config.js';
import { buildDecodeGraph, buildPrefillGraph, transposeEmbedding } from './decode-graph.js';
import type { KvCache, ModelEngine, OptimizerSettings, TrainBatch, TrainStepStats } from './engine-types.js';
import { initWeights, type Weights, zerosLike } from './params.js';
import { buildScoreGraph, buildTrainGraph, type LossVariant, NEG_INF } from './train-graph.js';

export interface EngineOptions {
  threads: number;
  seed: number;
  optimizer: OptimizerSettings;
}

const ADAM_EPS = 1e-8;

class Cache implements KvCache {
  readonly lengths: Int32Array;
  /** Left padding of each row (masked key slots). */
  readonly pad: Int32Array;
  /** Time slots filled so far (the same for every row). */
  filled = 0;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  constructor(
    readonly batch: number,
    readonly capacity: number,
    readonly slab: number,
    layers: number,
  ) {
    this.lengths = new Int32Array(batch);
    this.pad = new Int32Array(batch);
    this.keys = Array.from({ length: layers }, () => new Float32Array(capacity * slab));
    this.values = Array.from({ length: layers }, () => new Float32Array(capacity * slab));
  }
}

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

const i64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);

class OrtEngine implements ModelEngine {
  private weights: Weights;
  private m: Weights;
  private v: Weights;
  private steps = 0;
  private readonly trainSessions = new Map<string, ort.InferenceSession>();
  private readonly scoreSessions = new Map<string, ort.InferenceSession>();
  private sampleSessions = new Map<string, Promise<ort.InferenceSession>>();
  readonly config: ModelConfig;
  readonly threads: number;

  constructor(
    config: ModelConfig,
    private readonly opts: EngineOptions,
    weights: Weights,
    m?: Weights,
    v?: Weights,
    step = 0,
  ) {
    validateModelConfig(config);
    this.config = config;
    this.threads = opts.threads;
    this.weights = weights;
    this.m = m ?? zerosLike(weights);
    this.v = v ?? zerosLike(weights);
    this.steps = step;
  }

  get step(): number {
    return this.steps;
  }

  /** Current weights (read-only view; replaced, not mutated, by each step). */
  get parameters(): ReadonlyMap<string, Float32Array> {
    return this.weights;
  }

  learningRate(step: number): number {
    const { learningRate, warmupSteps } = this.opts.optimizer;
    return warmupSteps > 0 ? learningRate * Math.min(1, step / warmupSteps) : learningRate;
  }

  private async session(cache: Map<string, ort.InferenceSession>, key: string, build: () => Uint8Array) {
    let s = cache.get(key);
    if (!s) {
      s = await ort.InferenceSession.create(build(), sessionOptions(this.threads));
      cache.set(key, s);
    }
    return s;
  }

  private paramFeeds(feeds: Record<string, ort.Tensor>, prefix: string, w: Weights): void {
    for (const s of parameterSpecs(this.config)) {
      feeds[`${prefix}${s.name}`] = new ort.Tensor('float32', w.get(s.name) as Float32Array, s.shape);
    }
  }

  private checkBatch(b: Pick<TrainBatch, 'batch' | 'time' | 'tokens' | 'targets'>): void {
    const n = b.batch * b.time;
    if (b.time > this.config.contextLength) {
      throw new RangeError(`batch time ${b.time} exceeds the context length ${this.config.contextLength}`);
    }
    if (b.tokens.length !== n || b.targets.length !== n)
      throw new RangeError('tokens/targets must hold batch * time ids');
    const V = this.config.vocabSize;
    for (let i = 0; i < n; i++) {
      const t = b.tokens[i] as number;
      const y = b.targets[i] as number;
      if (t < 0 || t >= V || y < 0 || y >= V) throw new RangeError(`token id out of range at ${i}`);
    }
  }

  async trainStep(batch: TrainBatch, withGrads = false): Promise<TrainStepStats & { grads?: Weights }> {
    this.checkBatch(batch);
    const t0 = performance.now();
    const { batch: B, time: T } = batch;
    const N = B * T;
    const variant: LossVariant = batch.oldLogprobs && batch.clipEpsilon !== undefined ? 'ppo' : 'pg';
    const o = this.opts.optimizer;
    const session = await this.session(this.trainSessions, `${B}x${T}:${variant}:${withGrads}`, () =>
      buildTrainGraph(this.config, B, T, {
        variant,
        beta1: o.beta1,
        beta2: o.beta2,
        gradClip: o.gradClip,
        withGrads,
      }),
    );
    const step = this.steps + 1;
    const lr = this.learningRate(step);
    const bc1 = 1 - o.beta1 ** step;
    const bc2 = 1 - o.beta2 ** step;
    const feeds: Record<string, ort.Tensor> = {
      tokens: i64(batch.tokens, [N]),
      targets: i64(batch.targets, [N]),
      lr_t: new ort.Tensor('float32', Float32Array.of((lr * Math.sqrt(bc2)) / bc1), []),
      eps_t: new ort.Tensor('float32', Float32Array.of(ADAM_EPS * Math.sqrt(bc2)), []),
      wd_lr: new ort.Tensor('float32', Float32Array.of(lr * o.weightDecay), []),
    };
    if (variant === 'pg') {
      const coef = new Float32Array(N);
      for (let i = 0; i < N; i++) coef[i] = (batch.weights[i] as number) * (batch.advantages[i] as number);
      feeds.coef = new ort.Tensor('float32', coef, [N]);
    } else {
      feeds.weight = new ort.Tensor('float32', batch.weights, [N]);
      feeds.advantage = new ort.Tensor('float32', batch.advantages, [N]);
      feeds.old_logprobs = new ort.Tensor('float32', batch.oldLogprobs as Float32Array, [N]);
      feeds.clip_eps = new ort.Tensor('float32', Float32Array.of(batch.clipEpsilon as number), []);
    }
    this.paramFeeds(feeds, '', this.weights);
    this.paramFeeds(feeds, 'm.', this.m);
    this.paramFeeds(feeds, 'v.', this.v);
    const out = await session.run(feeds);
    const next: Weights = new Map();
    const nm: Weights = new Map();
    const nv: Weights = new Map();
    const grads: Weights = new Map();
    for (const s of parameterSpecs(this.config)) {
      next.set(s.name, (out[`new.${s.name}`] as ort.Tensor).data as Float32Array);
      nm.set(s.name, (out[`new.m.${s.name}`] as ort.Tensor).data as Float32Array);
      nv.set(s.name, (out[`new.v.${s.name}`] as ort.Tensor).data as Float32Array);
      if (withGrads) grads.set(s.name, (out[`grad.${s.name}`] as ort.Tensor).data as Float32Array);
    }
    this.weights = next;
    this.m = nm;
    this.v = nv;
    this.steps = step;
    this.dropSampleSessions();
    const stats: TrainStepStats & { grads?: Weights } = {
      loss: ((out.loss as ort.Tensor).data as Float32Array)[0] as number,
      gradNorm: ((out.grad_norm as ort.Tensor).data as Float32Array)[0] as number,
      learningRate: lr,
      step,
      timeMs: performance.now() - t0,
    };
    if (withGrads) stats.grads = grads;
    return stats;
  }

  async logprobs(b: Pick<TrainBatch, 'batch' | 'time' | 'tokens' | 'targets'>): Promise<Float32Array> {
    this.checkBatch(b);
    const N = b.batch * b.time;
    const session = await this.session(this.scoreSessions, `${b.batch}x${b.time}`, () =>
      buildScoreGraph(this.config, b.batch, b.time),
    );
    const feeds: Record<string, ort.Tensor> = { tokens: i64(b.tokens, [N]), targets: i64(b.targets, [N]) };
    this.paramFeeds(feeds, '', this.weights);
    const out = await session.run(feeds);
    return Float32Array.from((out.logprobs as ort.Tensor).data as Float32Array);
  }

  /** The weights the sampling graphs bake in: the parameters plus the head's wte^T. */
  private bakedWeights(): ReadonlyMap<string, Float32Array> {
    const w = new Map(this.weights);
    w.set('wteT', transposeEmbedding(this.config, this.weights.get('wte') as Float32Array));
    return w;
  }

  private dropSampleSessions(): void {
    const old = this.sampleSessions;
    this.sampleSessions = new Map();
    for (const s of old.values()) void s.then((x) => x.release()).catch(() => {});
  }

  private sampleSession(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
    let s = this.sampleSessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(build(), sessionOptions(this.threads));
      this.sampleSessions.set(key, s);
    }
    return s;
  }

  newCache(batch: number): KvCache {
    const { dModel, layers, contextLength } = this.config;
    // Room for the context plus the left padding that rounds prompt lengths up to a multiple of 16.
    return new Cache(batch, contextLength + 15, batch * dModel, layers);
  }

  async prefill(kv: KvCache, tokens: Int32Array, time: number, lengths: Int32Array): Promise<Float32Array> {
    const cache = kv as Cache;
    const B = cache.batch;
    if (lengths.length !== B || tokens.length !== B * time)
      throw new RangeError('prefill: tokens must be [batch, time]');
    let longest = 0;
    for (const n of lengths) {
      if (n < 1 || n > time) throw new RangeError(`prefill: every row needs 1..${time} tokens, got ${n}`);
      longest = Math.max(longest, n);
    }
    // Pad to a multiple of 16 so a handful of sessions serve every prompt length.
    if (longest > this.config.contextLength) {
      throw new RangeError(
        `prompt of ${longest} tokens exceeds the context length ${this.config.contextLength}`,
      );
    }
    const P = Math.ceil(longest / 16) * 16;
    const tok = new Array<number>(B * P).fill(0);
    const pos = new Array<number>(B * P).fill(0);
    const mask = new Float32Array(B * P * P);
    for (let b = 0; b < B; b++) {
      const n = lengths[b] as number;
      const pad = P - n;
      cache.pad[b] = pad;
      cache.lengths[b] = n;
      for (let t = 0; t < n; t++) {
        tok[b * P + pad + t] = tokens[b * time + t] as number;
        pos[b * P + pad + t] = t;
      }
      for (let i = 0; i < P; i++) {
        for (let j = 0; j < P; j++) if (j > i || j < pad) mask[(b * P + i) * P + j] = NEG_INF;
      }
    }
    const session = await this.sampleSession(`prefill:${B}x${P}`, () =>
      buildPrefillGraph(this.config, this.bakedWeights(), B, P),
    );
    const out = await session.run({
      tokens: i64(tok, [B, P]),
      positions: i64(pos, [B, P]),
      mask: new ort.Tensor('float32', mask, [B, 1, P, P]),
    });
    for (let l = 0; l < this.config.layers; l++) {
      (cache.keys[l] as Float32Array).set((out[`k${l}`] as ort.Tensor).data as Float32Array, 0);
      (cache.values[l] as Float32Array).set((out[`v${l}`] as ort.Tensor).data as Float32Array, 0);
    }
    cache.filled = P;
    return (out.logits as ort.Tensor).data as Float32Array;
  }

  async decode(kv: KvCache, tokens: Int32Array): Promise<Float32Array> {
    const cache = kv as Cache;
    const B = cache.batch;
    const S = cache.filled;
    if (tokens.length !== B) throw new RangeError('decode: one token per row');
    if (S + 1 > cache.capacity)
      throw new RangeError(`decode: the context (${cache.capacity} tokens) is full`);
    const { layers, heads, dModel } = this.config;
    const hd = dModel / heads;
    const mask = new Float32Array(B * (S + 1));
    const pos = new Array<number>(B);
    for (let b = 0; b < B; b++) {
      pos[b] = Math.min(cache.lengths[b] as number, this.config.contextLength - 1);
      for (let j = 0; j < (cache.pad[b] as number); j++) mask[b * (S + 1) + j] = NEG_INF;
    }
    const session = await this.sampleSession(`decode:${B}`, () =>
      buildDecodeGraph(this.config, this.bakedWeights(), B),
    );
    const feeds: Record<string, ort.Tensor> = {
      token: i64(tokens, [B]),
      position: i64(pos, [B]),
      mask: new ort.Tensor('float32', mask, [B, S + 1]),
    };
    for (let l = 0; l < layers; l++) {
      // Zero-copy views of the filled prefix.
      feeds[`pk${l}`] = new ort.Tensor(
        'float32',
        (cache.keys[l] as Float32Array).subarray(0, S * cache.slab),
        [S, B, heads, hd],
      );
      feeds[`pv${l}`] = new ort.Tensor(
        'float32',
        (cache.values[l] as Float32Array).subarray(0, S * cache.slab),
        [S, B, heads, hd],
      );
    }
    const out = await session.run(feeds);
    for (let l = 0; l < layers; l++) {
      (cache.keys[l] as Float32Array).set((out[`nk${l}`] as ort.Tensor).data as Float32Array, S * cache.slab);
      (cache.values[l] as Float32Array).set(
        (out[`nv${l}`] as ort.Tensor).data as Float32Array,
        S * cache.slab,
      );
    }
    cache.filled = S + 1;
    for (let b = 0; b < B; b++) cache.lengths[b] = (cache.lengths[b] as number) + 1;
    return (out.logits as ort.Tensor).data as Float32Array;
  }

  async save(file: string): Promise<void> {
    const tensors = [];
    for (const s of parameterSpecs(this.config)) {
      tensors.push({ name: s.name, shape: s.shape, data: this.weights.get(s.name) as Float32Array });
    }
    for (const s of parameterSpecs(this.config)) {
      tensors.push({ name: `adam.m.${s.name}`, shape: s.shape, data: this.m.get(s.name) as Float32Array });
      tensors.push({ name: `adam.v.${s.name}`, shape: s.shape, data: this.v.get(s.name) as Float32Array });
    }
    writeSafetensors(file, tensors, {
      format: 'absolute-zero/1',
      config: JSON.stringify(this.config),
      optimizer: JSON.stringify(this.opts.optimizer),
      step: String(this.steps),
      seed: String(this.opts.seed),
    });
  }

  async close(): Promise<void> {
    this.dropSampleSessions();
    for (const s of [...this.trainSessions.values(), ...this.scoreSessions.values()]) await s.release();
    this.trainSessions.clear();
    this.scoreSessions.clear();
  }
}

export type OrtModelEngine = ModelEngine & {
  readonly parameters: ReadonlyMap<string, Float32Array>;
  /** The scheduled learning rate at a (1-based) optimizer step: linear warmup, then constant. */
  learningRate(step: number): number;
  trainStep(batch: TrainBatch, withGrads?: boolean): Promise<TrainStepStats & { grads?: Weights }>;
};

export async function createModelEngine(config: ModelConfig, opts: EngineOptions): Promise<OrtModelEngine> {
  return new OrtEngine(config, opts, initWeights(config, opts.seed));
}

/** Load weights, moments and step from a checkpoint; the config comes from the file. */
export async function loadModelEngine(
  file: string,
  opts: Omit<EngineOptions, 'seed' | 'optimizer'> & Partial<Pick<EngineOptions, 'optimizer'>>,
): Promise<OrtModelEngine> {
  const { tensors, metadata } = readSafetensors(file);
  if (!metadata.config)
    throw new Error(`${file}: not an absolute-zero checkpoint (no config in the metadata)`);
  const config = JSON.parse(metadata.config) as ModelConfig;
  const optimizer = opts.optimizer ?? (JSON.parse(metadata.optimizer ?? 'null') as OptimizerSettings | null);
  if (!optimizer) throw new Error(`${file}: no optimizer settings in the checkpoint`);
  const w: Weights = new Map();
  const m: Weights = new Map();
  const v: Weights = new Map();
  for (const s of parameterSpecs(config)) {
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${file}: missing tensor ${name}`);
      if (t.shape.join() !== s.shape.join())
        throw new Error(`${file}: ${name} has shape [${t.shape}], expected [${s.shape}]`);
      return t.data;
    };
    w.set(s.name, get(s.name));
    m.set(
      s.name,
      tensors.has(`adam.m.${s.name}`) ? get(`adam.m.${s.name}`) : new Float32Array(get(s.name).length),
    );
    v.set(
      s.name,
      tensors.has(`adam.v.${s.name}`) ? get(`adam.v.${s.name}`) : new Float32Array(get(s.name).length),
    );
  }
  return new OrtEngine(
    config,
    { threads: opts.threads, seed: Number(metadata.seed ?? 0), optimizer },
    w,
    m,
    v,
    Number(metadata.step ?? 0),
  );
}
