// The bytes of the built-in model's token ids, for the `bytes` and `text_offset` fields of `azr serve`'s
// log-probabilities: a byte token is that one byte (not the UTF-8 of its display character), a special
// token the UTF-8 of its text. The byte tokenizer's own tokenBytes, as the server's option wants it.
import { byteTokenizer } from '../model/tokenizer.js';

export function builtinTokenBytes(id: number): number[] {
  return [...byteTokenizer.tokenBytes(id)];
}
