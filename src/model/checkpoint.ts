// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian float32 data. Tensor names:
//   <parameter name>               weights, named as in config.ts parameterSpecs (wte, h.0.attn.qkv.weight, ...)
//   adam.m.<name>, adam.v.<name>   AdamW first and second moments
// `__metadata__` (strings): format, config, optimizer and schedule (JSON), step, seed, and rng (the
// engine's RNG state as JSON), so a restart resumes the exact training state. Files are written to a
// temporary name, synced and renamed, so a crash leaves either the old file or the new one.
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';

export interface SafetensorsFile {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

export function writeSafetensors(
  file: string,
  // `data` may be a function that produces the tensor when its turn comes, so that a large model is
  // written holding one tensor at a time.
  tensors: ReadonlyArray<{
    name: string;
    shape: readonly number[];
    data: Float32Array | (() => Float32Array);
  }>,
  metadata: Record<string, string>,
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, headerBytes);
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      if (data.length !== t.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${t.name}: ${data.length} values for shape [${t.shape}]`);
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

export function readSafetensors(file: string): SafetensorsFile {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: too short to be a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw new Error(`${file}: bad safetensors header length`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`${file}: safetensors header is not JSON`);
  }
  const base = 8 + n;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (dtype !== 'F32') throw new Error(`${file}: tensor ${name} has dtype ${dtype}; only F32 is supported`);
    const [s, e] = data_offsets;
    if (e - s !== shape.reduce((a, b) => a * b, 1) * 4 || base + e > buf.length) {
      throw new Error(`${file}: tensor ${name} has an inconsistent size`);
    }
    const data = new Float32Array((e - s) >> 2);
    new Uint8Array(data.buffer).set(buf.subarray(base + s, base + e));
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

/** Only the `__metadata__` strings of a safetensors file: reads the header, not the tensors. */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const fd = openSync(file, 'r');
  try {
    const prefix = Buffer.alloc(8);
    if (readSync(fd, prefix, 0, 8, 0) < 8) throw new Error(`${file}: too short to be a safetensors file`);
    const n = Number(prefix.readBigUInt64LE(0));
    if (n <= 0 || n > fstatSync(fd).size - 8) throw new Error(`${file}: bad safetensors header length`);
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    try {
      const parsed = JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, string> };
      return parsed.__metadata__ ?? {};
    } catch {
      throw new Error(`${file}: safetensors header is not JSON`);
    }
  } finally {
    closeSync(fd);
  }
}
