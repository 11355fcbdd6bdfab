// Batched sampling with the KV cache: prefill the prompts, then one decode step per token for all rows.
// Per row: temperature, top-p, a token budget, stop strings, and an optional constraint whose mask is
// applied before sampling (grammar-constrained decoding).
//
// Determinism: each row draws from its own generator, seeded from the row's seed alone, so what a row
// samples does not depend on which other rows share its batch or on timing (up to float rounding of
// the logits, which ONNX Runtime computes per row).
//
// Log-probabilities are those of the distribution actually sampled from: after the vocabulary mask,
// temperature and top-p truncation (greedy sampling, temperature 0, reports 0). This is the behaviour
// policy's probability, what an importance ratio against the sampler needs; the trainer recomputes the
// model's own log-probabilities for the gradient. A row with `recordMasks` also returns the mask each
// token was drawn under, so the update can score it under the same mask (at temperature 1 and top-p 1
// the trainer's masked log-probability then equals the one reported here).
//
// Finished rows leave the batch: once a quarter of the cache's rows are done, the engine drops them
// (keepRows moves the survivors' cache slices down in place), so a decode step costs what the live rows
// need. The decode graph has a symbolic batch dimension, so a smaller batch needs no new session.
//
// What ends a row: an end id (the vocabulary's EOS, or a chat model's end of turn; kept in `tokens`, so
// training teaches the model to stop), a stop string (text is cut before it; `tokens` keep everything
// sampled), a constraint that is complete and allows nothing more, a mask that allows nothing, or the
// token budget.
//
// The tokenizer enters as a SamplerVocabulary: the built-in byte vocabulary by default, a real model's
// BPE vocabulary from its policy.

import { Rng } from '../util/rng.js';
import type { ConstraintMatcher, DecodeConstraint } from './constraint.js';
import type { ModelEngine } from './engine-types.js';
import type { TextTokenizer } from './text-tokenizer.js';
import { StreamDecoder } from './tokenizer.js';
import { MIN_VOCAB, SPECIAL_ID } from './vocab.js';

/** What the sampler needs of a tokenizer. */
export interface SamplerVocabulary {
  /** Ids that end a completion (kept as its last token). */
  readonly endIds: readonly number[];
  /** Prompt of a row whose prompt is empty. */
  readonly emptyPrompt: readonly number[];
  /** Fed for rows that have finished (any valid id: their logits are ignored). */
  readonly padId: number;
  /** 1 for ids a completion may contain, vocabulary-sized. */
  completionMask(vocab: number): Uint8Array;
  /** A decoder that turns ids into text one at a time, holding back incomplete characters. */
  decoder(): { push(id: number): string; flush(): string };
}

export interface SampleRow {
  /** Prompt token ids; an empty prompt samples after a lone BOS. */
  prompt: readonly number[];
  maxTokens: number;
  /** 0 samples greedily. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 keeps the whole distribution. */
  topP: number;
  /** Seeds this row's generator (and nothing else). */
  seed: number;
  /** Text-level stop strings; the first one that appears ends the row and is cut from the text. */
  stop?: readonly string[];
  constraint?: DecodeConstraint;
  /** Return `allowed`: the vocabulary mask of every sampled token. */
  recordMasks?: boolean;
  /** Return, for every sampled token, this many most likely tokens of its distribution (0: none). */
  topLogprobs?: number;
}

/** A token and its log-probability under the distribution it was (or could have been) drawn from. */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

export interface SampledRow {
  /** Every sampled token, including a final EOS or the tokens of a stop string. */
  tokens: number[];
  /** Log-probability of each sampled token under the sampling distribution (see the file comment). */
  logprobs: number[];
  /** Decoded completion, without EOS and without the stop string and anything after it. */
  text: string;
  finishReason: 'stop' | 'length';
  /** Prompt tokens dropped from the left to fit the context. */
  truncatedPrompt: number;
  /**
   * With `recordMasks`: [tokens.length, vocab], 1 where the token could have been drawn at that step
   * (the base mask of ids a completion may contain, narrowed by the constraint).
   */
  allowed?: Uint8Array;
  /**
   * With `topLogprobs` k: per sampled token, the k most likely tokens of the same distribution its
   * log-probability is reported under (most likely first, ties by lower id; fewer where fewer could be
   * drawn). Greedy steps list the chosen token alone, with log-probability 0.
   */
  topLogprobs?: TokenLogprob[][];
}

export interface SamplerOptions {
  /** The tokenizer's part (default: the built-in byte vocabulary). */
  vocabulary?: SamplerVocabulary;
  /** Rows decoded together (one KV cache); default 64. */
  maxBatch?: number;
  /**
   * Most rows x (longest prompt + largest token budget) in one batch, which bounds its KV cache (default
   * 32,768: 64 rows at a context of 512, 32 at 1,024; for the medium preset at 1,024 that is 0.6 GB of
   * keys and values instead of 1.2 GB).
   */
  maxBatchTokens?: number;
}

const MAX_BATCH_TOKENS = 64 * 512;

export const EOS = SPECIAL_ID['<|eos|>'];
export const BOS = SPECIAL_ID['<|bos|>'];
export const PAD = SPECIAL_ID['<|pad|>'];

/**
 * Sample one token from `logits` (length V). Exported for tests of the arithmetic. Temperature divides
 * the logits; top-p keeps the smallest set of most likely tokens (ties broken by lower id) whose mass
 * reaches `topP`, including the token that crosses it. Returns the id and its log-probability under the
 * final (masked, tempered, truncated) distribution, or id -1 when the mask allows nothing. With `top` k
 * > 0, also the k most likely tokens of that distribution (`top`).
 */
export function sampleToken(
  logits: Float32Array,
  temperature: number,
  topP: number,
  rng: Rng,
  mask?: Uint8Array,
  top = 0,
): { id: number; logprob: number; top?: TokenLogprob[] } {
  const V = logits.length;
  if (scratch.ids.length < V) scratch = { ids: new Int32Array(V), probs: new Float64Array(V) };
  // Scratch space shared by all calls (sampling is synchronous): this runs per row and per token, and
  // per-call arrays were a visible share of sampling time.
  const { ids, probs } = scratch;
  let n = 0;
  let best = -1;
  for (let i = 0; i < V; i++) {
    if (mask && !mask[i]) continue;
    ids[n++] = i;
    if (best < 0 || (logits[i] as number) > (logits[best] as number)) best = i;
  }
  if (best < 0) return top > 0 ? { id: -1, logprob: 0, top: [] } : { id: -1, logprob: 0 };
  // Greedy: the most likely allowed token (lowest id on ties), with certainty.
  if (temperature <= 0) {
    return top > 0 ? { id: best, logprob: 0, top: [{ id: best, logprob: 0 }] } : { id: best, logprob: 0 };
  }
  const max = (logits[best] as number) / temperature;
  let z = 0;
  for (let k = 0; k < n; k++) {
    const p = Math.exp((logits[ids[k] as number] as number) / temperature - max);
    probs[k] = p;
    z += p;
  }
  // `order` lists positions into ids/probs: all of them, or the nucleus sorted by probability.
  let order: ArrayLike<number> | null = null;
  let kept = n;
  if (topP < 1) {
    const sorted = Array.from({ length: n }, (_, k) => k);
    sorted.sort(
      (a, b) => (probs[b] as number) - (probs[a] as number) || (ids[a] as number) - (ids[b] as number),
    );
    let mass = 0;
    let keep = 0;
    while (keep < n && mass < topP * z) mass += probs[sorted[keep++] as number] as number;
    kept = Math.max(1, keep);
    z = 0;
    for (let j = 0; j < kept; j++) z += probs[sorted[j] as number] as number;
    order = sorted;
  }
  let u = rng.next() * z;
  let pick = order ? (order[kept - 1] as number) : kept - 1;
  for (let j = 0; j < kept; j++) {
    const k = order ? (order[j] as number) : j;
    u -= probs[k] as number;
    if (u < 0) {
      pick = k;
      break;
    }
  }
  const chosen = { id: ids[pick] as number, logprob: Math.log((probs[pick] as number) / z) };
  if (top <= 0) return chosen;
  // The kept positions, most likely first: top-p already sorted them (same order, same tie-break);
  // otherwise a sort per token, paid only when alternatives are asked for.
  let byMass: ArrayLike<number>;
  if (order) byMass = order;
  else {
    const all = Array.from({ length: kept }, (_, j) => j);
    all.sort(
      (a, b) => (probs[b] as number) - (probs[a] as number) || (ids[a] as number) - (ids[b] as number),
    );
    byMass = all;
  }
  const alternatives = Array.from({ length: Math.min(top, kept) }, (_, j) => {
    const k = byMass[j] as number;
    return { id: ids[k] as number, logprob: Math.log((probs[k] as number) / z) };
  });
  return { ...chosen, top: alternatives };
}

let scratch = { ids: new Int32Array(0), probs: new Float64Array(0) };

/**
 * A real model's vocabulary as the sampler sees it: its tokenizer's stop ids end a completion, and a
 * completion may hold any ordinary token and the stop ids, never another special token (a chat model's
 * `<|im_start|>`) nor the model's spare rows past the tokenizer's last id.
 */
export function tokenizerVocabulary(tokenizer: TextTokenizer): SamplerVocabulary {
  const ends = tokenizer.stopIds;
  if (ends.length === 0) throw new Error('the tokenizer names no id that ends a completion');
  return {
    endIds: ends,
    emptyPrompt: [ends[0] as number],
    padId: ends[0] as number,
    completionMask(vocab: number): Uint8Array {
      const m = new Uint8Array(vocab);
      m.fill(1, 0, Math.min(vocab, tokenizer.vocabSize));
      for (const id of tokenizer.specialTokens.keys()) if (id < vocab) m[id] = 0;
      for (const id of ends) if (id < vocab) m[id] = 1;
      return m;
    },
    decoder: () => tokenizer.streamDecoder(),
  };
}

/** The built-in model's byte vocabulary (tokenizer.ts, vocab.ts). */
export const BYTE_VOCABULARY: SamplerVocabulary = {
  endIds: [EOS],
  emptyPrompt: [BOS],
  padId: PAD,
  /** Bytes, EOS and the format specials (never BOS, PAD or unused slots). */
  completionMask(vocab: number): Uint8Array {
    const m = new Uint8Array(vocab);
    for (let i = 0; i < Math.min(vocab, MIN_VOCAB); i++) m[i] = 1;
    m[BOS] = 0;
    m[PAD] = 0;
    return m;
  },
  decoder: () => new StreamDecoder(),
};

function checkRow(r: SampleRow, i: number): void {
  const bad = (what: string) => {
    throw new RangeError(`sample row ${i}: ${what}`);
  };
  if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1) bad(`maxTokens must be >= 1, got ${r.maxTokens}`);
  if (!(r.temperature >= 0) || !Number.isFinite(r.temperature))
    bad(`temperature must be a finite number >= 0, got ${r.temperature}`);
  if (!(r.topP > 0 && r.topP <= 1)) bad(`topP must be in (0, 1], got ${r.topP}`);
  if (r.topLogprobs !== undefined && !(Number.isInteger(r.topLogprobs) && r.topLogprobs >= 0))
    bad(`topLogprobs must be an integer >= 0, got ${r.topLogprobs}`);
}

/** One row being sampled. */
class RowState {
  readonly prompt: readonly number[];
  readonly truncated: number;
  readonly budget: number;
  readonly rng: Rng;
  readonly matcher: ConstraintMatcher | undefined;
  readonly stops: readonly string[];
  readonly longestStop: number;
  readonly decoder: { push(id: number): string; flush(): string };
  readonly tokens: number[] = [];
  readonly logprobs: number[] = [];
  readonly topLogprobs: TokenLogprob[][] = [];
  /** Masks of the sampled tokens, one vocab-sized row each (recordMasks only; sized for the budget). */
  masks: Uint8Array | undefined;
  /** Length of one recorded mask (the vocabulary size), set by the first one. */
  maskWidth = 0;
  text = '';
  done = false;
  finish: 'stop' | 'length' = 'length';

  constructor(
    readonly row: SampleRow,
    context: number,
    vocabulary: SamplerVocabulary,
  ) {
    // The budget leaves at least one prompt token; a prompt longer than context - budget loses tokens
    // from the left (the end of a prompt, where the instruction for the answer sits, matters most).
    this.budget = Math.min(row.maxTokens, context - 1);
    const room = context - this.budget;
    const prompt = row.prompt.length ? row.prompt : vocabulary.emptyPrompt;
    this.truncated = Math.max(0, prompt.length - room);
    this.prompt = this.truncated ? prompt.slice(this.truncated) : prompt;
    this.rng = new Rng(row.seed);
    this.decoder = vocabulary.decoder();
    this.matcher = row.constraint?.start();
    this.stops = (row.stop ?? []).filter((s) => s.length > 0);
    this.longestStop = Math.max(0, ...this.stops.map((s) => s.length));
  }

  result(): SampledRow {
    const r: SampledRow = {
      tokens: this.tokens,
      logprobs: this.logprobs,
      text: this.text,
      finishReason: this.finish,
      truncatedPrompt: this.truncated,
    };
    if (this.row.recordMasks)
      r.allowed = this.masks?.slice(0, this.tokens.length * this.maskWidth) ?? new Uint8Array(0);
    if ((this.row.topLogprobs ?? 0) > 0) r.topLogprobs = this.topLogprobs;
    return r;
  }

  /** Records the mask the next token is drawn under. */
  recordMask(mask: Uint8Array): void {
    if (!this.row.recordMasks) return;
    this.maskWidth = mask.length;
    this.masks ??= new Uint8Array(this.budget * mask.length);
    this.masks.set(mask, this.tokens.length * mask.length);
  }

  /** `cutAtStop`: the text already ends before a stop string; otherwise a trailing unfinished character
   * (e.g. the budget ran out mid-character) is rendered as U+FFFD. */
  end(reason: 'stop' | 'length', cutAtStop = false): void {
    this.done = true;
    this.finish = reason;
    if (!cutAtStop) this.text += this.decoder.flush();
  }

  /** Appends the text of a sampled token; true when a stop string appeared (the text is cut before it). */
  appendText(id: number): boolean {
    const before = this.text.length;
    this.text += this.decoder.push(id);
    if (this.stops.length === 0 || this.text.length === before) return false;
    // Earlier text held no stop string, so a new one ends inside the new piece.
    const from = Math.max(0, before - this.longestStop + 1);
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, from);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut === -1) return false;
    this.text = this.text.slice(0, cut);
    return true;
  }
}

/**
 * Sample every row; results in row order. Rows are grouped into batches of at most `maxBatch` that share
 * one KV cache: sorted by prompt length (less padding), only rows whose longest prompt plus largest
 * budget fit the context together, and at most `maxBatchTokens` rows x (prompt + budget).
 */
export async function sampleRows(
  engine: ModelEngine,
  rows: readonly SampleRow[],
  opts: SamplerOptions | number = {},
): Promise<SampledRow[]> {
  const maxBatch = typeof opts === 'number' ? opts : (opts.maxBatch ?? 64);
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw new RangeError(`maxBatch must be >= 1, got ${maxBatch}`);
  const maxTokens = typeof opts === 'number' ? MAX_BATCH_TOKENS : (opts.maxBatchTokens ?? MAX_BATCH_TOKENS);
  rows.forEach(checkRow);
  const vocabulary = (typeof opts === 'number' ? undefined : opts.vocabulary) ?? BYTE_VOCABULARY;
  const ctx = engine.config.contextLength;
  const states = rows.map((r) => new RowState(r, ctx, vocabulary));
  const order = states
    .map((_, i) => i)
    .sort((a, b) => {
      const d = (states[b] as RowState).prompt.length - (states[a] as RowState).prompt.length;
      return d || a - b;
    });
  const taken = new Uint8Array(states.length);
  for (let first = 0; first < order.length; ) {
    const batch: RowState[] = [];
    let longestPrompt = 0;
    let largestBudget = 0;
    for (let k = first; k < order.length && batch.length < maxBatch; k++) {
      const i = order[k] as number;
      if (taken[i]) continue;
      const s = states[i] as RowState;
      const p = Math.max(longestPrompt, s.prompt.length);
      const r = Math.max(largestBudget, s.budget);
      if (p + r > ctx || (batch.length > 0 && (batch.length + 1) * (p + r) > maxTokens)) continue;
      taken[i] = 1;
      batch.push(s);
      longestPrompt = p;
      largestBudget = r;
    }
    await sampleBatch(engine, batch, vocabulary);
    while (first < order.length && taken[order[first] as number]) first++;
  }
  return states.map((s) => s.result());
}

async function sampleBatch(
  engine: ModelEngine,
  live: readonly RowState[],
  vocabulary: SamplerVocabulary,
): Promise<void> {
  const V = engine.config.vocabSize;
  const B = live.length;
  const time = Math.max(...live.map((l) => l.prompt.length));
  const tokens = new Int32Array(B * time);
  const lengths = new Int32Array(B);
  live.forEach((l, b) => {
    tokens.set(l.prompt, b * time);
    lengths[b] = l.prompt.length;
  });
  const cache = engine.newCache(B, time + Math.max(...live.map((l) => l.budget)));
  try {
    let logits = await engine.prefill(cache, tokens, time, lengths);
    const base = vocabulary.completionMask(V);
    const ends = new Set(vocabulary.endIds);
    const mask = new Uint8Array(V);
    // The row state of each cache row; shrinks when finished rows are dropped.
    let rows = live;
    let next = new Int32Array(B);
    for (;;) {
      let active = 0;
      for (let b = 0; b < rows.length; b++) {
        const l = rows[b] as RowState;
        next[b] = vocabulary.padId;
        if (l.done) continue;
        const id = step(l, logits.subarray(b * V, (b + 1) * V), base, mask, ends);
        if (id < 0) continue;
        next[b] = id;
        if (!l.done) active++;
      }
      if (active === 0) break;
      if (rows.length - active >= Math.max(1, rows.length / 4)) {
        const keep: number[] = [];
        rows.forEach((l, b) => {
          if (!l.done) keep.push(b);
        });
        engine.keepRows(cache, keep);
        next = Int32Array.from(keep, (b) => next[b] as number);
        rows = keep.map((b) => rows[b] as RowState);
      }
      logits = await engine.decode(cache, next);
    }
  } finally {
    engine.freeCache(cache);
  }
}

/** Samples and records one token for a row; returns it, or -1 when the row ended without a token. */
function step(
  l: RowState,
  logits: Float32Array,
  base: Uint8Array,
  mask: Uint8Array,
  ends: ReadonlySet<number>,
): number {
  let m = base;
  if (l.matcher) {
    l.matcher.allowedTokens(mask, l.budget - l.tokens.length);
    for (let i = 0; i < mask.length; i++) mask[i] = (mask[i] as number) & (base[i] as number);
    // A complete sentence may end here: the model chooses between ending and continuing.
    const complete = l.matcher.isComplete();
    for (const e of ends) mask[e] = 0;
    if (complete && mask.indexOf(1) === -1) {
      l.end('stop');
      return -1;
    }
    for (const e of ends) mask[e] = complete ? (base[e] as number) : 0;
    m = mask;
  }
  const { id, logprob, top } = sampleToken(
    logits,
    l.row.temperature,
    l.row.topP,
    l.rng,
    m,
    l.row.topLogprobs ?? 0,
  );
  if (id === -1) {
    l.end('stop');
    return -1;
  }
  l.recordMask(m);
  l.tokens.push(id);
  l.logprobs.push(logprob);
  if (top) l.topLogprobs.push(top);
  if (ends.has(id)) {
    l.end('stop');
    return id;
  }
  l.matcher?.accept(id);
  if (l.appendText(id)) l.end('stop', true);
  else if (l.matcher?.isComplete() && nothingAllowed(l.matcher, mask, ends)) l.end('stop');
  else if (l.tokens.length >= l.budget) l.end('length');
  return id;
}

function nothingAllowed(m: ConstraintMatcher, scratch: Uint8Array, ends: ReadonlySet<number>): boolean {
  m.allowedTokens(scratch);
  for (let i = 0; i < scratch.length; i++) if (scratch[i] && !ends.has(i)) return false;
  return true;
}
