// GGUF files (llama.cpp's checkpoint format): the header, the metadata and the tensor directory, read
// without loading the tensor data. Layout (little-endian, version 2 or 3):
//   "GGUF", u32 version, u64 tensor count, u64 metadata count,
//   metadata: key (u64 length + UTF-8), u32 value type, value (arrays: u32 element type, u64 count, values),
//   tensor infos: name, u32 dims, u64 extent per dim (innermost first), u32 ggml type, u64 offset,
//   padding to `general.alignment` (default 32), then the tensor data, each tensor at its offset.
// A tensor's extents are ggml's: ne[0] is the fastest-varying dimension, so the row-major shape is the list
// reversed (a [out, in] weight has ne = [in, out]).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFileRange } from '../util/file-range.js';

/** ggml tensor types a GGUF may hold: block size in weights and bytes per block. */
export const GGML_TYPES = {
  F32: { id: 0, block: 1, bytes: 4 },
  F16: { id: 1, block: 1, bytes: 2 },
  Q4_0: { id: 2, block: 32, bytes: 18 },
  Q4_1: { id: 3, block: 32, bytes: 20 },
  Q5_0: { id: 6, block: 32, bytes: 22 },
  Q5_1: { id: 7, block: 32, bytes: 24 },
  Q8_0: { id: 8, block: 32, bytes: 34 },
  Q8_1: { id: 9, block: 32, bytes: 36 },
  Q2_K: { id: 10, block: 256, bytes: 84 },
  Q3_K: { id: 11, block: 256, bytes: 110 },
  Q4_K: { id: 12, block: 256, bytes: 144 },
  Q5_K: { id: 13, block: 256, bytes: 176 },
  Q6_K: { id: 14, block: 256, bytes: 210 },
  Q8_K: { id: 15, block: 256, bytes: 292 },
  IQ2_XXS: { id: 16, block: 256, bytes: 66 },
  IQ2_XS: { id: 17, block: 256, bytes: 74 },
  IQ3_XXS: { id: 18, block: 256, bytes: 98 },
  IQ1_S: { id: 19, block: 256, bytes: 50 },
  IQ4_NL: { id: 20, block: 32, bytes: 18 },
  IQ3_S: { id: 21, block: 256, bytes: 110 },
  IQ2_S: { id: 22, block: 256, bytes: 82 },
  IQ4_XS: { id: 23, block: 256, bytes: 136 },
  I8: { id: 24, block: 1, bytes: 1 },
  I16: { id: 25, block: 1, bytes: 2 },
  I32: { id: 26, block: 1, bytes: 4 },
  I64: { id: 27, block: 1, bytes: 8 },
  F64: { id: 28, block: 1, bytes: 8 },
  IQ1_M: { id: 29, block: 256, bytes: 56 },
  BF16: { id: 30, block: 1, bytes: 2 },
} as const;

export type GgmlTypeName = keyof typeof GGML_TYPES;

const TYPE_BY_ID = new Map<number, GgmlTypeName>(
  (Object.keys(GGML_TYPES) as GgmlTypeName[]).map((name) => [GGML_TYPES[name].id, name]),
);

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (ggml's extents reversed): a linear weight is [out, in]. */
  shape: number[];
  type: GgmlTypeName;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Bytes of data. */
  bytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
}

const VALUE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** Sequential reads over a file through a window that refills: metadata can hold megabytes of vocabulary. */
class Cursor {
  private buf = Buffer.alloc(0);
  private start = 0; // file offset of buf[0]
  private at = 0; // file offset of the next read
  private readonly size: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {
    this.size = fstatSync(fd).size;
  }

  get offset(): number {
    return this.at;
  }

  private need(n: number): number {
    if (this.at + n > this.size)
      throw new Error(`${this.path}: truncated GGUF (needs byte ${this.at + n} of ${this.size})`);
    if (this.at < this.start || this.at + n > this.start + this.buf.length) {
      const length = Math.min(this.size - this.at, Math.max(n, 1 << 20));
      this.buf = Buffer.alloc(length);
      readSync(this.fd, this.buf, 0, length, this.at);
      this.start = this.at;
    }
    const i = this.at - this.start;
    this.at += n;
    return i;
  }

  u8 = () => {
    const i = this.need(1); // before reading this.buf: need() may replace it
    return this.buf.readUInt8(i);
  };
  i8 = () => {
    const i = this.need(1);
    return this.buf.readInt8(i);
  };
  u16 = () => {
    const i = this.need(2);
    return this.buf.readUInt16LE(i);
  };
  i16 = () => {
    const i = this.need(2);
    return this.buf.readInt16LE(i);
  };
  u32 = () => {
    const i = this.need(4);
    return this.buf.readUInt32LE(i);
  };
  i32 = () => {
    const i = this.need(4);
    return this.buf.readInt32LE(i);
  };
  f32 = () => {
    const i = this.need(4);
    return this.buf.readFloatLE(i);
  };
  f64 = () => {
    const i = this.need(8);
    return this.buf.readDoubleLE(i);
  };
  u64 = () => {
    const i = this.need(8);
    return this.buf.readBigUInt64LE(i);
  };
  i64 = () => {
    const i = this.need(8);
    return this.buf.readBigInt64LE(i);
  };

  /** A u64 that must fit a JavaScript number (counts, lengths, offsets). */
  count(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.path}: ${what} ${v} is too large`);
    return Number(v);
  }

  string(): string {
    const n = this.count('string length');
    const i = this.need(n);
    try {
      return this.decoder.decode(this.buf.subarray(i, i + n));
    } catch {
      throw new Error(`${this.path}: a metadata string at byte ${this.start + i} is not UTF-8`);
    }
  }
}

function readValue(c: Cursor, type: number, path: string, key: string): GgufValue {
  switch (type) {
    case VALUE.UINT8:
      return c.u8();
    case VALUE.INT8:
      return c.i8();
    case VALUE.UINT16:
      return c.u16();
    case VALUE.INT16:
      return c.i16();
    case VALUE.UINT32:
      return c.u32();
    case VALUE.INT32:
      return c.i32();
    case VALUE.FLOAT32:
      return c.f32();
    case VALUE.FLOAT64:
      return c.f64();
    case VALUE.BOOL:
      return c.u8() !== 0;
    case VALUE.STRING:
      return c.string();
    case VALUE.UINT64: {
      const v = c.u64();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case VALUE.INT64: {
      const v = c.i64();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case VALUE.ARRAY: {
      const inner = c.u32();
      if (inner === VALUE.ARRAY) throw new Error(`${path}: ${key}: nested arrays are not supported`);
      const n = c.count(`${key} length`);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, inner, path, key);
      return out;
    }
    default:
      throw new Error(`${path}: ${key} has unknown GGUF value type ${type}`);
  }
}

/** Reads a GGUF file's header, metadata and tensor directory (the tensor data stays on disk). */
export function readGguf(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    const c = new Cursor(fd, path);
    const magic = c.u32();
    if (magic !== 0x46554747) throw new Error(`${path}: not a GGUF file (no GGUF magic)`);
    const version = c.u32();
    if (version !== 2 && version !== 3)
      throw new Error(`${path}: GGUF version ${version} is not supported (2 and 3 are)`);
    const tensorCount = c.count('tensor count');
    const kvCount = c.count('metadata count');
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = c.string();
      metadata.set(key, readValue(c, c.u32(), path, key));
    }
    const raw: { name: string; ne: number[]; type: GgmlTypeName; rel: number }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.string();
      const dims = c.u32();
      const ne: number[] = [];
      for (let d = 0; d < dims; d++) ne.push(c.count(`${name} extent`));
      const typeId = c.u32();
      const type = TYPE_BY_ID.get(typeId);
      if (!type) throw new Error(`${path}: tensor ${name} has unknown ggml type ${typeId}`);
      raw.push({ name, ne, type, rel: c.count(`${name} offset`) });
    }
    const alignment = Number(metadata.get('general.alignment') ?? 32);
    const dataStart = Math.ceil(c.offset / alignment) * alignment;
    const size = fstatSync(fd).size;
    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of raw) {
      const { block, bytes: blockBytes } = GGML_TYPES[t.type];
      const count = t.ne.reduce((a, b) => a * b, 1);
      if ((t.ne[0] ?? 1) % block !== 0)
        throw new Error(`${path}: tensor ${t.name} rows of ${t.ne[0]} are not whole ${t.type} blocks`);
      const bytes = (count / block) * blockBytes;
      const offset = dataStart + t.rel;
      if (offset + bytes > size)
        throw new Error(`${path}: tensor ${t.name} ends at byte ${offset + bytes}, past the file's ${size}`);
      tensors.set(t.name, { name: t.name, shape: [...t.ne].reverse(), type: t.type, offset, bytes });
    }
    return { path, version, metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

/** The raw bytes of one tensor, read from disk. */
export function readTensorBytes(file: GgufFile, name: string): Uint8Array {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`${file.path}: no tensor ${name}`);
  return readFileRange(file.path, t.offset, t.bytes, `tensor ${name}`);
}

/** A metadata value of the expected kind, or an error that names the key. */
export function metaNumber(file: GgufFile, key: string, fallback?: number): number {
  const v = file.metadata.get(key);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number') throw new Error(`${file.path}: metadata ${key} is missing or not a number`);
  return v;
}

export function metaString(file: GgufFile, key: string, fallback?: string): string {
  const v = file.metadata.get(key);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') throw new Error(`${file.path}: metadata ${key} is missing or not a string`);
  return v;
}

export function metaStrings(file: GgufFile, key: string): string[] {
  const v = file.metadata.get(key);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new Error(`${file.path}: metadata ${key} is missing or not a list of strings`);
  return v as string[];
}
