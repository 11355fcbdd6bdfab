// The loop's generate requests as Tinker sampling calls on one sampler path: the training policy samples
// the weights it last published (policy.ts), the sampling-only policy the weights a checkpoint saved
// (sampler.ts). One implementation, so a run is evaluated exactly as it was trained.
//
// Prompts are plain text (no chat roles), encoded as they are with the model's own tokenizer, with no chat
// template and no special tokens added (a base model continues the text, as the built-in model does). A
// request's `truncatePromptTokens` keeps its last k prompt tokens. The sampler's token ids and
// log-probabilities are kept exactly as sampled; the text is their decoding, cut at the first stop string
// (the stop strings are the request's plus the EOS token's text, sent as strings because the API takes all
// strings or all ids). The server ends a sequence after the token that completes a stop string and keeps
// that token, so `tokenIds` may end with the stop's tokens while `text` does not: training sees the sampled
// ids, never re-tokenized text. The answer constraint is not applied (the API has no constrained decoding).
import type { BpeTokenizer } from '../../model/bpe-tokenizer.js';
import type { Completion, GenerateRequest } from '../types.js';
import type { TinkerClient } from './client.js';

/** Sampling requests in flight at once, unless told otherwise. */
export const DEFAULT_CONCURRENCY = 16;

/** Cut `text` at the earliest of `stops`; whether one was found. */
function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let at = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/** Run `fn` over `items` with at most `limit` in flight; results in item order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface SampleTarget {
  client: TinkerClient;
  tokenizer: BpeTokenizer;
  /** The `tinker://…` sampler weights to sample. */
  samplerPath: string;
  /** Requests in flight at once (default DEFAULT_CONCURRENCY). */
  concurrency?: number;
  /** Told of each prompt's token ids as sampled (after truncation), e.g. to train on the same ids later. */
  onPrompt?: (text: string, ids: number[]) => void;
}

/** Each request as one `asample` of `n` sequences; results in request order. */
export function sampleCompletions(
  target: SampleTarget,
  requests: readonly GenerateRequest[],
): Promise<Completion[][]> {
  const { client, tokenizer, samplerPath } = target;
  const eos = tokenizer.eosToken;
  return mapLimited(requests, target.concurrency ?? DEFAULT_CONCURRENCY, async (r) => {
    let prompt = tokenizer.encode(r.prompt);
    const k = r.truncatePromptTokens;
    if (k !== undefined) {
      if (!Number.isInteger(k) || k < 1) throw new RangeError(`truncatePromptTokens must be >= 1, got ${k}`);
      if (prompt.length > k) prompt = prompt.slice(prompt.length - k);
    }
    target.onPrompt?.(r.prompt, prompt);
    const stop = [...(r.stop ?? []), ...(eos ? [eos] : [])];
    const res = await client.sample({
      modelPath: samplerPath,
      prompt,
      numSamples: r.n,
      params: {
        max_tokens: r.maxTokens,
        temperature: r.temperature,
        top_p: r.topP,
        ...(r.seed === undefined ? {} : { seed: r.seed }),
        ...(stop.length ? { stop } : {}),
      },
    });
    return res.sequences.map((s): Completion => {
      const cut = cutAtStop(tokenizer.decode(s.tokens), stop);
      return {
        text: cut.text,
        finishReason: s.stopReason === 'stop' || cut.stopped ? 'stop' : 'length',
        tokenIds: s.tokens,
        logprobs: s.logprobs,
      };
    });
  });
}
