// Reading one stored tensor from a checkpoint file as float32: its bytes pass through a small reused
// buffer a few megabytes at a time and are decoded into the output, so loading a model touches no
// memory beyond the float32 tensors themselves (a fresh byte copy of each tensor would double the
// memory the kernel must fault in, which on this kind of machine costs as much as the decoding).
import { closeSync, openSync } from 'node:fs';
import { readFully } from '../util/file-range.js';
import { GGML_TYPES, type GgmlTypeName } from './gguf.js';
import { dequantize } from './quants.js';

const CHUNK_BYTES = 4 << 20;
let scratch: Uint8Array | undefined; // allocated on first use, then reused

/** Where a tensor lies in a file and how it is stored. */
export interface StoredTensor {
  path: string;
  /** Absolute byte offset of its data. */
  offset: number;
  type: GgmlTypeName;
  /** Weights (the product of its shape). */
  count: number;
  /** Names it in errors. */
  name: string;
}

/** The tensor as float32, into `out` when given (it must hold `count` values), else into a new array. */
export function readTensorFloats(
  t: StoredTensor,
  out: Float32Array = new Float32Array(t.count),
): Float32Array {
  if (out.length < t.count)
    throw new Error(`tensor ${t.name}: output holds ${out.length} of ${t.count} weights`);
  const { block, bytes: blockBytes } = GGML_TYPES[t.type];
  if (t.count % block !== 0)
    throw new Error(`tensor ${t.name}: ${t.count} weights are not whole ${t.type} blocks`);
  const fd = openSync(t.path, 'r');
  try {
    if (t.type === 'F32') {
      readFully(
        fd,
        new Uint8Array(out.buffer, out.byteOffset, t.count * 4),
        t.offset,
        t.path,
        `tensor ${t.name}`,
      );
      return out;
    }
    // Whole blocks per chunk, so each chunk decodes on its own.
    const blocksPerChunk = Math.floor(CHUNK_BYTES / blockBytes);
    const totalBlocks = t.count / block;
    scratch ??= new Uint8Array(CHUNK_BYTES);
    for (let b = 0; b < totalBlocks; b += blocksPerChunk) {
      const n = Math.min(blocksPerChunk, totalBlocks - b);
      const bytes = scratch.subarray(0, n * blockBytes);
      readFully(fd, bytes, t.offset + b * blockBytes, t.path, `tensor ${t.name}`);
      dequantize(t.type, bytes, n * block, t.name, out.subarray(b * block, (b + n) * block));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
