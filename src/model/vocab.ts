// The built-in model's vocabulary: the 256 byte values, then a few special tokens the prompt format needs.
// Byte-level so it covers program text in any language with no tokenizer trained on outside data; the
// format tags are single tokens so a small model spends its context on content. Grammars, the sampler
// and the tokenizer all read token ids from here.

export const BYTE_TOKENS = 256;

/** Special tokens, in id order from 256. Their text never appears as bytes in an encoded sequence. */
export const SPECIAL_TOKENS = [
  '<|bos|>',
  '<|eos|>',
  '<|pad|>',
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
] as const;

export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export const SPECIAL_ID: Readonly<Record<SpecialToken, number>> = Object.fromEntries(
  SPECIAL_TOKENS.map((t, i) => [t, BYTE_TOKENS + i]),
) as Record<SpecialToken, number>;

/** Smallest vocabulary that holds bytes and specials; model presets use 272 to leave room. */
export const MIN_VOCAB = BYTE_TOKENS + SPECIAL_TOKENS.length;
