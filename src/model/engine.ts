// The model engine: the ModelEngine contract of engine-types.ts over ONNX Runtime. Weights and AdamW
// moments live on the TypeScript side as Float32Arrays; the graphs of train-graph.ts and decode-graph.ts
// do the arithmetic.
//
// Usage:
//   const engine = await createModelEngine(config, { threads: 2, seed: 1, optimizer });
//   const stats = await engine.trainStep(batch);   // TrainBatch from src/rl/objective.ts packTrainBatch
//   const cache = engine.newCache(rows);
//   let logits = await engine.prefill(cache, tokens, time, lengths);   // [rows, V]
//   logits = await engine.decode(cache, nextTokens);                   // [rows, V], repeat
//   await engine.save(file); const again = await loadModelEngine(file, { threads: 2 });
//
// Tensor layouts: every parameter is row-major with the shape of config.ts parameterSpecs (linear weights
// [in, out]); batches are [batch, time] row-major; logits [rows, vocab].
//
// Sessions: in least-recently-used caches of bounded size (session-cache.ts). Sampling sessions run without
// ONNX Runtime's CPU memory arena (measured with the small preset over 13 batch sizes: 0.64 GB instead of
// 1.9 GB, and 1.5x faster); training sessions keep it (without it, chunked updates were no smaller and no
// faster: 11.4-13.7 s of CPU time per self-play update against 10.2-13.6 s, on a busy machine).
//
// Training: a step is one or more runs of the gradient graph over row chunks of the batch, which add
// their gradients into running sums, then one run of the optimizer graph (clipping, AdamW) over the sums.
// The gradient graph takes any batch shape, so one session per (loss variant, masked or not) serves every
// chunk, and its arena holds the memory of the largest chunk once. A chunk holds at most 2,048 rows x
// time (`chunkTokens`), and each row is cut after its last weighted position (trainChunks). Rows may
// carry positions and attention segments (TrainBatch), so that sequences sharing a prompt ride in one
// row. Before this,
// one session per (batch, time) shape ran the whole step, and each shape's arena kept the peak of its
// largest run: measured on a self-play update of the small preset (16 rows of up to 512 tokens), 3.9-4.7
// GB resident for the four training lengths against 0.5 GB chunked, and 12-13 s of CPU time per update
// against 8.4-9 s (rows are no longer padded to a multiple of 128, nor filler rows computed). The sums
// over chunks change the floating-point order of the gradient's sum, so a step's numbers match the
// single-run step to rounding (loss to about 1e-5 relative), not bit for bit. A batch with `allowed` is
// scored under the sampler's vocabulary masks (train-graph.ts), so its loss and gradient are those of the
// distribution the tokens were drawn from. Learning rate: linear warmup over
// `optimizer.warmupSteps`, then constant, or cosine decay to `minRatio * lr` at `totalSteps` when
// `schedule` says so. AdamW with bias correction; weight decay (decoupled) on the matrices and both
// embeddings, not on biases or LayerNorm parameters. Gradients are clipped to a global L2 norm.
// The optimizer writes its outputs into preallocated buffers (two sets of weights and moments, swapped
// each step), and the gradient runs into two preallocated sets of sums.
//
// Sampling: one prefill and one decode session, their batch, prompt length and cache capacity symbolic
// (measured: no slower per step than graphs built for one batch size, and a batch that shrinks as rows
// finish needs no new session). The weights are baked in as initializers (default; both sessions are
// rebuilt lazily after an update) or fed as graph inputs (`sampleWeights: 'inputs'`, no rebuild).
// Measured with the small preset on a quiet machine, best of 300 interleaved runs: a decode step at
// batch 32 / 64 and 128 cached slots takes 2.03 / 3.24 ms baked and 2.38 / 3.63 ms fed (likely because
// ONNX Runtime prepacks only constant matrix operands); a rebuild of both sessions
// costs about 0.1 s (small) and 0.6 s (medium), paid back within a few hundred decode steps, which
// every self-play iteration takes many times over.
//
// Prefill in row chunks: one run over the whole batch builds attention scores of [B, H, P, P] floats
// (150 MB per layer at B 64, P 384) and other intermediates of tens of MB, and without the arena each is
// fresh memory from the system, paid page by page. Rows go through in chunks whose scores stay under
// 4 MiB, small enough for the allocator to reuse its memory. Measured, small preset, B 64, P 256, quiet
// machine: 1.1-1.9 s per prefill for the whole batch at once (peak 1.0 GB), 0.32-0.50 s in chunks
// (peak 0.45 GB); the arena on top of chunks gained nothing more (0.33-0.40 s). Rows with the same
// prompt (a request's n samples: the loop's learnability rollouts) are computed once and copied, and each
// chunk, longest rows first, is padded only to its own longest row and written at the end of the batch's
// slots: the self-play proposer batch mixes prompts of 90 to 340 tokens. Replaying a self-play
// iteration's sampling (seed 3, iteration 4; 26k prompt tokens of which 7k repeated): prefill 1.5 s
// instead of 4.0-4.5 s on a busy machine; the same tokens are sampled, and log-probabilities differ in
// the last bits (the attention sums run over fewer padding slots).
//
// KV cache: per layer a head-major [rows, H, C, hd] buffer for keys and one for values, C a capacity
// that grows in blocks of 64 slots up to the context (see decode-graph.ts for why not time-major). The
// backing stores are sized for the whole context from the start and grown in place, and a freed cache's
// stores serve the next cache of at most its batch size (the largest freed cache is kept, so a run
// holds one set for its largest batch instead of one per batch size met): on this machine the first write to fresh memory
// costs about 16 us per 4 KiB page, and allocating a bigger cache at each growth step cost 10% of the
// sampling benchmark's time. keepRows drops finished rows by moving the survivors down in place.
// Prompts are left-padded to a common length so every decode step writes the same slot for all rows;
// padding is masked out as keys, and positions count from each row's first real token.
import * as ort from 'onnxruntime-node';
import { Rng, type RngState } from '../util/rng.js';
import { readSafetensors, writeSafetensors } from './checkpoint.js';
import {
  type GptConfig,
  headDimOf,
  isLlama,
  kvHeadsOf,
  type LlamaConfig,
  type LoraSettings,
  loraParameterSpecs,
  type ModelConfig,
  type ParamSpec,
  parameterSpecs,
  validateLora,
  validateModelConfig,
} from './config.js';
import { buildDecodeGraph, buildPrefillGraph, transposeEmbedding } from './decode-graph.js';
import type { KvCache, ModelEngine, OptimizerSettings, TrainBatch, TrainStepStats } from './engine-types.js';
import { initParameters, initWeights, type Weights, zerosLike } from './params.js';
import { SessionCache } from './session-cache.js';
import {
  buildAdamwGraph,
  buildGradGraph,
  buildLlamaGradGraph,
  buildLlamaScoreGraph,
  buildMergeGraph,
  buildScoreGraph,
  isDecayed,
  isDecayedAdapter,
  type LossVariant,
  NEG_INF,
} from './train-graph.js';

export interface LrSchedule {
  kind: 'constant' | 'cosine';
  /** cosine: the step at which the rate reaches its minimum (and stays). */
  totalSteps?: number;
  /** cosine: the minimum as a fraction of the peak rate. */
  minRatio?: number;
}

export interface EngineOptions {
  threads: number;
  seed: number;
  optimizer: OptimizerSettings;
  /** After warmup: constant (default) or cosine decay. */
  schedule?: LrSchedule;
  /** How the sampling graphs get the weights (default 'baked'); see the top of this file. */
  sampleWeights?: 'inputs' | 'baked';
  /**
   * Largest attention-score tensor [rows, H, P, P] one prefill run may build, in bytes; a larger batch is
   * prefilled in row chunks (default 4 MiB; see the top of this file).
   */
  prefillScoreBytes?: number;
  /** Most rows x time of one gradient run (default 2048; see the top of this file). */
  chunkTokens?: number;
  /** Llama family: train these low-rank adapters on the frozen model (without, the engine only samples). */
  lora?: LoraSettings;
}

const ADAM_EPS = 1e-8;
/** Prompts are padded to a multiple of this, so a handful of prefill sessions serve every length. */
const PROMPT_BLOCK = 16;
/** Largest attention-score tensor one prefill run may build; a larger batch is prefilled in row chunks. */
const PREFILL_SCORE_BYTES = 4 * 2 ** 20;
/** Gradient sessions kept alive (one per loss variant and masking; a run uses one). */
const GRAD_SESSIONS = 2;
/** Scoring sessions kept alive (masked and full). */
const SCORE_SESSIONS = 2;
/** Most rows x time of one gradient run; a batch is split into row chunks (see the top of this file). */
const CHUNK_TOKENS = 2048;
/** Chunk lengths are multiples of this. */
const TIME_BLOCK = 16;
/** Sampling sessions kept alive: the prefill and the decode graph (symbolic shapes). */
const SAMPLE_SESSIONS = 2;
/** The KV cache grows by this many slots at a time. */
const CACHE_BLOCK = 64;

/**
 * The engine's ONNX Runtime session settings (exported so that bench:profile runs a graph the way the
 * engine does). `arena`: the CPU memory arena (training sessions keep it, sampling ones do not; see the
 * top of this file); `memPattern`: off for graphs with symbolic dimensions.
 */
export function sessionOptions(
  threads: number,
  arena = true,
  memPattern = true,
): ort.InferenceSession.SessionOptions {
  return {
    enableCpuMemArena: arena,
    enableMemPattern: memPattern,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

/** One gradient run of a training step: batch rows (in run order) and the length they are cut to. */
export interface TrainChunk {
  rows: number[];
  time: number;
}

/**
 * How a training step splits its batch. A row's length is its last position with a nonzero weight and
 * advantage, plus one: later positions add nothing to the loss, and under the causal mask nothing to the
 * earlier ones, so they are cut; a row without such a position is left out. Rows go longest first, each
 * chunk as long as its longest row (rounded up to TIME_BLOCK, at most the batch's time) and holding as many
 * rows as fit in `budget` rows x time (at least one).
 */
export function trainChunks(
  b: Pick<TrainBatch, 'batch' | 'time' | 'weights' | 'advantages'>,
  budget: number,
): TrainChunk[] {
  const lengths: { row: number; length: number }[] = [];
  for (let r = 0; r < b.batch; r++) {
    let length = 0;
    for (let t = b.time - 1; t >= 0 && length === 0; t--)
      if (b.weights[r * b.time + t] !== 0 && b.advantages[r * b.time + t] !== 0) length = t + 1;
    if (length > 0) lengths.push({ row: r, length });
  }
  lengths.sort((x, y) => y.length - x.length || x.row - y.row);
  const chunks: TrainChunk[] = [];
  for (let i = 0; i < lengths.length; ) {
    const time = Math.min(b.time, Math.ceil((lengths[i]?.length as number) / TIME_BLOCK) * TIME_BLOCK);
    const take = Math.max(1, Math.floor(budget / time));
    chunks.push({ rows: lengths.slice(i, i + take).map((x) => x.row), time });
    i += take;
  }
  return chunks;
}

class Cache implements KvCache {
  lengths: Int32Array;
  /** Left padding of each row (masked key slots). */
  pad: Int32Array;
  /** Slots filled so far (the same for every row). */
  filled = 0;
  /** Slots allocated per (row, head). */
  capacity = 0;
  /** Per layer, keys and values: views of the current capacity over buffers sized for the largest. */
  keys: Float32Array[] = [];
  values: Float32Array[] = [];
  constructor(
    public batch: number,
    readonly heads: number,
    readonly headDim: number,
    readonly layers: number,
    /** The most slots a row can need: the context plus the prompt padding. */
    readonly maxCapacity: number,
    /** Backing stores, 2 * layers of them, each large enough for maxCapacity slots. */
    readonly buffers: ArrayBuffer[],
  ) {
    this.lengths = new Int32Array(batch);
    this.pad = new Int32Array(batch);
  }

  /** Bytes of one backing store. */
  static bufferBytes(batch: number, heads: number, headDim: number, maxCapacity: number): number {
    return batch * heads * maxCapacity * headDim * Float32Array.BYTES_PER_ELEMENT;
  }

  /**
   * Make room for at least `slots` per row, keeping the filled prefix. Growing moves each (row, head)'s
   * filled slots to its new offset inside the same buffer, last row first (a row's new offset is never
   * below its old one, so nothing is overwritten before it is moved), and zeroes the slots it opens:
   * no allocation, and untouched pages of the large buffers are never mapped in.
   */
  reserve(slots: number): void {
    if (slots <= this.capacity) return;
    if (slots > this.maxCapacity) throw new RangeError(`the cache (${this.maxCapacity} slots) is full`);
    const cap = Math.min(this.maxCapacity, Math.ceil(slots / CACHE_BLOCK) * CACHE_BLOCK);
    const rows = this.batch * this.heads;
    const hd = this.headDim;
    const old = this.capacity;
    const grow = (buffer: ArrayBuffer) => {
      const a = new Float32Array(buffer, 0, rows * cap * hd);
      for (let r = rows - 1; r >= 0; r--) {
        if (r > 0 && old > 0) a.copyWithin(r * cap * hd, r * old * hd, (r * old + this.filled) * hd);
        a.fill(0, (r * cap + this.filled) * hd, (r + 1) * cap * hd);
      }
      return a;
    };
    const views = this.buffers.map(grow);
    this.keys = views.slice(0, this.layers);
    this.values = views.slice(this.layers);
    this.capacity = cap;
  }

  /** Keep only the rows `keep` (ascending), moved down in place: row keep[i] becomes row i. */
  keepRows(keep: readonly number[]): void {
    const block = this.heads * this.capacity * this.headDim;
    const move = (a: Float32Array) => {
      keep.forEach((b, i) => {
        if (b !== i) a.copyWithin(i * block, b * block, (b + 1) * block);
      });
      return a.subarray(0, keep.length * block);
    };
    this.keys = this.keys.map(move);
    this.values = this.values.map(move);
    this.lengths = Int32Array.from(keep, (b) => this.lengths[b] as number);
    this.pad = Int32Array.from(keep, (b) => this.pad[b] as number);
    this.batch = keep.length;
  }

  /** Write row `r` of `src` [rows, H, count, hd] into cache row `b` of `dst` (a layer's keys or values) at slot `at`. */
  writeRow(dst: Float32Array, src: Float32Array, r: number, count: number, b: number, at: number): void {
    const n = count * this.headDim;
    for (let h = 0; h < this.heads; h++) {
      const from = (r * this.heads + h) * n;
      dst.set(src.subarray(from, from + n), ((b * this.heads + h) * this.capacity + at) * this.headDim);
    }
  }

  /** Copy the first `slots` slots of cache row `from` to row `to`, every layer's keys and values. */
  copyRow(from: number, to: number, slots: number): void {
    const block = this.capacity * this.headDim;
    const n = slots * this.headDim;
    for (const a of [...this.keys, ...this.values])
      for (let h = 0; h < this.heads; h++) {
        const src = (from * this.heads + h) * block;
        a.copyWithin((to * this.heads + h) * block, src, src + n);
      }
  }

  /**
   * Write `count` slots from `src` [rows, H, count, hd] at slot `at` of layer l's keys or values, for
   * cache rows `first` .. `first + rows - 1` (default: all of them).
   */
  write(dst: Float32Array, src: Float32Array, at: number, count: number, first = 0, rows = this.batch): void {
    const hd = this.headDim;
    const n = count * hd;
    const r0 = first * this.heads;
    for (let r = 0; r < rows * this.heads; r++) {
      const to = ((r0 + r) * this.capacity + at) * hd;
      // A decode step writes one slot (hd floats) per row and head: a plain loop, no subarray per copy.
      if (n <= 64) for (let i = 0; i < n; i++) dst[to + i] = src[r * n + i] as number;
      else dst.set(src.subarray(r * n, (r + 1) * n), to);
    }
  }
}

/** The engine's own cache, refused once freed. */
function liveCache(kv: KvCache): Cache {
  const cache = kv as Cache;
  if (!(cache instanceof Cache)) throw new TypeError('not a cache of this engine (use engine.newCache)');
  if (cache.capacity < 0) throw new Error('this cache was freed (engine.freeCache); take a new one');
  return cache;
}

const i64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);

const f32 = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

/** The training state that a step replaces as a whole: weights and both moments. */
interface State {
  w: Weights;
  m: Weights;
  v: Weights;
}

class OrtEngine implements ModelEngine {
  private state: State;
  /** Buffers the next step writes into (then the two sets swap); null until the first step. */
  private spare: State | null = null;
  private steps: number;
  /** The parameters a step trains: all of the GPT's, or a Llama-family model's LoRA adapters. */
  private readonly specs: ParamSpec[];
  /** A Llama-family model's frozen weights (empty for the GPT, whose weights all train). */
  private readonly base: Weights;
  /** The adapters a Llama-family model trains (undefined: the GPT, or a model that only samples). */
  readonly lora: LoraSettings | undefined;
  /**
   * Sampling's copies of the adapted modules' weights with their adapters merged in (W + scale A B), in
   * buffers reused across steps; null while the adapters are unchanged since the base (B = 0), stale after
   * a step until sampling next needs them.
   */
  private merged: Weights | null = null;
  private mergedStale = false;
  /** Gradient graphs by loss variant and masking (symbolic shapes: one session serves every chunk). */
  private readonly gradSessions = new SessionCache(GRAD_SESSIONS);
  /** The optimizer graph, and for LoRA the adapter-merging graph. */
  private readonly optimizerSessions = new SessionCache(2);
  private readonly scoreSessions = new SessionCache(SCORE_SESSIONS);
  /** Two sets of gradient sums, written alternately by a step's chunks; null until the first step. */
  private gradSums: [Weights, Weights] | null = null;
  private readonly sampleSessions = new SessionCache(SAMPLE_SESSIONS);
  /** Sampling graphs carry the weights as initializers (rebuilt after an update) unless told 'inputs'. */
  private get bakedSampling(): boolean {
    return !isLlama(this.config) && this.opts.sampleWeights !== 'inputs';
  }
  /** Backing stores of the largest freed cache, for the next cache of at most its batch size. */
  private spareCache: ArrayBuffer[] | null = null;
  /** Weight feeds of the sampling graphs for the current step (with wte^T), built on first use. */
  private sampleFeeds: Record<string, ort.Tensor> | null = null;
  readonly config: ModelConfig;
  readonly threads: number;
  /** The engine's random stream (for callers that sample); saved in checkpoints. */
  readonly rng: Rng;

  /**
   * `weights`: the GPT's (all trained), or a Llama-family model's frozen base, whose trained parameters are
   * the adapters `opts.lora` describes: `adapters` when resumed, fresh ones (seeded) otherwise.
   */
  constructor(
    config: ModelConfig,
    private readonly opts: EngineOptions,
    weights: Weights,
    restored?: { w?: Weights; m: Weights; v: Weights; step: number; rng: RngState },
  ) {
    validateModelConfig(config);
    if (!Number.isInteger(opts.threads) || opts.threads < 1)
      throw new RangeError(`threads must be a positive integer, got ${opts.threads}`);
    this.config = config;
    this.threads = opts.threads;
    let trained = weights;
    if (isLlama(config)) {
      this.base = weights;
      this.lora = opts.lora;
      if (this.lora) validateLora(this.lora);
      this.specs = this.lora ? loraParameterSpecs(config, this.lora) : [];
      trained = restored?.w ?? initParameters(this.specs, config.layers, opts.seed);
      // Adapters that are not all zero in B change the model: sampling needs them merged.
      this.mergedStale = [...trained].some(([n, a]) => n.endsWith('.lora_B') && a.some((x) => x !== 0));
    } else {
      this.base = new Map();
      this.lora = undefined;
      this.specs = parameterSpecs(config);
    }
    this.state = {
      w: trained,
      m: restored?.m ?? zerosLike(trained),
      v: restored?.v ?? zerosLike(trained),
    };
    this.steps = restored?.step ?? 0;
    this.rng = new Rng(restored?.rng ?? opts.seed);
  }

  get step(): number {
    return this.steps;
  }

  /**
   * The trained parameters (the GPT's weights, or the adapters). Callers may read them and, in tests,
   * perturb them in place before a step (then call `parametersChanged`).
   */
  get parameters(): ReadonlyMap<string, Float32Array> {
    return this.state.w;
  }

  /** A Llama-family model's frozen weights (empty for the GPT). */
  get baseWeights(): ReadonlyMap<string, Float32Array> {
    return this.base;
  }

  /** Sampling must see parameters changed in place. */
  parametersChanged(): void {
    this.weightsChanged();
  }

  /** The scheduled learning rate at a (1-based) optimizer step. */
  learningRate(step: number): number {
    const { learningRate: lr, warmupSteps } = this.opts.optimizer;
    if (warmupSteps > 0 && step < warmupSteps) return (lr * step) / warmupSteps;
    const s = this.opts.schedule;
    if (!s || s.kind === 'constant') return lr;
    const total = s.totalSteps ?? 0;
    const min = lr * (s.minRatio ?? 0);
    if (total <= warmupSteps) return lr;
    const progress = Math.min(1, (step - warmupSteps) / (total - warmupSteps));
    return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
  }

  private sessionOptions(arena = true, memPattern = true): ort.InferenceSession.SessionOptions {
    return sessionOptions(this.threads, arena, memPattern);
  }

  /**
   * Creates a training, optimizer or scoring session (the graph is built only when the cache has none);
   * `fixedShapes` false for graphs with symbolic dimensions, which run without a memory pattern.
   */
  private create(build: () => Uint8Array, fixedShapes = true): () => Promise<ort.InferenceSession> {
    return () => ort.InferenceSession.create(build(), this.sessionOptions(true, fixedShapes));
  }

  private paramTensors(out: Record<string, ort.Tensor>, prefix: string, w: Weights): void {
    for (const s of this.specs) out[`${prefix}${s.name}`] = f32(w.get(s.name) as Float32Array, s.shape);
  }

  /** The frozen base weights, as inputs of a Llama-family graph. */
  private baseTensors(out: Record<string, ort.Tensor>): void {
    for (const s of parameterSpecs(this.config))
      out[s.name] = f32(this.base.get(s.name) as Float32Array, s.shape);
  }

  private checkBatch(
    b: Pick<TrainBatch, 'batch' | 'time' | 'tokens' | 'targets' | 'allowed' | 'positions' | 'segments'>,
  ): void {
    const n = b.batch * b.time;
    if (!Number.isInteger(b.batch) || !Number.isInteger(b.time) || b.batch < 1 || b.time < 1)
      throw new RangeError(`batch and time must be positive integers, got ${b.batch} x ${b.time}`);
    if (b.time > this.config.contextLength)
      throw new RangeError(`batch time ${b.time} exceeds the context length ${this.config.contextLength}`);
    if (b.tokens.length !== n || b.targets.length !== n)
      throw new RangeError('tokens/targets must hold batch * time ids');
    const V = this.config.vocabSize;
    for (let i = 0; i < n; i++) {
      const t = b.tokens[i] as number;
      const y = b.targets[i] as number;
      if (t < 0 || t >= V || y < 0 || y >= V) throw new RangeError(`token id out of range at ${i}`);
    }
    const ctx = this.config.contextLength;
    if (b.positions) {
      if (b.positions.length !== n) throw new RangeError('positions must hold batch * time values');
      for (const p of b.positions)
        if (!Number.isInteger(p) || p < 0 || p >= ctx)
          throw new RangeError(`position ${p} is outside the context (0..${ctx - 1})`);
    }
    if (b.segments) {
      if (b.segments.length !== n) throw new RangeError('segments must hold batch * time values');
      for (const x of b.segments)
        if (!Number.isInteger(x) || x < 0)
          throw new RangeError(`segment ${x} must be a non-negative integer`);
    }
    if (b.allowed) {
      if (b.allowed.length !== n * V)
        throw new RangeError(
          `allowed must hold batch * time * vocab = ${n * V} flags, got ${b.allowed.length}`,
        );
      // A masked-out target would score about -1e9: a bug upstream, not a gradient to follow.
      for (let i = 0; i < n; i++)
        if (!b.allowed[i * V + (b.targets[i] as number)])
          throw new RangeError(`target ${b.targets[i]} at position ${i} is not allowed by its mask`);
    }
  }

  /** What a training or scoring graph needs: a GPT, or a Llama-family model (with adapters, to train). */
  private trainable(what: string, needAdapters: boolean): void {
    const c = this.config;
    if (isLlama(c) && needAdapters && !this.lora)
      throw new Error(
        `${what}: this ${c.family} model has no LoRA adapters to train (set lora in its settings)`,
      );
  }

  /** The graph a gradient or scoring run uses, and the key its session is cached under. */
  private trainGraph(
    kind: 'grad' | 'score',
    variant: LossVariant,
    masked: boolean,
  ): [string, () => Uint8Array] {
    const c = this.config;
    const key = `${kind}:${variant}:${masked ? 'masked' : 'full'}`;
    if (isLlama(c))
      return [
        key,
        kind === 'grad'
          ? () => buildLlamaGradGraph(c, this.lora as LoraSettings, { variant, masked })
          : () => buildLlamaScoreGraph(c, this.lora, masked),
      ];
    return [
      key,
      kind === 'grad' ? () => buildGradGraph(c, { variant, masked }) : () => buildScoreGraph(c, masked),
    ];
  }

  /**
   * The row and loss feeds of one run over `rows` of `batch`, cut to `Tc` positions. `picked` selects the
   * positions whose loss the run computes: the GPT's graphs compute every position (weight-0 ones add
   * nothing); a Llama-family graph takes the picked positions' flat indices (`pick`) and only those reach
   * its head. `loss` adds the loss inputs of `variant`.
   */
  private rowFeeds(
    batch: Pick<TrainBatch, 'time' | 'tokens' | 'targets' | 'allowed' | 'positions' | 'segments'> &
      Partial<Pick<TrainBatch, 'weights' | 'advantages' | 'oldLogprobs' | 'clipEpsilon'>>,
    rows: readonly number[],
    Tc: number,
    picked: ((flat: number) => boolean) | null,
    variant?: LossVariant,
  ): { feeds: Record<string, ort.Tensor>; picks: number[] } {
    const T = batch.time;
    const V = this.config.vocabSize;
    const n = rows.length * Tc;
    const tokens = new BigInt64Array(n);
    const positions = new BigInt64Array(n);
    const segments = new BigInt64Array(n);
    // Source index (b * T + t) of every computed position, in the order the loss inputs list them.
    const picks: number[] = [];
    const sources: number[] = [];
    rows.forEach((b, r) => {
      for (let t = 0; t < Tc; t++) {
        const src = b * T + t;
        tokens[r * Tc + t] = BigInt(batch.tokens[src] as number);
        positions[r * Tc + t] = BigInt(batch.positions ? (batch.positions[src] as number) : t);
        if (batch.segments) segments[r * Tc + t] = BigInt(batch.segments[src] as number);
        if (!picked || picked(src)) {
          picks.push(r * Tc + t);
          sources.push(src);
        }
      }
    });
    const m = sources.length;
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor('int64', tokens, [rows.length, Tc]),
      positions: new ort.Tensor('int64', positions, [rows.length, Tc]),
      segments: new ort.Tensor('int64', segments, [rows.length, Tc]),
      targets: i64(
        sources.map((i) => batch.targets[i] as number),
        [m],
      ),
    };
    if (picked) feeds.pick = i64(picks, [m]);
    if (batch.allowed) {
      const allowed = new Uint8Array(m * V);
      const all = batch.allowed;
      sources.forEach((src, j) => {
        allowed.set(all.subarray(src * V, (src + 1) * V), j * V);
      });
      feeds.allowed = new ort.Tensor('uint8', allowed, [m, V]);
    }
    const at = (a: Float32Array) => Float32Array.from(sources, (i) => a[i] as number);
    if (variant === 'pg') {
      const w = batch.weights as Float32Array;
      const adv = batch.advantages as Float32Array;
      feeds.coef = f32(
        Float32Array.from(sources, (i) => (w[i] as number) * (adv[i] as number)),
        [m],
      );
    } else if (variant === 'ppo') {
      feeds.weight = f32(at(batch.weights as Float32Array), [m]);
      feeds.advantage = f32(at(batch.advantages as Float32Array), [m]);
      feeds.old_logprobs = f32(at(batch.oldLogprobs as Float32Array), [m]);
      feeds.clip_eps = f32(Float32Array.of(batch.clipEpsilon as number), []);
    }
    return { feeds, picks: sources };
  }

  async trainStep(batch: TrainBatch, withGrads = false): Promise<TrainStepStats & { grads?: Weights }> {
    this.trainable('trainStep', true);
    this.checkBatch(batch);
    const t0 = performance.now();
    const N = batch.batch * batch.time;
    if (batch.advantages.length !== N || batch.weights.length !== N)
      throw new RangeError('advantages/weights must hold batch * time values');
    const variant: LossVariant = batch.oldLogprobs && batch.clipEpsilon !== undefined ? 'ppo' : 'pg';
    if (variant === 'ppo' && (batch.oldLogprobs as Float32Array).length !== N)
      throw new RangeError('oldLogprobs must hold batch * time values');
    const o = this.opts.optimizer;
    const masked = batch.allowed !== undefined;
    const cur = this.state;
    const llama = isLlama(this.config);
    // Positions the loss reads (the Llama family computes its head only there).
    const weighted = llama
      ? (i: number) => batch.weights[i] !== 0 && (variant === 'ppo' || batch.advantages[i] !== 0)
      : null;

    // Gradient sums over row chunks (see the top of this file), ping-ponging between two buffers.
    this.gradSums ??= [zerosLike(cur.w), zerosLike(cur.w)];
    const sums = this.gradSums;
    for (const a of sums[0].values()) a.fill(0);
    let acc = 0;
    let loss = 0;
    const [key, build] = this.trainGraph('grad', variant, masked);
    for (const chunk of trainChunks(batch, this.opts.chunkTokens ?? CHUNK_TOKENS)) {
      const { feeds } = this.rowFeeds(batch, chunk.rows, chunk.time, weighted, variant);
      if (llama) this.baseTensors(feeds);
      this.paramTensors(feeds, '', cur.w);
      this.paramTensors(feeds, 'acc.', sums[acc] as Weights);
      const fetches: Record<string, ort.Tensor | null> = { loss: null };
      this.paramTensors(fetches as Record<string, ort.Tensor>, 'sum.', sums[1 - acc] as Weights);
      const out = await this.gradSessions.run(
        key,
        this.create(build, false),
        feeds,
        fetches as ort.InferenceSession.FetchesType,
      );
      loss += ((out.loss as ort.Tensor).data as Float32Array)[0] as number;
      acc = 1 - acc;
    }
    const grads = sums[acc] as Weights;

    const step = this.steps + 1;
    const lr = this.learningRate(step);
    const bc1 = 1 - o.beta1 ** step;
    const bc2 = 1 - o.beta2 ** step;
    const feeds: Record<string, ort.Tensor> = {
      lr_t: f32(Float32Array.of((lr * Math.sqrt(bc2)) / bc1), []),
      eps_t: f32(Float32Array.of(ADAM_EPS * Math.sqrt(bc2)), []),
      wd_lr: f32(Float32Array.of(lr * o.weightDecay), []),
    };
    this.paramTensors(feeds, '', cur.w);
    this.paramTensors(feeds, 'm.', cur.m);
    this.paramTensors(feeds, 'v.', cur.v);
    this.paramTensors(feeds, 'grad.', grads);
    // Preallocated outputs: ONNX Runtime writes the new state straight into the spare buffers.
    const next = this.spare ?? { w: zerosLike(cur.w), m: zerosLike(cur.w), v: zerosLike(cur.w) };
    const fetches: Record<string, ort.Tensor | null> = { grad_norm: null };
    this.paramTensors(fetches as Record<string, ort.Tensor>, 'new.', next.w);
    this.paramTensors(fetches as Record<string, ort.Tensor>, 'new.m.', next.m);
    this.paramTensors(fetches as Record<string, ort.Tensor>, 'new.v.', next.v);
    const out = await this.optimizerSessions.run(
      'adamw',
      this.create(() =>
        buildAdamwGraph(this.specs, llama ? isDecayedAdapter : isDecayed, {
          beta1: o.beta1,
          beta2: o.beta2,
          gradClip: o.gradClip,
        }),
      ),
      feeds,
      fetches as ort.InferenceSession.FetchesType,
    );
    this.spare = cur;
    this.state = next;
    this.steps = step;
    this.weightsChanged();
    const stats: TrainStepStats & { grads?: Weights } = {
      loss,
      gradNorm: ((out.grad_norm as ort.Tensor).data as Float32Array)[0] as number,
      learningRate: lr,
      step,
      timeMs: performance.now() - t0,
    };
    if (withGrads) stats.grads = new Map([...grads].map(([k, a]) => [k, Float32Array.from(a)]));
    return stats;
  }

  async logprobs(
    b: Pick<TrainBatch, 'batch' | 'time' | 'tokens' | 'targets' | 'allowed' | 'positions' | 'segments'>,
  ): Promise<Float32Array> {
    this.trainable('logprobs', false);
    this.checkBatch(b);
    const llama = isLlama(this.config);
    const out = new Float32Array(b.batch * b.time);
    const [key, build] = this.trainGraph('score', 'pg', b.allowed !== undefined);
    // The Llama family computes the head at every position here: rows go in chunks that bound its
    // [positions, vocab] tensors.
    const rowsPerRun = llama
      ? Math.max(1, Math.floor((this.opts.chunkTokens ?? CHUNK_TOKENS) / 4 / b.time))
      : b.batch;
    for (let first = 0; first < b.batch; first += rowsPerRun) {
      const rows = Array.from({ length: Math.min(rowsPerRun, b.batch - first) }, (_, i) => first + i);
      const { feeds, picks } = this.rowFeeds(b, rows, b.time, llama ? () => true : null);
      if (llama) this.baseTensors(feeds);
      this.paramTensors(feeds, '', this.state.w);
      const res = await this.scoreSessions.run(key, this.create(build, false), feeds);
      const lp = (res.logprobs as ort.Tensor).data as Float32Array;
      picks.forEach((src, j) => {
        out[src] = lp[j] as number;
      });
    }
    return out;
  }

  /** Sampling must see new weights: drop baked sessions, the cached weight feeds and merged adapters. */
  private weightsChanged(): void {
    this.sampleFeeds = null;
    if (isLlama(this.config)) this.mergedStale = this.lora !== undefined;
    if (!this.bakedSampling) return;
    void this.sampleSessions.clear();
  }

  /**
   * The adapted modules' weights with the adapters merged in, W + (alpha / r) A B, computed by one ONNX
   * Runtime run straight into buffers kept from the previous step (merging costs one pass over the
   * adapted weights per step; decoding then runs at the base model's speed, with no adapter products).
   */
  private async mergeAdapters(): Promise<void> {
    const c = this.config as LlamaConfig;
    const lora = this.lora as LoraSettings;
    const modules = this.specs
      .filter((s) => s.name.endsWith('.lora_A'))
      .map((s) => s.name.slice(0, -'.lora_A'.length));
    const shapes = new Map(parameterSpecs(c).map((s) => [s.name, s.shape]));
    this.merged ??= new Map(
      modules.map((m) => [
        `${m}.weight`,
        new Float32Array((this.base.get(`${m}.weight`) as Float32Array).length),
      ]),
    );
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor> = {};
    for (const m of modules) {
      const w = `${m}.weight`;
      feeds[w] = f32(this.base.get(w) as Float32Array, shapes.get(w) as number[]);
      feeds[`${m}.lora_A`] = f32(
        this.state.w.get(`${m}.lora_A`) as Float32Array,
        shapes.get(w)?.slice(0, 1).concat(lora.rank) as number[],
      );
      feeds[`${m}.lora_B`] = f32(this.state.w.get(`${m}.lora_B`) as Float32Array, [
        lora.rank,
        shapes.get(w)?.[1] as number,
      ]);
      fetches[`merged.${w}`] = f32(this.merged.get(w) as Float32Array, shapes.get(w) as number[]);
    }
    await this.optimizerSessions.run(
      'merge',
      this.create(() => buildMergeGraph(c, lora)),
      feeds,
      fetches as ort.InferenceSession.FetchesType,
    );
    this.mergedStale = false;
  }

  private samplingWeights(): Map<string, Float32Array> {
    if (isLlama(this.config)) {
      const w = new Map(this.base);
      if (this.merged && this.lora) for (const [k, a] of this.merged) w.set(k, a);
      return w;
    }
    const w = new Map(this.state.w);
    w.set('wteT', transposeEmbedding(this.config, this.state.w.get('wte') as Float32Array));
    return w;
  }

  /** The weight inputs of a sampling graph (empty when the weights are baked in). */
  private async weightFeeds(): Promise<Record<string, ort.Tensor>> {
    if (this.bakedSampling) return {};
    if (this.mergedStale) {
      await this.mergeAdapters();
      this.sampleFeeds = null;
    }
    if (!this.sampleFeeds) {
      const w = this.samplingWeights();
      const feeds: Record<string, ort.Tensor> = {};
      for (const s of parameterSpecs(this.config))
        feeds[s.name] = f32(w.get(s.name) as Float32Array, s.shape);
      if (!isLlama(this.config))
        feeds.wteT = f32(w.get('wteT') as Float32Array, [this.config.dModel, this.config.vocabSize]);
      this.sampleFeeds = feeds;
    }
    return { ...this.sampleFeeds };
  }

  /** Runs a sampling graph, built (weights baked or fed) when the cache has no session for the shape. */
  private runSample(
    key: string,
    build: (w: Map<string, Float32Array> | 'inputs') => Uint8Array,
    feeds: Record<string, ort.Tensor>,
  ) {
    const baked = this.bakedSampling;
    return this.sampleSessions.run(
      key,
      () =>
        ort.InferenceSession.create(
          build(baked ? this.samplingWeights() : 'inputs'),
          this.sessionOptions(false),
        ),
      feeds,
    );
  }

  newCache(batch: number, positions?: number): KvCache {
    if (!Number.isInteger(batch) || batch < 1)
      throw new RangeError(`cache batch must be positive, got ${batch}`);
    const { layers, contextLength } = this.config;
    if (positions !== undefined && !(Number.isInteger(positions) && positions >= 1))
      throw new RangeError(`cache positions must be a positive integer, got ${positions}`);
    const heads = kvHeadsOf(this.config);
    const headDim = headDimOf(this.config);
    const maxCapacity = Math.min(contextLength, positions ?? contextLength) + PROMPT_BLOCK - 1;
    const bytes = Cache.bufferBytes(batch, heads, headDim, maxCapacity);
    // A cache uses the front of its buffers, so the spare serves any batch up to its own size.
    const spare = this.spareCache;
    const buffers =
      spare && (spare[0]?.byteLength ?? 0) >= bytes
        ? spare
        : Array.from({ length: 2 * layers }, () => new ArrayBuffer(bytes));
    if (buffers === spare) this.spareCache = null;
    return new Cache(batch, heads, headDim, layers, maxCapacity, buffers);
  }

  freeCache(kv: KvCache): void {
    const cache = kv as Cache;
    if (!(cache instanceof Cache) || cache.capacity < 0) return;
    cache.capacity = -1; // liveCache refuses it from now on
    // Keep the larger of the freed cache's buffers and the spare ones.
    const spare = this.spareCache;
    if (!spare || (spare[0]?.byteLength ?? 0) <= (cache.buffers[0]?.byteLength ?? 0))
      this.spareCache = cache.buffers;
  }

  keepRows(kv: KvCache, keep: readonly number[]): void {
    const cache = liveCache(kv);
    if (keep.length === 0) throw new RangeError('keepRows: keep at least one row');
    keep.forEach((b, i) => {
      if (!Number.isInteger(b) || b < 0 || b >= cache.batch || (i > 0 && b <= (keep[i - 1] as number)))
        throw new RangeError(`keepRows: rows must be ascending indices below ${cache.batch}, got [${keep}]`);
    });
    cache.keepRows(keep);
  }

  async prefill(kv: KvCache, tokens: Int32Array, time: number, lengths: Int32Array): Promise<Float32Array> {
    const cache = liveCache(kv);
    const B = cache.batch;
    if (lengths.length !== B || tokens.length !== B * time)
      throw new RangeError('prefill: tokens must be [batch, time]');
    let longest = 0;
    for (const n of lengths) {
      if (n < 1 || n > time) throw new RangeError(`prefill: every row needs 1..${time} tokens, got ${n}`);
      longest = Math.max(longest, n);
    }
    if (longest > this.config.contextLength)
      throw new RangeError(
        `prompt of ${longest} tokens exceeds the context length ${this.config.contextLength}`,
      );
    const V = this.config.vocabSize;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < (lengths[b] as number); t++) {
        const id = tokens[b * time + t] as number;
        if (id < 0 || id >= V) throw new RangeError(`prefill: token id ${id} out of range`);
      }
    const P = Math.ceil(longest / PROMPT_BLOCK) * PROMPT_BLOCK;
    cache.filled = 0;
    cache.reserve(P + 1);
    const logits = new Float32Array(B * V);
    // Rows with the same prompt (a request's n samples) are computed once and copied.
    const firstOf = new Map<string, number>();
    const copies: [number, number][] = [];
    const unique: number[] = [];
    for (let b = 0; b < B; b++) {
      const n = lengths[b] as number;
      cache.pad[b] = P - n;
      cache.lengths[b] = n;
      const key = tokens.subarray(b * time, b * time + n).join();
      const seen = firstOf.get(key);
      if (seen === undefined) {
        firstOf.set(key, b);
        unique.push(b);
      } else copies.push([seen, b]);
    }
    // Longest first, in chunks of rows of similar length, each padded (on the left) to its own longest row
    // and written at the end of the batch's P slots; each chunk's attention scores [rows, H, Pc, Pc] stay
    // under the budget (see the top of this file).
    unique.sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
    const budget = this.opts.prefillScoreBytes ?? PREFILL_SCORE_BYTES;
    for (let first = 0; first < unique.length; ) {
      const Pc = Math.ceil((lengths[unique[first] as number] as number) / PROMPT_BLOCK) * PROMPT_BLOCK;
      const rows = Math.min(
        unique.length - first,
        Math.max(1, Math.floor(budget / (this.config.heads * Pc * Pc * 4))),
      );
      const chunk = unique.slice(first, first + rows);
      first += rows;
      const tok = new Array<number>(rows * Pc).fill(0);
      const pos = new Array<number>(rows * Pc).fill(0);
      const mask = new Float32Array(rows * Pc * Pc);
      chunk.forEach((b, r) => {
        const n = lengths[b] as number;
        const pad = Pc - n;
        for (let t = 0; t < n; t++) {
          tok[r * Pc + pad + t] = tokens[b * time + t] as number;
          pos[r * Pc + pad + t] = t;
        }
        // Causal, and padding is never a key. A padding query (row i < pad) attends to nothing real; its
        // output is never used.
        for (let i = 0; i < Pc; i++)
          for (let j = 0; j < Pc; j++) if (j > i || j < pad) mask[(r * Pc + i) * Pc + j] = NEG_INF;
      });
      const out = await this.runSample('prefill', (w) => buildPrefillGraph(this.config, w), {
        ...(await this.weightFeeds()),
        tokens: i64(tok, [rows, Pc]),
        positions: i64(pos, [rows, Pc]),
        mask: f32(mask, [rows, 1, Pc, Pc]),
      });
      const out0 = (out.logits as ort.Tensor).data as Float32Array;
      for (let l = 0; l < this.config.layers; l++) {
        const k = (out[`k${l}`] as ort.Tensor).data as Float32Array;
        const v = (out[`v${l}`] as ort.Tensor).data as Float32Array;
        chunk.forEach((b, r) => {
          cache.writeRow(cache.keys[l] as Float32Array, k, r, Pc, b, P - Pc);
          cache.writeRow(cache.values[l] as Float32Array, v, r, Pc, b, P - Pc);
        });
      }
      chunk.forEach((b, r) => {
        logits.set(out0.subarray(r * V, (r + 1) * V), b * V);
      });
    }
    for (const [from, to] of copies) {
      cache.copyRow(from, to, P);
      logits.copyWithin(to * V, from * V, (from + 1) * V);
    }
    cache.filled = P;
    return logits;
  }

  async decode(kv: KvCache, tokens: Int32Array): Promise<Float32Array> {
    const cache = liveCache(kv);
    const B = cache.batch;
    const S = cache.filled;
    if (tokens.length !== B) throw new RangeError('decode: one token per row');
    if (S === 0) throw new RangeError('decode: prefill the cache first');
    const V = this.config.vocabSize;
    for (const id of tokens)
      if (id < 0 || id >= V) throw new RangeError(`decode: token id ${id} out of range`);
    cache.reserve(S + 1);
    const C = cache.capacity;
    const { layers } = this.config;
    const heads = kvHeadsOf(this.config);
    const hd = headDimOf(this.config);
    // Keys: slots [pad, S) are real, [S, C) unfilled; the extra last column is the new token itself.
    const mask = new Float32Array(B * (C + 1));
    const pos = new Array<number>(B);
    for (let b = 0; b < B; b++) {
      pos[b] = Math.min(cache.lengths[b] as number, this.config.contextLength - 1);
      const row = mask.subarray(b * (C + 1), (b + 1) * (C + 1));
      row.fill(NEG_INF, 0, cache.pad[b] as number);
      row.fill(NEG_INF, S, C);
    }
    const feeds: Record<string, ort.Tensor> = {
      ...(await this.weightFeeds()),
      token: i64(tokens, [B]),
      position: i64(pos, [B]),
      mask: f32(mask, [B, C + 1]),
    };
    for (let l = 0; l < layers; l++) {
      feeds[`pk${l}`] = f32(cache.keys[l] as Float32Array, [B, heads, C, hd]);
      feeds[`pv${l}`] = f32(cache.values[l] as Float32Array, [B, heads, C, hd]);
    }
    const out = await this.runSample('decode', (w) => buildDecodeGraph(this.config, w), feeds);
    for (let l = 0; l < layers; l++) {
      cache.write(cache.keys[l] as Float32Array, (out[`nk${l}`] as ort.Tensor).data as Float32Array, S, 1);
      cache.write(cache.values[l] as Float32Array, (out[`nv${l}`] as ort.Tensor).data as Float32Array, S, 1);
    }
    cache.filled = S + 1;
    for (let b = 0; b < B; b++) cache.lengths[b] = (cache.lengths[b] as number) + 1;
    return (out.logits as ort.Tensor).data as Float32Array;
  }

  async save(file: string, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
    if (isLlama(this.config) && !this.lora)
      throw new Error(
        `this ${this.config.family} model has no adapters: nothing of it is trained or saved here`,
      );
    const tensors = [];
    const { w, m, v } = this.state;
    for (const s of this.specs)
      tensors.push({ name: s.name, shape: s.shape, data: w.get(s.name) as Float32Array });
    for (const s of this.specs) {
      tensors.push({ name: `adam.m.${s.name}`, shape: s.shape, data: m.get(s.name) as Float32Array });
      tensors.push({ name: `adam.v.${s.name}`, shape: s.shape, data: v.get(s.name) as Float32Array });
    }
    writeSafetensors(file, tensors, {
      ...metadata,
      format: this.lora ? ADAPTER_CHECKPOINT_FORMAT : CHECKPOINT_FORMAT,
      ...(this.lora ? { lora: JSON.stringify(this.lora) } : {}),
      config: JSON.stringify(this.config),
      optimizer: JSON.stringify(this.opts.optimizer),
      schedule: JSON.stringify(this.opts.schedule ?? { kind: 'constant' }),
      step: String(this.steps),
      seed: String(this.opts.seed),
      rng: JSON.stringify(this.rng.state()),
    });
  }

  async close(): Promise<void> {
    await Promise.all([
      this.sampleSessions.clear(),
      this.gradSessions.clear(),
      this.optimizerSessions.clear(),
      this.scoreSessions.clear(),
    ]);
  }
}

/**
 * Checkpoint layout (safetensors, all F32 little-endian): `<name>` for every parameter of parameterSpecs,
 * `adam.m.<name>` / `adam.v.<name>` for the AdamW moments; metadata: format, config, optimizer,
 * schedule (JSON), step, seed, rng (the engine's xoshiro128** state as JSON).
 */
export const CHECKPOINT_FORMAT = 'absolute-zero/1';

/**
 * A Llama-family model's training state: the same layout over the LoRA adapters (`<module>.lora_A`
 * [in, r], `<module>.lora_B` [r, out], their moments), with `lora` (JSON) in the metadata and the model's
 * config; the frozen base is not in the file (the run records where it came from).
 */
export const ADAPTER_CHECKPOINT_FORMAT = 'absolute-zero/lora-1';

export type OrtModelEngine = ModelEngine & {
  /** The trained parameters: the GPT's weights, or a Llama-family model's LoRA adapters. */
  readonly parameters: ReadonlyMap<string, Float32Array>;
  /** A Llama-family model's frozen weights (empty for the GPT). */
  readonly baseWeights: ReadonlyMap<string, Float32Array>;
  /** Tell the engine that `parameters` were changed in place (sampling must see them). */
  parametersChanged(): void;
  /** The adapters a Llama-family model trains (undefined: the GPT, or a model that only samples). */
  readonly lora: LoraSettings | undefined;
  readonly rng: Rng;
  /** The scheduled learning rate at a (1-based) optimizer step. */
  learningRate(step: number): number;
  /** `withGrads` also returns the raw (unclipped) gradients (tests). */
  trainStep(batch: TrainBatch, withGrads?: boolean): Promise<TrainStepStats & { grads?: Weights }>;
};

/** A GPT from fresh weights (the seed decides them). */
export async function createModelEngine(config: GptConfig, opts: EngineOptions): Promise<OrtModelEngine> {
  return new OrtEngine(config, opts, initWeights(config, opts.seed));
}

/**
 * An engine over weights that already exist, named and shaped as parameterSpecs(config) says (a real
 * checkpoint's, converted by its loader). They are used as given, not copied.
 */
export async function engineFromWeights(
  config: ModelConfig,
  weights: Weights,
  opts: EngineOptions,
): Promise<OrtModelEngine> {
  validateModelConfig(config);
  for (const s of parameterSpecs(config)) {
    const w = weights.get(s.name);
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`missing weight ${s.name}`);
    if (w.length !== size)
      throw new Error(`${s.name} holds ${w.length} values, expected [${s.shape}] = ${size}`);
  }
  return new OrtEngine(config, opts, weights);
}

function parseJson<X>(file: string, key: string, text: string | undefined): X | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as X;
  } catch {
    throw new Error(`${file}: checkpoint metadata ${key} is not JSON`);
  }
}

/**
 * Load weights, moments, step, schedule and RNG state from a checkpoint; the config comes from the file.
 * Options given here (threads, optimizer, schedule, ...) override the stored ones.
 */
export async function loadModelEngine(
  file: string,
  opts: Omit<EngineOptions, 'seed' | 'optimizer'> &
    Partial<Pick<EngineOptions, 'optimizer' | 'seed'>> & {
      /**
       * Take the weights alone and start training afresh: zero AdamW moments, step 0, the RNG of `seed`,
       * and the optimizer and schedule of `opts` (a pretrained base under a new run's settings).
       */
      weightsOnly?: boolean;
    },
): Promise<OrtModelEngine> {
  const { tensors, metadata } = readSafetensors(file);
  const config = parseJson<ModelConfig>(file, 'config', metadata.config);
  if (!config) throw new Error(`${file}: not an absolute-zero checkpoint (no config in the metadata)`);
  validateModelConfig(config);
  if (isLlama(config))
    throw new Error(`${file}: holds LoRA adapters of a ${config.family} model; load it with its base model`);
  const fresh = opts.weightsOnly === true;
  if (fresh && (opts.optimizer === undefined || opts.seed === undefined))
    throw new Error("loading weights only needs the new run's optimizer settings and seed");
  const optimizer = opts.optimizer ?? parseJson<OptimizerSettings>(file, 'optimizer', metadata.optimizer);
  if (!optimizer) throw new Error(`${file}: no optimizer settings in the checkpoint`);
  const schedule = fresh
    ? opts.schedule
    : (opts.schedule ?? parseJson<LrSchedule>(file, 'schedule', metadata.schedule));
  const rngState = fresh ? undefined : parseJson<RngState>(file, 'rng', metadata.rng);
  const seed = opts.seed ?? Number(metadata.seed ?? 0);
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
    const size = s.shape.reduce((a, b) => a * b, 1);
    w.set(s.name, get(s.name));
    const moment = (name: string) => (!fresh && tensors.has(name) ? get(name) : new Float32Array(size));
    m.set(s.name, moment(`adam.m.${s.name}`));
    v.set(s.name, moment(`adam.v.${s.name}`));
  }
  const step = fresh ? 0 : Number(metadata.step ?? 0);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${file}: bad step ${metadata.step}`);
  const { weightsOnly: _, ...engineBase } = opts;
  const engineOpts: EngineOptions = { ...engineBase, seed, optimizer };
  if (schedule) engineOpts.schedule = schedule;
  return new OrtEngine(config, engineOpts, w, { m, v, step, rng: rngState ?? new Rng(seed).state() });
}

/**
 * Resume a LoRA engine: the adapters, their moments, the step and RNG state from `file` (written by
 * save), over the frozen `base` weights of the model the file was trained on (same config). Options given
 * here override the stored ones, as in loadModelEngine.
 */
export async function loadAdapterEngine(
  file: string,
  base: { config: LlamaConfig; weights: Weights },
  opts: Omit<EngineOptions, 'seed' | 'optimizer' | 'lora'> &
    Partial<Pick<EngineOptions, 'optimizer' | 'seed'>>,
): Promise<OrtModelEngine> {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.format !== ADAPTER_CHECKPOINT_FORMAT)
    throw new Error(`${file}: not a LoRA checkpoint of this engine (format ${metadata.format ?? 'missing'})`);
  const config = parseJson<LlamaConfig>(file, 'config', metadata.config);
  const lora = parseJson<LoraSettings>(file, 'lora', metadata.lora);
  if (!config || !lora)
    throw new Error(`${file}: the metadata lacks the model's config or the LoRA settings`);
  const same = (c: object) => JSON.stringify(Object.entries(c).sort());
  // The context may differ (a run may use less of it than the checkpoint allows); the shape may not.
  if (same({ ...config, contextLength: 0 }) !== same({ ...base.config, contextLength: 0 }))
    throw new Error(
      `${file}: its adapters were trained on ${JSON.stringify(config)}, not on ${JSON.stringify(base.config)}`,
    );
  const optimizer = opts.optimizer ?? parseJson<OptimizerSettings>(file, 'optimizer', metadata.optimizer);
  if (!optimizer) throw new Error(`${file}: no optimizer settings in the checkpoint`);
  const schedule = opts.schedule ?? parseJson<LrSchedule>(file, 'schedule', metadata.schedule);
  const seed = opts.seed ?? Number(metadata.seed ?? 0);
  const w: Weights = new Map();
  const m: Weights = new Map();
  const v: Weights = new Map();
  for (const s of loraParameterSpecs(base.config, lora)) {
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${file}: missing tensor ${name}`);
      if (t.shape.join() !== s.shape.join())
        throw new Error(`${file}: ${name} has shape [${t.shape}], expected [${s.shape}]`);
      return t.data;
    };
    w.set(s.name, get(s.name));
    m.set(s.name, get(`adam.m.${s.name}`));
    v.set(s.name, get(`adam.v.${s.name}`));
  }
  const step = Number(metadata.step ?? 0);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${file}: bad step ${metadata.step}`);
  const rng = parseJson<RngState>(file, 'rng', metadata.rng) ?? new Rng(seed).state();
  const engineOpts: EngineOptions = { ...opts, seed, optimizer, lora };
  if (schedule) engineOpts.schedule = schedule;
  return new OrtEngine(base.config, engineOpts, base.weights, { w, m, v, step, rng });
}
