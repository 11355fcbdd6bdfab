// The zip reader on a real archive (the Python standard library zip Pyodide ships), streamed and whole,
// and on a damaged copy. The corpus tests cover hand-built stored and deflated entries.
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultPythonCorpus } from '../../src/model/corpus.js';
import { readZipDirectory, readZipEntry, streamZipEntry } from '../../src/util/zip.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-zip-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function streamed(file: string, entry: Parameters<typeof streamZipEntry>[1]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of streamZipEntry(file, entry)) chunks.push(c);
  return Buffer.concat(chunks);
}

test('a streamed entry equals the whole entry, for every kind of entry in a real archive', async () => {
  const file = defaultPythonCorpus();
  const entries = readZipDirectory(file).filter((e) => !e.name.endsWith('/'));
  assert.ok(entries.length > 100);
  const largest = entries.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const sample = [largest, ...entries.filter((_, i) => i % 97 === 0)];
  assert.ok(sample.some((e) => e.method === 8));
  for (const e of sample)
    assert.deepEqual(await streamed(file, e), Buffer.from(readZipEntry(file, e)), e.name);
});

test('damaged data, or data that does not match its recorded CRC-32, is an error naming the entry', async () => {
  const file = join(dir, 'damaged.zip');
  copyFileSync(defaultPythonCorpus(), file);
  const entry = readZipDirectory(file).find((e) => e.method === 8 && e.packedBytes > 1000)!;
  const wrongCrc = { ...entry, crc32: (entry.crc32 ^ 1) >>> 0 };
  assert.throws(() => readZipEntry(file, wrongCrc), /size or CRC-32 mismatch/);
  await assert.rejects(streamed(file, wrongCrc), /size or CRC-32 mismatch/);
  // Flip bytes in the middle of the entry's deflate stream (its data follows its local header).
  const fd = openSync(file, 'r+');
  const header = Buffer.alloc(30);
  readSync(fd, header, 0, 30, entry.localHeader);
  const at =
    entry.localHeader + 30 + header.readUInt16LE(26) + header.readUInt16LE(28) + (entry.packedBytes >> 1);
  writeSync(fd, Buffer.alloc(16, 0xa5), 0, 16, at);
  closeSync(fd);
  const named = new RegExp(entry.name.replaceAll('.', '\\.'));
  assert.throws(() => readZipEntry(file, entry), named);
  await assert.rejects(streamed(file, entry), named);
});

test('a file that is not a zip is refused', () => {
  const file = join(dir, 'not.zip');
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.alloc(100, 7));
  closeSync(fd);
  assert.throws(() => readZipDirectory(file), /not a zip archive/);
});
