// Byte-level tokenizer: UTF-8 bytes are ids 0-255, the special strings of vocab.ts are single ids.
// No merges and nothing learned from outside data, so it covers any program text in any language.
//
// encode() recognises the special strings anywhere in the text (a prompt writes `<answer>` and gets one
// token), so decode(encode(s)) === s for every string s. The other direction holds for every id
// sequence that encode can produce; bytes that happen to spell a special string decode to that string
// and re-encode to the special id, and byte sequences that are not valid UTF-8 decode to U+FFFD.
import type { TextTokenizer } from './text-tokenizer.js';
import { BYTE_TOKENS, MIN_VOCAB, SPECIAL_ID, SPECIAL_TOKENS, type SpecialToken } from './vocab.js';

const utf8 = new TextEncoder();
const specialPattern = new RegExp(
  SPECIAL_TOKENS.map((s) => s.replace(/[|<>/]/g, (c) => `\\${c}`)).join('|'),
  'g',
);

export interface EncodeOptions {
  /** Map special strings in the text to their ids (default true); false encodes them as plain bytes. */
  specials?: boolean;
}

export function encode(text: string, opts: EncodeOptions = {}): number[] {
  const ids: number[] = [];
  const pushBytes = (s: string) => {
    for (const b of utf8.encode(s)) ids.push(b);
  };
  if (opts.specials === false) {
    pushBytes(text);
    return ids;
  }
  let at = 0;
  for (const m of text.matchAll(specialPattern)) {
    pushBytes(text.slice(at, m.index));
    ids.push(SPECIAL_ID[m[0] as SpecialToken]);
    at = (m.index as number) + m[0].length;
  }
  pushBytes(text.slice(at));
  return ids;
}

/** Text of one special id, or undefined for a byte or an id past the named specials. */
export function specialText(id: number): string | undefined {
  return id >= BYTE_TOKENS ? SPECIAL_TOKENS[id - BYTE_TOKENS] : undefined;
}

/**
 * Decodes ids one at a time, returning the text each id completes: bytes of a multi-byte character
 * are held until the character is whole. The sampler uses it to check stop strings incrementally.
 * Ids past the named specials (unused vocabulary slots) render as nothing.
 */
export class StreamDecoder {
  // ignoreBOM: a U+FEFF at the start of the text is text (the default would drop it).
  private readonly bytes = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private pending = false;

  push(id: number): string {
    if (id >= 0 && id < BYTE_TOKENS) {
      this.pending = true;
      return this.bytes.decode(Uint8Array.of(id), { stream: true });
    }
    // A special ends any unfinished character first (rendered as U+FFFD, as decode() does).
    return this.flush() + (specialText(id) ?? '');
  }

  /** Text of a trailing unfinished character, if any; the decoder is then empty. */
  flush(): string {
    if (!this.pending) return '';
    this.pending = false;
    return this.bytes.decode();
  }
}

export function decode(ids: readonly number[]): string {
  const d = new StreamDecoder();
  let out = '';
  for (const id of ids) out += d.push(id);
  return out + d.flush();
}

/** A readable form of one id for logs and tests: the byte as a character, or the special string. */
export function tokenText(id: number): string {
  return id < BYTE_TOKENS ? String.fromCharCode(id) : (specialText(id) ?? `<${id}>`);
}

const BYTE_IDS = Array.from({ length: BYTE_TOKENS }, (_, b) => Uint8Array.of(b));
const SPECIAL_BYTES = SPECIAL_TOKENS.map((t) => utf8.encode(t));
const NO_BYTES = new Uint8Array(0);
const isSpecial = (id: number) => id >= BYTE_TOKENS && id < MIN_VOCAB;

/**
 * The byte tokenizer behind the interface real models' tokenizers share. It adds no special tokens when
 * encoding (the sampler puts BOS before an empty prompt) and has no chat template: `azr serve` renders the
 * built-in model's chats as the reference prompts' transcript (src/serve/chat-template.ts).
 */
export const byteTokenizer: TextTokenizer = {
  vocabSize: MIN_VOCAB,
  stopIds: [SPECIAL_ID['<|eos|>']],
  specialTokens: new Map(SPECIAL_TOKENS.map((t, i) => [BYTE_TOKENS + i, t])),
  encode: (text) => encode(text),
  decode: (ids, options = {}) => decode(options.skipSpecialTokens ? ids.filter((id) => !isSpecial(id)) : ids),
  streamDecoder: () => new StreamDecoder(),
  tokenBytes: (id) =>
    id >= 0 && id < BYTE_TOKENS
      ? (BYTE_IDS[id] as Uint8Array)
      : (SPECIAL_BYTES[id - BYTE_TOKENS] ?? NO_BYTES),
  hasChatTemplate: false,
  applyChatTemplate: () => {
    throw new Error('the built-in model has no chat template');
  },
};
