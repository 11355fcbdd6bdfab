// The tensor directory of a safetensors file (an 8-byte little-endian header length, a JSON header
// giving each tensor's dtype, shape and byte range relative to the end of the header, then the data),
// read without the data, so a multi-gigabyte shard is read one tensor at a time.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface SafetensorsEntry {
  name: string;
  /** safetensors dtype name: F32, F16, BF16, I64, ... */
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  bytes: number;
}

export interface SafetensorsHeader {
  path: string;
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Reads and checks the header of a safetensors file: every entry's range lies in the file and fits its shape. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    if (readSync(fd, prefix, 0, 8, 0) < 8) throw new Error(`${path}: too short to be a safetensors file`);
    const n = Number(prefix.readBigUInt64LE(0));
    if (n <= 0 || n > size - 8) throw new Error(`${path}: bad safetensors header length ${n}`);
    const text = Buffer.alloc(n);
    if (readSync(fd, text, 0, n, 8) < n) throw new Error(`${path}: truncated safetensors header`);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new Error(`${path}: safetensors header is not JSON`);
    }
    const base = 8 + n;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (info ?? {}) as Record<string, string>;
        continue;
      }
      const { dtype, shape, data_offsets } = (info ?? {}) as {
        dtype?: unknown;
        shape?: unknown;
        data_offsets?: unknown;
      };
      if (
        typeof dtype !== 'string' ||
        !Array.isArray(shape) ||
        !shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(data_offsets) ||
        data_offsets.length !== 2
      )
        throw new Error(`${path}: tensor ${name} has a malformed header entry`);
      const [start, end] = data_offsets as [number, number];
      const width = DTYPE_BYTES[dtype];
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      if (width !== undefined && end - start !== count * width)
        throw new Error(`${path}: tensor ${name} holds ${end - start} bytes, not ${count} ${dtype} values`);
      if (!(start >= 0 && end >= start && base + end <= size))
        throw new Error(`${path}: tensor ${name} lies outside the file`);
      entries.set(name, { name, dtype, shape: shape as number[], offset: base + start, bytes: end - start });
    }
    return { path, entries, metadata };
  } finally {
    closeSync(fd);
  }
}
