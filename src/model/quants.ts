// ggml's tensor encodings turned into float32: the plain floats (F32, F16, BF16), the 32-weight blocks
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the 256-weight K-quant super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
// Layouts follow ggml's block structs (ggml-common.h); every product is formed in the order gguf-py's
// `gguf.quants.dequantize` forms it, so the results are bit-identical to it (the inputs of each
// multiply and add are exact in float64, and each output is rounded to float32 once, as numpy does).
//
// A tensor is a run of blocks, row after row, so decoding needs only the byte count of a block: one
// tight loop per format over a Uint8Array, no allocation per weight.
import type { GgmlTypeName } from './gguf.js';

/** float32 values of all 65,536 half-precision bit patterns, the way numpy widens float16 (NaN payloads kept). */
const HALF = (() => {
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) bits[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant === 0) bits[h] = sign;
    else {
      // Subnormal half: shift the mantissa up until its leading one is the implicit bit.
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits[h] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  return new Float32Array(bits.buffer);
})();

/** The float32 value of a little-endian half at `src[at]`. */
function half(src: Uint8Array, at: number): number {
  return HALF[src[at]! | (src[at + 1]! << 8)]!;
}

type Decoder = (src: Uint8Array, blocks: number, out: Float32Array) => void;

function f32(src: Uint8Array, count: number, out: Float32Array): void {
  if (src.byteOffset % 4 === 0) out.set(new Float32Array(src.buffer, src.byteOffset, count));
  else new Uint8Array(out.buffer, out.byteOffset, count * 4).set(src.subarray(0, count * 4));
}

function f16(src: Uint8Array, count: number, out: Float32Array): void {
  for (let i = 0; i < count; i++) out[i] = half(src, 2 * i);
}

function bf16(src: Uint8Array, count: number, out: Float32Array): void {
  // bfloat16 is the top half of a float32: widen the bits, not the value.
  const bits = new Uint32Array(out.buffer, out.byteOffset, count);
  for (let i = 0; i < count; i++) bits[i] = ((src[2 * i]! | (src[2 * i + 1]! << 8)) << 16) >>> 0;
}

// block_q4_0 (18 bytes): f16 d, 16 bytes of nibbles; weight j < 16 is the low nibble of byte j, weight
// j + 16 its high nibble; w = d * (q - 8).
const q4_0: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18, o += 32) {
    const d = half(src, s);
    for (let j = 0; j < 16; j++) {
      const x = src[s + 2 + j]!;
      out[o + j] = d * ((x & 15) - 8);
      out[o + j + 16] = d * ((x >> 4) - 8);
    }
  }
};

// block_q4_1 (20 bytes): f16 d, f16 m, 16 bytes of nibbles; w = d * q + m.
const q4_1: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 20, o += 32) {
    const d = half(src, s);
    const m = half(src, s + 2);
    for (let j = 0; j < 16; j++) {
      const x = src[s + 4 + j]!;
      out[o + j] = d * (x & 15) + m;
      out[o + j + 16] = d * (x >> 4) + m;
    }
  }
};

// block_q5_0 (22 bytes): f16 d, u32 qh (bit j is the fifth bit of weight j), 16 bytes of nibbles;
// w = d * (q - 16).
const q5_0: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 22, o += 32) {
    const d = half(src, s);
    const qh = (src[s + 2]! | (src[s + 3]! << 8) | (src[s + 4]! << 16) | (src[s + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const x = src[s + 6 + j]!;
      out[o + j] = d * (((x & 15) | (((qh >>> j) & 1) << 4)) - 16);
      out[o + j + 16] = d * (((x >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  }
};

// block_q5_1 (24 bytes): f16 d, f16 m, u32 qh, 16 bytes of nibbles; w = d * q + m.
const q5_1: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 24, o += 32) {
    const d = half(src, s);
    const m = half(src, s + 2);
    const qh = (src[s + 4]! | (src[s + 5]! << 8) | (src[s + 6]! << 16) | (src[s + 7]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const x = src[s + 8 + j]!;
      out[o + j] = d * ((x & 15) | (((qh >>> j) & 1) << 4)) + m;
      out[o + j + 16] = d * ((x >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m;
    }
  }
};

// block_q8_0 (34 bytes): f16 d, 32 int8; w = d * q.
const q8_0: Decoder = (src, blocks, out) => {
  const q = new Int8Array(src.buffer, src.byteOffset, src.length);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 34, o += 32) {
    const d = half(src, s);
    for (let j = 0; j < 32; j++) out[o + j] = d * q[s + 2 + j]!;
  }
};

// block_q2_K (84 bytes): 16 scale bytes (low nibble scale, high nibble min, per 16 weights), 64 bytes of
// 2-bit q, f16 d, f16 dmin. Weight e: byte 32 * (e >> 7) + (e & 31), shift 2 * ((e >> 5) & 3);
// w = (d * scale) * q - dmin * min.
const q2_K: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 84, o += 256) {
    const d = half(src, s + 80);
    const dmin = half(src, s + 82);
    for (let g = 0; g < 16; g++) {
      const sc = src[s + g]!;
      const dl = d * (sc & 15);
      const ml = dmin * (sc >> 4);
      // Weights 16g..16g+15 share a byte run and a shift.
      const q = s + 16 + 32 * (g >> 3) + 16 * (g & 1);
      const shift = 2 * ((g >> 1) & 3);
      const w = o + 16 * g;
      for (let i = 0; i < 16; i++) out[w + i] = dl * ((src[q + i]! >> shift) & 3) - ml;
    }
  }
};

// block_q3_K (110 bytes): 32 bytes hmask, 64 bytes of 2-bit low q, 12 bytes of 6-bit scales, f16 d.
// Weight e: low bits as in Q2_K, high bit (hmask[e & 31] >> (e >> 5)) & 1, and q = low - 4 when the high
// bit is clear. Scale g (per 16 weights): low nibble of byte g & 7 (g < 8) or its high nibble (g >= 8),
// with bits 4-5 from byte 8 + (g & 3), shifted by 2 * (g >> 2); minus 32. w = (d * scale) * q.
const q3_K: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 110, o += 256) {
    const d = half(src, s + 108);
    for (let g = 0; g < 16; g++) {
      const lo = (src[s + 96 + (g & 7)]! >> (g < 8 ? 0 : 4)) & 15;
      const hi = (src[s + 104 + (g & 3)]! >> (2 * (g >> 2))) & 3;
      const dl = d * ((lo | (hi << 4)) - 32);
      const q = s + 32 + 32 * (g >> 3) + 16 * (g & 1);
      const shift = 2 * ((g >> 1) & 3);
      const m = s + 16 * (g & 1);
      const bit = g >> 1;
      const w = o + 16 * g;
      for (let i = 0; i < 16; i++)
        out[w + i] = dl * (((src[q + i]! >> shift) & 3) - ((src[m + i]! >> bit) & 1 ? 0 : 4));
    }
  }
};

/**
 * The 6-bit scale and min of sub-block j (0-7) of a Q4_K/Q5_K super-block, from the 12 bytes at `at`:
 * bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3, and scales/mins 4-7 take their low 4 bits
 * from bytes 8-11 and their top 2 bits from the spare bits of bytes 0-7.
 */
function scaleMin(src: Uint8Array, at: number, j: number, into: Uint8Array): void {
  if (j < 4) {
    into[0] = src[at + j]! & 63;
    into[1] = src[at + 4 + j]! & 63;
  } else {
    into[0] = (src[at + 4 + j]! & 15) | ((src[at + j - 4]! >> 6) << 4);
    into[1] = (src[at + 4 + j]! >> 4) | ((src[at + j]! >> 6) << 4);
  }
}

// block_q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles. Sub-block 2k
// (32 weights) is the low nibbles of bytes 32k..32k+31, sub-block 2k+1 their high nibbles;
// w = (d * scale) * q - dmin * min.
const q4_K: Decoder = (src, blocks, out) => {
  const sm = new Uint8Array(2);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 144, o += 256) {
    const d = half(src, s);
    const dmin = half(src, s + 2);
    for (let k = 0; k < 4; k++) {
      scaleMin(src, s + 4, 2 * k, sm);
      const d0 = d * sm[0]!;
      const m0 = dmin * sm[1]!;
      scaleMin(src, s + 4, 2 * k + 1, sm);
      const d1 = d * sm[0]!;
      const m1 = dmin * sm[1]!;
      const q = s + 16 + 32 * k;
      const w = o + 64 * k;
      for (let l = 0; l < 32; l++) {
        const x = src[q + l]!;
        out[w + l] = d0 * (x & 15) - m0;
        out[w + 32 + l] = d1 * (x >> 4) - m1;
      }
    }
  }
};

// block_q5_K (176 bytes): f16 d, f16 dmin, 12 bytes of scales/mins, 32 bytes qh, 128 bytes of nibbles.
// As Q4_K, with bit j of qh[l] the fifth bit of weight l of sub-block j.
const q5_K: Decoder = (src, blocks, out) => {
  const sm = new Uint8Array(2);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 176, o += 256) {
    const d = half(src, s);
    const dmin = half(src, s + 2);
    for (let k = 0; k < 4; k++) {
      scaleMin(src, s + 4, 2 * k, sm);
      const d0 = d * sm[0]!;
      const m0 = dmin * sm[1]!;
      scaleMin(src, s + 4, 2 * k + 1, sm);
      const d1 = d * sm[0]!;
      const m1 = dmin * sm[1]!;
      const q = s + 48 + 32 * k;
      const w = o + 64 * k;
      for (let l = 0; l < 32; l++) {
        const x = src[q + l]!;
        const h = src[s + 16 + l]!;
        out[w + l] = d0 * ((x & 15) | (((h >> (2 * k)) & 1) << 4)) - m0;
        out[w + 32 + l] = d1 * ((x >> 4) | (((h >> (2 * k + 1)) & 1) << 4)) - m1;
      }
    }
  }
};

// block_q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, f16 d.
// Weight e (half h = e >> 7, p = e & 127): low nibble of ql[64h + (p & 63)] (high nibble when p >= 64),
// high bits (qh[32h + (p & 31)] >> 2 * (p >> 5)) & 3; q = low | high << 4, minus 32; scale e >> 4;
// w = (d * scale) * q.
const q6_K: Decoder = (src, blocks, out) => {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 210, o += 256) {
    const d = half(src, s + 208);
    for (let g = 0; g < 16; g++) {
      const dl = d * ((src[s + 192 + g]! << 24) >> 24);
      const low = s + 64 * (g >> 3) + 16 * (g & 3);
      const lowShift = g & 4; // the high nibble for the second 64 weights of each half
      const high = s + 128 + 32 * (g >> 3) + 16 * (g & 1);
      const highShift = 2 * ((g >> 1) & 3);
      const w = o + 16 * g;
      for (let i = 0; i < 16; i++)
        out[w + i] =
          dl * ((((src[low + i]! >> lowShift) & 15) | (((src[high + i]! >> highShift) & 3) << 4)) - 32);
    }
  }
};

const BLOCKED: Partial<Record<GgmlTypeName, { weights: number; bytes: number; decode: Decoder }>> = {
  Q4_0: { weights: 32, bytes: 18, decode: q4_0 },
  Q4_1: { weights: 32, bytes: 20, decode: q4_1 },
  Q5_0: { weights: 32, bytes: 22, decode: q5_0 },
  Q5_1: { weights: 32, bytes: 24, decode: q5_1 },
  Q8_0: { weights: 32, bytes: 34, decode: q8_0 },
  Q2_K: { weights: 256, bytes: 84, decode: q2_K },
  Q3_K: { weights: 256, bytes: 110, decode: q3_K },
  Q4_K: { weights: 256, bytes: 144, decode: q4_K },
  Q5_K: { weights: 256, bytes: 176, decode: q5_K },
  Q6_K: { weights: 256, bytes: 210, decode: q6_K },
};

const PLAIN: Partial<Record<GgmlTypeName, { bytes: number; decode: Decoder }>> = {
  F32: { bytes: 4, decode: f32 },
  F16: { bytes: 2, decode: f16 },
  BF16: { bytes: 2, decode: bf16 },
};

/** The ggml types `dequantize` decodes. */
export const DEQUANTIZABLE_TYPES: readonly GgmlTypeName[] = [
  ...(Object.keys(PLAIN) as GgmlTypeName[]),
  ...(Object.keys(BLOCKED) as GgmlTypeName[]),
];

/**
 * `count` weights of ggml type `type` from `src` as float32, into `out` (a new array by default).
 * `tensor` names the tensor in errors: an unsupported type, or bytes that do not hold `count` weights.
 */
export function dequantize(
  type: GgmlTypeName,
  src: Uint8Array,
  count: number,
  tensor: string,
  out: Float32Array = new Float32Array(count),
): Float32Array {
  const plain = PLAIN[type];
  const blocked = BLOCKED[type];
  if (!plain && !blocked)
    throw new Error(
      `tensor ${tensor}: ggml type ${type} is not supported (supported: ${DEQUANTIZABLE_TYPES.join(', ')})`,
    );
  const weights = blocked ? blocked.weights : 1;
  const bytes = blocked ? blocked.bytes : plain!.bytes;
  if (count % weights !== 0)
    throw new Error(`tensor ${tensor}: ${count} weights are not whole ${type} blocks of ${weights}`);
  const need = (count / weights) * bytes;
  if (src.length < need)
    throw new Error(`tensor ${tensor}: ${count} ${type} weights need ${need} bytes, got ${src.length}`);
  if (out.length < count) throw new Error(`tensor ${tensor}: output holds ${out.length} of ${count} weights`);
  (blocked ?? plain)!.decode(src, blocked ? count / weights : count, out);
  return out;
}
