// A small zip reader: the central directory, and entries stored (method 0) or deflated (method 8),
// inflated with node:zlib and checked against their size and CRC-32. No zip64, no encryption: what a
// Python wheel or a zip of source files needs. The directory is read from the end of the file, and an
// entry can be streamed, so a wheel of hundreds of megabytes is never held in memory.
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, createInflateRaw, inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  flags: number;
  crc32: number;
  packedBytes: number;
  bytes: number;
  /** Offset of the entry's local header. */
  localHeader: number;
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** The central directory of a zip archive, in its order (directories included, their names ending in /). */
export function readZipDirectory(file: string): ZipEntry[] {
  const fail = (why: string): never => {
    throw new Error(`${file}: ${why}`);
  };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    // The end record is 22 bytes plus a comment of at most 65535.
    const tailStart = Math.max(0, size - 22 - 0xffff);
    const tail = readAt(fd, tailStart, size - tailStart);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail('not a zip archive (no end of central directory)');
    const count = tail.readUInt16LE(eocd + 10);
    const cdBytes = tail.readUInt32LE(eocd + 12);
    const cdStart = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdStart === 0xffffffff) fail('zip64 archives are not supported');
    if (cdStart + cdBytes > size) fail('central directory lies past the end of the file');
    const cd = readAt(fd, cdStart, cdBytes);
    const entries: ZipEntry[] = [];
    let at = 0;
    for (let k = 0; k < count; k++) {
      if (at + 46 > cd.length || cd.readUInt32LE(at) !== 0x02014b50) fail('corrupt central directory');
      const nameLen = cd.readUInt16LE(at + 28);
      entries.push({
        name: cd.subarray(at + 46, at + 46 + nameLen).toString('utf8'),
        flags: cd.readUInt16LE(at + 8),
        method: cd.readUInt16LE(at + 10),
        crc32: cd.readUInt32LE(at + 16),
        packedBytes: cd.readUInt32LE(at + 20),
        bytes: cd.readUInt32LE(at + 24),
        localHeader: cd.readUInt32LE(at + 42),
      });
      at += 46 + nameLen + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Where an entry's packed data starts (after its local header), checking what can be checked first. */
function dataStart(file: string, entry: ZipEntry): number {
  const fail = (why: string): never => {
    throw new Error(`${file}: ${entry.name}: ${why}`);
  };
  if (entry.flags & 1) fail('is encrypted');
  if (entry.method !== 0 && entry.method !== 8)
    fail(`compression method ${entry.method} is not supported (only stored and deflate)`);
  const fd = openSync(file, 'r');
  try {
    const local = readAt(fd, entry.localHeader, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50) fail('bad local header');
    const start = entry.localHeader + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + entry.packedBytes > fstatSync(fd).size) fail('data lies past the end of the file');
    return start;
  } finally {
    closeSync(fd);
  }
}

/** A whole entry, decompressed and checked: for small entries. */
export function readZipEntry(file: string, entry: ZipEntry): Uint8Array {
  const start = dataStart(file, entry);
  const fd = openSync(file, 'r');
  let raw: Buffer;
  try {
    raw = readAt(fd, start, entry.packedBytes);
  } finally {
    closeSync(fd);
  }
  let bytes: Uint8Array;
  try {
    bytes = entry.method === 0 ? Uint8Array.from(raw) : new Uint8Array(inflateRawSync(raw));
  } catch (e) {
    throw new Error(`${file}: ${entry.name}: ${(e as Error).message}`);
  }
  if (bytes.length !== entry.bytes || crc32(bytes) !== entry.crc32)
    throw new Error(`${file}: ${entry.name}: size or CRC-32 mismatch`);
  return bytes;
}

/**
 * An entry's decompressed bytes in chunks, streamed from disk. The size and CRC-32 are checked as the
 * last chunk passes: a damaged entry throws before the iteration ends, so a consumer that commits only
 * after a complete iteration never commits damaged data.
 */
export async function* streamZipEntry(file: string, entry: ZipEntry): AsyncGenerator<Uint8Array> {
  const start = dataStart(file, entry);
  if (entry.packedBytes === 0) {
    if (entry.bytes !== 0) throw new Error(`${file}: ${entry.name}: size or CRC-32 mismatch`);
    return;
  }
  const packed = createReadStream(file, {
    start,
    end: start + entry.packedBytes - 1,
    highWaterMark: 1 << 20,
  });
  const source = entry.method === 0 ? packed : packed.pipe(createInflateRaw());
  if (entry.method !== 0)
    packed.on('error', (e) => (source as ReturnType<typeof createInflateRaw>).destroy(e));
  let bytes = 0;
  let crc = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > entry.bytes) throw new Error('more data than its recorded size');
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (e) {
    throw new Error(`${file}: ${entry.name}: ${(e as Error).message}`);
  } finally {
    packed.destroy();
  }
  if (bytes !== entry.bytes || crc !== entry.crc32)
    throw new Error(`${file}: ${entry.name}: size or CRC-32 mismatch`);
}
