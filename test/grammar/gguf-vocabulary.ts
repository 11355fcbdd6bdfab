// A real model's vocabulary read from its GGUF, as the token matcher sees it: each id's bytes, the special
// ids and the ids that end a turn. Tests and the grammar benchmark use it until the tokenizer branch's
// BpeTokenizer.fromGguf (a full TextTokenizer) lands; then it should go.
//
// Byte-level BPE spells every byte as one printable character (GPT-2's alphabet): bytes 0x21-0x7E,
// 0xA1-0xAC and 0xAE-0xFF stand for themselves, the other 68 for U+0100 onwards in byte order.

import type { TokenVocabulary } from '../../src/grammar/token-constraint.js';
import { type GgufFile, metaNumber, metaStrings, readGguf } from '../../src/model/gguf.js';

const printable = (b: number) =>
  (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
const BYTE_OF_CHAR = (() => {
  const out = new Map<number, number>();
  let next = 0x100;
  for (let b = 0; b < 256; b++) out.set(printable(b) ? b : next++, b);
  return out;
})();

/** llama.cpp's token type of a control (special) token. */
const CONTROL = 3;

export function ggufVocabulary(fileOrPath: GgufFile | string): TokenVocabulary & { tokens: string[] } {
  const file = typeof fileOrPath === 'string' ? readGguf(fileOrPath) : fileOrPath;
  const tokens = metaStrings(file, 'tokenizer.ggml.tokens');
  const types = file.metadata.get('tokenizer.ggml.token_type') as number[] | undefined;
  const bytes: Uint8Array[] = [];
  const specialTokens = new Map<number, string>();
  const utf8 = new TextEncoder();
  tokens.forEach((t, id) => {
    if (types?.[id] === CONTROL) {
      specialTokens.set(id, t);
      bytes.push(utf8.encode(t));
      return;
    }
    const out = new Uint8Array(t.length);
    let ok = true;
    for (let i = 0; i < t.length; i++) {
      const b = BYTE_OF_CHAR.get(t.charCodeAt(i));
      if (b === undefined) ok = false;
      else out[i] = b;
    }
    // A token outside the alphabet (an added token written as text) stands for its UTF-8.
    bytes.push(ok ? out : utf8.encode(t));
  });
  const stop = new Set<number>([metaNumber(file, 'tokenizer.ggml.eos_token_id')]);
  // The chat models' end of turn: <|im_end|> is their EOS; a GGUF may also name an end-of-turn token.
  const eot = file.metadata.get('tokenizer.ggml.eot_token_id');
  if (typeof eot === 'number') stop.add(eot);
  return {
    vocabSize: tokens.length,
    stopIds: [...stop],
    specialTokens,
    tokenBytes: (id: number) => bytes[id] as Uint8Array,
    tokens,
  };
}
