// @huggingface/tokenizers runs two pre-tokenizers differently from the Rust library that defines the
// tokenizer.json format (the one transformers uses and models were trained with):
//   - ByteLevel with use_regex splits with a built-in GPT-2 pattern written as a JavaScript regex, whose
//     `\s` takes U+FEFF and misses U+0085 (`x\uFEFF,` is one piece in Rust, two here);
//   - Digits matches `\d`, which in JavaScript is 0-9 only, where Rust takes every number character
//     (`²`, `٣`, `①`).
// Both are rewritten into Split pre-tokenizers, whose Oniguruma patterns the library translates faithfully
// (`\s` becomes Unicode White_Space), so that any tokenizer.json encodes as in Python.

/** GPT-2's split, as the Rust ByteLevel pre-tokenizer has it. */
const GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const split = (regex: string) => ({
  type: 'Split',
  pattern: { Regex: regex },
  behavior: 'Isolated',
  invert: false,
});

export function faithfulPreTokenizer(pre: unknown): unknown {
  if (typeof pre !== 'object' || pre === null) return pre;
  const p = pre as Record<string, unknown>;
  if (p.type === 'Sequence' && Array.isArray(p.pretokenizers))
    return { ...p, pretokenizers: p.pretokenizers.map(faithfulPreTokenizer) };
  if (p.type === 'ByteLevel' && p.use_regex !== false)
    return { type: 'Sequence', pretokenizers: [split(GPT2_SPLIT), { ...p, use_regex: false }] };
  if (p.type === 'Digits') return split(p.individual_digits ? '\\p{N}' : '\\p{N}+');
  return pre;
}
