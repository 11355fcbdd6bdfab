// Pretraining: next-token prediction on a corpus of source files (corpus.ts), no tasks and no answers.
//
// The objective is plain cross-entropy on every position of every window: the engine's policy-gradient
// step with advantage 1 and weight 1/(batch * time) at every position, which is exactly the mean
// negative log-likelihood (engine-types.ts TrainBatch; test/model/pretrain.test.ts checks the reported
// loss against a float64 reference forward pass, and the gradient against finite differences).
//
// Data order. The training stream is cut into windows of `time + 1` tokens (time inputs, time shifted
// targets) that start at offset + i * time; each epoch draws a fresh offset in [0, time) and a fresh
// permutation of its windows from the data-order RNG, and a batch takes the next `batch` windows of the
// permutation (running on into the next epoch). The whole data state is (epoch, the RNG state at the
// epoch's start, the cursor into its permutation): three numbers and four words, saved with the weights.
// The RNG is seeded from the run seed, apart from the engine's own stream.
//
// Validation: at most `valTokens` positions of the validation stream, in windows spread evenly over it
// (always the same ones), scored with the forward-only graph. Bits per byte = the summed negative
// log-likelihood in bits over every target, separators included, divided by the number of targets that
// are bytes: the cost of encoding the text, boundaries and all, per byte of text.
//
// Run directory:
//   model.safetensors   weights, AdamW moments, step, the engine's metadata and a `pretrain` entry (JSON:
//                       settings, corpus fingerprints, data state, elapsed time): one write-then-rename
//                       holds the whole state, so a kill at any moment leaves a consistent checkpoint
//   pretrain.jsonl      one record per step ({kind: 'step', step, loss, bpb, lr, gradNorm, tokens,
//                       timeS}) and per validation ({kind: 'eval', step, loss, bpb, tokens}); on resume
//                       it is cut back to the checkpoint's step, and the steps after it are redone with
//                       the same results
// The directory is also a checkpoint directory of the built-in policy (loadBuiltinPolicy reads its
// model.safetensors); the caller may add config.json through `afterSave`.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { appendJsonl, truncateJsonl } from '../util/jsonl.js';
import { Rng, type RngState, shuffled } from '../util/rng.js';
import { readSafetensorsMetadata } from './checkpoint.js';
import type { GptConfig } from './config.js';
import { isByteToken, streamFingerprint } from './corpus.js';
import { createModelEngine, type LrSchedule, loadModelEngine, type OrtModelEngine } from './engine.js';
import type { OptimizerSettings, TrainBatch } from './engine-types.js';
import { SPECIAL_ID } from './vocab.js';

export const PRETRAIN_CHECKPOINT = 'model.safetensors';
export const PRETRAIN_LOG = 'pretrain.jsonl';
const PAD = SPECIAL_ID['<|pad|>'];
/** Mixed into the run seed for the data-order RNG, so it is a different stream from weight init. */
const DATA_SEED_SALT = 0x5eed_da7a;

/** Which corpus a run reads, as stored in its checkpoint so a resume reads the same one. */
export interface CorpusSpec {
  /** A folder or a .zip; null: the default Python corpus. */
  source: string | null;
  extensions: string[];
  validationFraction: number;
}

export interface PretrainSettings {
  model: GptConfig;
  /** Windows per optimizer step; each window is `model.contextLength` positions. */
  batch: number;
  seed: number;
  optimizer: OptimizerSettings;
  schedule: LrSchedule;
  /** Stop at this optimizer step (counting from the start of the run, not of this session). */
  steps: number | null;
  /** Stop after this much wall time in total over every session, in minutes. */
  minutes: number | null;
  /** Most validation positions scored per evaluation. */
  valTokens: number;
  /** Validate every this many steps (and at the start and the end). */
  evalEvery: number;
  /** Checkpoint every this many steps (and at the end). */
  saveEvery: number;
  corpus: CorpusSpec;
}

export interface PretrainCorpus {
  train: Uint16Array;
  validation: Uint16Array;
  trainDocuments: number;
  validationDocuments: number;
}

export interface DataState {
  epoch: number;
  /** The data-order RNG's state at the start of the epoch (its offset and permutation follow from it). */
  epochRng: RngState;
  /** Windows of the epoch's permutation already used. */
  cursor: number;
}

/** What the checkpoint's `pretrain` metadata entry holds. */
export interface PretrainState {
  version: 1;
  settings: PretrainSettings;
  corpus: { train: string; validation: string; trainDocuments: number; validationDocuments: number };
  data: DataState;
  /** Wall time spent in earlier sessions up to this checkpoint, seconds. */
  elapsedS: number;
  /** Training tokens (positions) seen so far. */
  tokens: number;
}

export interface StepRecord {
  kind: 'step';
  step: number;
  /** Mean cross-entropy per position before the update, nats. */
  loss: number;
  /** The batch's bits per byte (see the top of the file). */
  bpb: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  timeS: number;
  /** This step's throughput, positions per second (not in the log: it depends on the machine). */
  tokensPerS?: number;
}

export interface EvalRecord {
  kind: 'eval';
  step: number;
  loss: number;
  bpb: number;
  tokens: number;
}

export type PretrainRecord = StepRecord | EvalRecord;

export interface PretrainEvents {
  onStep?(r: StepRecord): void;
  onEval?(r: EvalRecord): void;
  /** Called whenever a checkpoint has been written (a new run writes one before its first step). */
  onCheckpoint?(step: number): void;
  /** Checked after every step; true saves a checkpoint and returns (interrupted). */
  shouldStop?(): boolean;
  /** After each checkpoint: the caller may write files of its own next to it (e.g. config.json). */
  afterSave?(engine: OrtModelEngine, dir: string): void;
}

export interface PretrainResult {
  step: number;
  interrupted: boolean;
  /** First and last validation of the whole run (from the log). */
  firstEval?: EvalRecord;
  lastEval?: EvalRecord;
  trainingTokens: number;
  elapsedS: number;
}

/** Bits per byte from a summed negative log-likelihood in nats over `bytes` bytes of text. */
export function bitsPerByte(nats: number, bytes: number): number {
  if (!(bytes > 0)) throw new RangeError(`bits per byte needs a positive byte count, got ${bytes}`);
  return nats / Math.LN2 / bytes;
}

/** The seed of the data-order RNG for a run seed. */
export function dataSeed(seed: number): number {
  return (seed ^ DATA_SEED_SALT) >>> 0;
}

/** One epoch's window starts, in the order they are used, and the RNG state the next epoch starts from. */
export function epochWindows(
  streamLength: number,
  time: number,
  epochRng: RngState,
): { starts: Int32Array; next: RngState } {
  if (streamLength < time + 1)
    throw new RangeError(
      `the training text has ${streamLength} tokens, fewer than one window of ${time + 1}: use a bigger corpus or a shorter --context`,
    );
  const rng = new Rng(epochRng);
  const offset = rng.int(Math.min(time, streamLength - time));
  const n = Math.floor((streamLength - 1 - offset) / time);
  const order = shuffled(
    rng,
    Array.from({ length: n }, (_, i) => i),
  );
  return { starts: Int32Array.from(order, (i) => offset + i * time), next: rng.state() };
}

/** The data order of a run: the next batch of window starts, and its state for a checkpoint. */
export class DataOrder {
  private starts: Int32Array;
  private next: RngState;
  constructor(
    private readonly streamLength: number,
    private readonly time: number,
    private s: DataState,
  ) {
    ({ starts: this.starts, next: this.next } = epochWindows(streamLength, time, s.epochRng));
    if (s.cursor > this.starts.length) throw new RangeError('data state: cursor past the end of its epoch');
  }

  static fresh(streamLength: number, time: number, seed: number): DataOrder {
    return new DataOrder(streamLength, time, {
      epoch: 0,
      epochRng: new Rng(dataSeed(seed)).state(),
      cursor: 0,
    });
  }

  get state(): DataState {
    return { epoch: this.s.epoch, epochRng: [...this.s.epochRng], cursor: this.s.cursor };
  }

  nextBatch(rows: number): number[] {
    const out: number[] = [];
    while (out.length < rows) {
      if (this.s.cursor >= this.starts.length) {
        this.s = { epoch: this.s.epoch + 1, epochRng: this.next, cursor: 0 };
        ({ starts: this.starts, next: this.next } = epochWindows(
          this.streamLength,
          this.time,
          this.s.epochRng,
        ));
      }
      out.push(this.starts[this.s.cursor++] as number);
    }
    return out;
  }
}

/** A training batch of plain cross-entropy over the windows starting at `starts`. */
export function windowBatch(stream: Uint16Array, starts: readonly number[], time: number): TrainBatch {
  const B = starts.length;
  const N = B * time;
  const tokens = new Int32Array(N);
  const targets = new Int32Array(N);
  starts.forEach((s, b) => {
    for (let t = 0; t < time; t++) {
      tokens[b * time + t] = stream[s + t] as number;
      targets[b * time + t] = stream[s + t + 1] as number;
    }
  });
  return {
    batch: B,
    time,
    tokens,
    targets,
    advantages: new Float32Array(N).fill(1),
    weights: new Float32Array(N).fill(1 / N),
  };
}

function countByteTargets(targets: Int32Array): number {
  let n = 0;
  for (const y of targets) if (isByteToken(y)) n++;
  return n;
}

/**
 * Validation loss and bits per byte of `stream`: at most `maxTokens` positions, in windows of `time`
 * spread evenly over it, scored `rows` windows at a time (the last group padded; padding is not counted).
 */
export async function validate(
  engine: OrtModelEngine,
  stream: Uint16Array,
  time: number,
  rows: number,
  maxTokens: number,
): Promise<Omit<EvalRecord, 'kind' | 'step'>> {
  if (stream.length < 2) throw new RangeError('the validation text needs at least two tokens');
  const n = Math.ceil((stream.length - 1) / time);
  const k = Math.max(1, Math.min(n, Math.ceil(maxTokens / time)));
  const starts = Array.from({ length: k }, (_, i) => Math.floor((i * n) / k) * time);
  let nats = 0;
  let positions = 0;
  let bytes = 0;
  for (let g = 0; g < starts.length; g += rows) {
    const group = starts.slice(g, g + rows);
    const tokens = new Int32Array(rows * time).fill(PAD);
    const targets = new Int32Array(rows * time).fill(PAD);
    group.forEach((s, b) => {
      for (let t = 0; t < time && s + t + 1 < stream.length; t++) {
        tokens[b * time + t] = stream[s + t] as number;
        targets[b * time + t] = stream[s + t + 1] as number;
      }
    });
    const lp = await engine.logprobs({ batch: rows, time, tokens, targets });
    group.forEach((s, b) => {
      for (let t = 0; t < time && s + t + 1 < stream.length; t++) {
        nats -= lp[b * time + t] as number;
        positions++;
        if (isByteToken(targets[b * time + t] as number)) bytes++;
      }
    });
  }
  return { loss: nats / positions, bpb: bitsPerByte(nats, Math.max(1, bytes)), tokens: positions };
}

/** The `pretrain` state of a run directory's checkpoint, or undefined when it has none. */
export function readPretrainState(dir: string): PretrainState | undefined {
  const file = join(dir, PRETRAIN_CHECKPOINT);
  if (!existsSync(file)) return undefined;
  const text = readSafetensorsMetadata(file).pretrain;
  if (text === undefined) throw new Error(`${file} is a model checkpoint, but not one of a pretraining run`);
  const state = JSON.parse(text) as PretrainState;
  if (state.version !== 1) throw new Error(`${file}: unknown pretraining state version ${state.version}`);
  return state;
}

function validateSettings(s: PretrainSettings): void {
  const positive = (name: string, x: number) => {
    if (!(Number.isInteger(x) && x > 0)) throw new RangeError(`${name} must be a positive integer, got ${x}`);
  };
  positive('batch', s.batch);
  positive('valTokens', s.valTokens);
  positive('evalEvery', s.evalEvery);
  positive('saveEvery', s.saveEvery);
  if (s.steps !== null) positive('steps', s.steps);
  if (s.minutes !== null && !(s.minutes > 0))
    throw new RangeError(`minutes must be positive, got ${s.minutes}`);
}

export interface PretrainOptions {
  dir: string;
  corpus: PretrainCorpus;
  threads: number;
  /** A new run (the directory must hold no checkpoint), or continue the one in `dir`. */
  start: { settings: PretrainSettings } | { resume: true; steps?: number; minutes?: number };
  events?: PretrainEvents;
}

/**
 * Pretrain until the step or time budget is spent (or `shouldStop`), validating and checkpointing along
 * the way. Resuming continues exactly as if the run had never stopped: the same batches, the same losses.
 */
export async function runPretraining(o: PretrainOptions): Promise<PretrainResult> {
  const { dir, corpus, events = {} } = o;
  const file = join(dir, PRETRAIN_CHECKPOINT);
  const logFile = join(dir, PRETRAIN_LOG);
  const fingerprints = {
    train: streamFingerprint(corpus.train),
    validation: streamFingerprint(corpus.validation),
    trainDocuments: corpus.trainDocuments,
    validationDocuments: corpus.validationDocuments,
  };
  let engine: OrtModelEngine;
  let settings: PretrainSettings;
  let data: DataOrder;
  let elapsedBefore: number;
  let tokens: number;
  let log: PretrainRecord[];
  if ('settings' in o.start) {
    settings = o.start.settings;
    validateSettings(settings);
    mkdirSync(dir, { recursive: true });
    if (existsSync(file))
      throw new Error(`${dir} already holds a checkpoint; resume it or choose another directory`);
    rmSync(logFile, { force: true });
    engine = await createModelEngine(settings.model, {
      threads: o.threads,
      seed: settings.seed,
      optimizer: settings.optimizer,
      schedule: settings.schedule,
    });
    data = DataOrder.fresh(corpus.train.length, settings.model.contextLength, settings.seed);
    elapsedBefore = 0;
    tokens = 0;
    log = [];
  } else {
    const state = readPretrainState(dir);
    if (!state) throw new Error(`${dir} holds no pretraining checkpoint to resume`);
    for (const k of ['train', 'validation'] as const)
      if (state.corpus[k] !== fingerprints[k])
        throw new Error(
          `the ${k} text differs from the run's (${state.corpus[k]} tokens:hash, now ${fingerprints[k]}): the corpus changed since the run started`,
        );
    settings = { ...state.settings };
    if (o.start.steps !== undefined) settings.steps = o.start.steps;
    if (o.start.minutes !== undefined) settings.minutes = o.start.minutes;
    validateSettings(settings);
    // A kill during a save leaves the temporary file behind; the renamed checkpoint is the committed one.
    for (const f of readdirSync(dir))
      if (f.startsWith(`${PRETRAIN_CHECKPOINT}.tmp-`)) rmSync(join(dir, f), { force: true });
    engine = await loadModelEngine(file, { threads: o.threads });
    data = new DataOrder(corpus.train.length, settings.model.contextLength, state.data);
    elapsedBefore = state.elapsedS;
    tokens = state.tokens;
    const at = engine.step;
    log = truncateJsonl<PretrainRecord>(logFile, (r) => r.step <= at);
  }
  const T = settings.model.contextLength;
  const B = settings.batch;
  const t0 = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000;
  let lastEval = log.filter((r): r is EvalRecord => r.kind === 'eval').at(-1);
  let firstEval = log.find((r): r is EvalRecord => r.kind === 'eval');
  let savedStep = 'settings' in o.start ? -1 : engine.step;

  const save = async () => {
    const state: PretrainState = {
      version: 1,
      settings,
      corpus: fingerprints,
      data: data.state,
      elapsedS: elapsed(),
      tokens,
    };
    await engine.save(file, { pretrain: JSON.stringify(state) });
    savedStep = engine.step;
    events.afterSave?.(engine, dir);
    events.onCheckpoint?.(engine.step);
  };
  const evaluate = async () => {
    const v = await validate(engine, corpus.validation, T, B, settings.valTokens);
    const r: EvalRecord = { kind: 'eval', step: engine.step, ...v };
    appendJsonl(logFile, [r]);
    lastEval = r;
    firstEval ??= r;
    events.onEval?.(r);
  };
  const done = () =>
    (settings.steps !== null && engine.step >= settings.steps) ||
    (settings.minutes !== null && elapsed() >= settings.minutes * 60);

  let interrupted = false;
  try {
    if ('settings' in o.start) {
      // A new run validates and checkpoints before its first step: a kill at any moment leaves something
      // to resume.
      await evaluate();
      await save();
    }
    while (!done()) {
      if (events.shouldStop?.()) {
        interrupted = true;
        break;
      }
      const batch = windowBatch(corpus.train, data.nextBatch(B), T);
      const s = await engine.trainStep(batch);
      tokens += B * T;
      const r: StepRecord = {
        kind: 'step',
        step: s.step,
        loss: s.loss,
        bpb: bitsPerByte(s.loss * B * T, Math.max(1, countByteTargets(batch.targets))),
        lr: s.learningRate,
        gradNorm: s.gradNorm,
        tokens,
        timeS: elapsed(),
      };
      appendJsonl(logFile, [r]);
      events.onStep?.({ ...r, tokensPerS: (B * T) / (s.timeMs / 1000) });
      if (s.step % settings.evalEvery === 0) await evaluate();
      if (s.step % settings.saveEvery === 0) await save();
    }
    if (!interrupted && lastEval?.step !== engine.step) await evaluate();
    if (savedStep !== engine.step) await save();
    const result: PretrainResult = {
      step: engine.step,
      interrupted,
      trainingTokens: tokens,
      elapsedS: elapsed(),
    };
    if (firstEval) result.firstEval = firstEval;
    if (lastEval) result.lastEval = lastEval;
    return result;
  } finally {
    await engine.close();
  }
}
