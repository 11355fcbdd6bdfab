// The bytes of the built-in model's token ids, for the `bytes` and `text_offset` fields of `azr serve`'s
// log-probabilities: a byte token is that one byte (not the UTF-8 of its display character), a special
// token the UTF-8 of its text.
import { specialText } from '../model/tokenizer.js';
import { BYTE_TOKENS } from '../model/vocab.js';

const utf8 = new TextEncoder();

export function builtinTokenBytes(id: number): number[] {
  return id >= 0 && id < BYTE_TOKENS ? [id] : [...utf8.encode(specialText(id) ?? '')];
}
