// The dequantizers against Python gguf's `gguf.quants.dequantize`, bit for bit, on the blocks
// python/gguf_fixture.py recorded: blocks of every tensor type in the three pullable models, and
// synthetic blocks (gguf's own quantizer, or random bytes with sane scales) for the other types.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { GgmlTypeName } from '../../src/model/gguf.js';
import { DEQUANTIZABLE_TYPES, dequantize } from '../../src/model/quants.js';

interface QuantCase {
  type: GgmlTypeName;
  count: number;
  source: string;
  bytes: string;
  expected: string;
}

const fixture = JSON.parse(readFileSync('test/fixtures/gguf-quants.json', 'utf8')) as { cases: QuantCase[] };

/** A copy of a base64 payload at offset 0 of its own buffer (so float views are aligned). */
function bytesOf(b64: string): Uint8Array {
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}

test('every supported type has recorded blocks, from a real file where one holds it', () => {
  const types = new Set(fixture.cases.map((c) => c.type));
  assert.deepEqual([...types].sort(), [...DEQUANTIZABLE_TYPES].sort());
  const real = new Set(fixture.cases.filter((c) => /^(smollm2|qwen)/.test(c.source)).map((c) => c.type));
  for (const t of ['Q4_1', 'Q8_0', 'Q5_0', 'Q4_K', 'Q6_K', 'F32']) assert.ok(real.has(t as GgmlTypeName), t);
});

for (const c of fixture.cases) {
  test(`${c.type}: ${c.source}`, () => {
    const got = dequantize(c.type, bytesOf(c.bytes), c.count, c.source);
    const want = new Float32Array(bytesOf(c.expected).buffer);
    assert.equal(got.length, want.length);
    // Compare bit patterns, so NaN, -0 and subnormals count too.
    const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
    const w = new Uint32Array(want.buffer);
    for (let i = 0; i < w.length; i++) {
      if (g[i] !== w[i]) assert.fail(`${c.type} weight ${i}: got ${got[i]}, gguf gives ${want[i]}`);
    }
  });
}

test('a block payload read at an unaligned offset decodes the same', () => {
  const c = fixture.cases.find((x) => x.type === 'F32')!;
  const src = bytesOf(c.bytes);
  const shifted = new Uint8Array(src.length + 1);
  shifted.set(src, 1);
  assert.deepEqual(dequantize('F32', shifted.subarray(1), c.count, 'x'), new Float32Array(src.buffer));
});

test('an unsupported type is an error naming the type and the tensor', () => {
  assert.throws(
    () => dequantize('IQ2_XXS', new Uint8Array(66), 256, 'blk.3.attn_q.weight'),
    /tensor blk\.3\.attn_q\.weight: ggml type IQ2_XXS is not supported \(supported: F32, F16, BF16, Q4_0/,
  );
});

test('too few bytes, or a count that is not whole blocks, is an error naming the tensor', () => {
  assert.throws(
    () => dequantize('Q4_K', new Uint8Array(143), 256, 'w'),
    /tensor w: 256 Q4_K weights need 144 bytes, got 143/,
  );
  assert.throws(
    () => dequantize('Q8_0', new Uint8Array(68), 48, 'w'),
    /tensor w: 48 weights are not whole Q8_0 blocks of 32/,
  );
});
