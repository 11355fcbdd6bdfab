// GPT-2's byte-level alphabet: byte-level BPE vocabularies (GPT-2, Llama 3, Qwen, SmolLM) spell every byte
// as one printable character, so that a token is a string: bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand
// for themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) for U+0100 onwards in byte order
// (space is U+0120 `Ġ`, newline U+010A `Ċ`). A token's bytes are its characters mapped back.

function printable(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/** Byte of each stand-in character code, -1 for characters outside the alphabet. */
const BYTE_OF_CHAR: Int16Array = (() => {
  const out = new Int16Array(0x100 + 68).fill(-1);
  let next = 0x100;
  for (let b = 0; b < 256; b++) out[printable(b) ? b : next++] = b;
  return out;
})();

/**
 * Writes the bytes a byte-level token stands for into `out` at `at` and returns how many (one per
 * character), or -1 when a character is outside the alphabet (as in a special token's text, whose bytes
 * are then its UTF-8, as the Hugging Face decoder does). `out` must have room for `token.length` bytes.
 */
export function writeByteLevelBytes(token: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < token.length; i++) {
    const b = BYTE_OF_CHAR[token.charCodeAt(i)];
    if (b === undefined || b < 0) return -1;
    out[at + i] = b;
  }
  return token.length;
}
