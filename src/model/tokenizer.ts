// Byte-level tokenizer: UTF-8 bytes are ids 0-255, the special strings of vocab.ts are single ids.
// No merges and nothing learned from outside data, so it covers any program text in any language.
import { BYTE_TOKENS, SPECIAL_ID, SPECIAL_TOKENS, type SpecialToken } from './vocab.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });
const specialPattern = new RegExp(
  SPECIAL_TOKENS.map((s) => s.replace(/[|<>/]/g, (c) => `\\${c}`)).join('|'),
  'g',
);

export function encode(text: string): number[] {
  const ids: number[] = [];
  let at = 0;
  for (const m of text.matchAll(specialPattern)) {
    for (const b of encoder.encode(text.slice(at, m.index))) ids.push(b);
    ids.push(SPECIAL_ID[m[0] as SpecialToken]);
    at = (m.index as number) + m[0].length;
  }
  for (const b of encoder.encode(text.slice(at))) ids.push(b);
  return ids;
}

export function decode(ids: readonly number[]): string {
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += decoder.decode(Uint8Array.from(bytes));
    bytes = [];
  };
  for (const id of ids) {
    if (id < BYTE_TOKENS) bytes.push(id);
    else {
      flush();
      out += SPECIAL_TOKENS[id - BYTE_TOKENS] ?? '';
    }
  }
  flush();
  return out;
}

export function tokenText(id: number): string {
  return id < BYTE_TOKENS ? String.fromCharCode(id) : (SPECIAL_TOKENS[id - BYTE_TOKENS] ?? `<${id}>`);
}
