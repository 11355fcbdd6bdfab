// Batched sampling with the KV cache: prefill the prompts, then one decode step per token for all rows.
// Per row: temperature, top-p, a token budget, stop strings, and an optional constraint whose mask is
// applied before sampling (grammar-constrained decoding). Each row draws from its own generator, seeded
// from the request's seed and the sample's index, so a row's text does not depend on what else shares
// its batch.
//
// Log-probabilities are those of the distribution actually sampled from: after the mask, temperature and
// top-p truncation (what a policy-gradient ratio against the sampler needs).

import { Rng } from '../util/rng.js';
import type { ConstraintMatcher, DecodeConstraint } from './constraint.js';
import type { ModelEngine } from './engine-types.js';
import { decode } from './tokenizer.js';
import { SPECIAL_ID } from './vocab.js';

export interface SampleRow {
  prompt: readonly number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop?: readonly string[];
  constraint?: DecodeConstraint;
}

export interface SampledRow {
  tokens: number[];
  logprobs: number[];
  text: string;
  finishReason: 'stop' | 'length';
  /** Prompt tokens dropped from the left to fit the context. */
  truncatedPrompt: number;
}

export const EOS = SPECIAL_ID['<|eos|>'];
export const BOS = SPECIAL_ID['<|bos|>'];
export const PAD = SPECIAL_ID['<|pad|>'];

interface Live {
  row: SampleRow;
  rng: Rng;
  matcher?: ConstraintMatcher;
  out: SampledRow;
  done: boolean;
  budget: number;
}

/**
 * Sample one token from `logits` (length V) for a row. Exported for tests of the arithmetic.
 * Returns the id and its log-probability under the final distribution, or -1 when the mask allows nothing.
 */
export function sampleToken(
  logits: Float32Array,
  temperature: number,
  topP: number,
  rng: Rng,
  mask?: Uint8Array,
): { id: number; logprob: number } {
  const V = logits.length;
  const ids: number[] = [];
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < V; i++) {
    if (mask && !mask[i]) continue;
    ids.push(i);
    const l = (logits[i] as number) / temperature;
    if (l > max) max = l;
  }
  if (ids.length === 0) return { id: -1, logprob: 0 };
  if (temperature <= 0) {
    // Greedy: the most likely allowed token, with certainty.
    let best = ids[0] as number;
    for (const i of ids) if ((logits[i] as number) > (logits[best] as number)) best = i;
    return { id: best, logprob: 0 };
  }
  const probs = ids.map((i) => Math.exp((logits[i] as number) / temperature - max));
  let z = probs.reduce((a, b) => a + b, 0);
  let order = ids.map((_, k) => k);
  if (topP < 1) {
    order.sort(
      (a, b) => (probs[b] as number) - (probs[a] as number) || (ids[a] as number) - (ids[b] as number),
    );
    let mass = 0;
    let keep = 0;
    while (keep < order.length && mass < topP * z) mass += probs[order[keep++] as number] as number;
    order = order.slice(0, Math.max(1, keep));
    z = order.reduce((a, k) => a + (probs[k] as number), 0);
  }
  let u = rng.next() * z;
  let pick = order[order.length - 1] as number;
  for (const k of order) {
    u -= probs[k] as number;
    if (u <= 0) {
      pick = k;
      break;
    }
  }
  return { id: ids[pick] as number, logprob: Math.log((probs[pick] as number) / z) };
}

/** Sample every row; rows are processed in batches of at most `maxBatch`. Results in row order. */
export async function sampleRows(
  engine: ModelEngine,
  rows: readonly SampleRow[],
  maxBatch = 64,
): Promise<SampledRow[]> {
  const results: SampledRow[] = [];
  for (let i = 0; i < rows.length; i += maxBatch) {
    results.push(...(await sampleBatch(engine, rows.slice(i, i + maxBatch))));
  }
  return results;
}

async function sampleBatch(engine: ModelEngine, rows: readonly SampleRow[]): Promise<SampledRow[]> {
  const ctx = engine.config.contextLength;
  const V = engine.config.vocabSize;
  const live: Live[] = rows.map((row) => {
    const budget = Math.max(1, Math.min(row.maxTokens, ctx - 1));
    const room = ctx - budget;
    const truncated = Math.max(0, row.prompt.length - room);
    const l: Live = {
      row: { ...row, prompt: row.prompt.slice(truncated) },
      rng: new Rng(row.seed),
      out: { tokens: [], logprobs: [], text: '', finishReason: 'length', truncatedPrompt: truncated },
      done: false,
      budget,
    };
    if (row.constraint) l.matcher = row.constraint.start();
    return l;
  });
  const B = live.length;
  const time = Math.max(...live.map((l) => Math.max(1, l.row.prompt.length)));
  const tokens = new Int32Array(B * time);
  const lengths = new Int32Array(B);
  live.forEach((l, b) => {
    const p = l.row.prompt.length ? l.row.prompt : [BOS];
    tokens.set(p, b * time);
    lengths[b] = p.length;
  });
  const cache = engine.newCache(B);
  let logits = await engine.prefill(cache, tokens, time, lengths);
  const mask = new Uint8Array(V);
  const next = new Int32Array(B);
  for (let step = 0; ; step++) {
    let active = 0;
    for (let b = 0; b < B; b++) {
      const l = live[b] as Live;
      next[b] = PAD;
      if (l.done) continue;
      let m: Uint8Array | undefined;
      if (l.matcher) {
        l.matcher.allowedTokens(mask, l.budget - l.out.tokens.length);
        m = mask;
      }
      const { id, logprob } = sampleToken(
        logits.subarray(b * V, (b + 1) * V),
        l.row.temperature,
        l.row.topP,
        l.rng,
        m,
      );
      if (id === -1 || id === EOS) {
        l.done = true;
        l.out.finishReason = 'stop';
        continue;
      }
      l.matcher?.accept(id);
      l.out.tokens.push(id);
      l.out.logprobs.push(logprob);
      next[b] = id;
      if (finished(l, V)) l.done = true;
      else active++;
    }
    if (active === 0) break;
    logits = await engine.decode(cache, next);
  }
  for (const l of live) {
    let text = decode(l.out.tokens);
    for (const s of l.row.stop ?? []) {
      const at = text.indexOf(s);
      if (at !== -1) text = text.slice(0, at);
    }
    l.out.text = text;
  }
  return live.map((l) => l.out);
}

/** After accepting a token: stop string seen, constraint complete with nothing more allowed, or budget spent. */
function finished(l: Live, vocab: number): boolean {
  if (l.row.stop?.length) {
    const tail = decode(l.out.tokens.slice(-64));
    if (l.row.stop.some((s) => tail.includes(s))) {
      l.out.finishReason = 'stop';
      return true;
    }
  }
  if (l.matcher?.isComplete()) {
    const probe = new Uint8Array(vocab);
    l.matcher.allowedTokens(probe);
    if (!probe.some((x) => x === 1)) {
      l.out.finishReason = 'stop';
      return true;
    }
  }
  if (l.out.tokens.length >= l.budget) {
    l.out.finishReason = 'length';
    return true;
  }
  return false;
}
