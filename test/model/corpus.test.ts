// The pretraining corpus: zip and folder readers, the path-hash split, the token stream, and that the
// default corpus holds no held-out program.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { heldoutPrograms, loadPretrainCorpus } from '../../src/cli/pretrain.js';
import {
  type CorpusDocument,
  defaultPythonCorpus,
  excludeDocumentsContaining,
  normalizeWhitespace,
  readCorpus,
  readZipDocuments,
  splitCorpus,
  tokenStream,
} from '../../src/model/corpus.js';
import { SPECIAL_ID } from '../../src/model/vocab.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-corpus-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A minimal zip writer (stored or deflated entries), independent of the reader under test. */
function writeZip(file: string, entries: { name: string; data: Buffer; deflate: boolean }[]): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const packed = e.deflate ? deflateRawSync(e.data) : e.data;
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(e.deflate ? 8 : 0, 8);
    head.writeUInt32LE(crc32(e.data), 14);
    head.writeUInt32LE(packed.length, 18);
    head.writeUInt32LE(e.data.length, 22);
    head.writeUInt16LE(name.length, 26);
    locals.push(head, name, packed);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc32(e.data), 16);
    c.writeUInt32LE(packed.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    centrals.push(c, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...locals, cd, end]));
}

const files: Record<string, string> = {
  'a.py': 'def f(x):\n    return x + 1\n',
  'pkg/b.py': 'import os\n\nprint(os.sep)\n' + 'x = 1\n'.repeat(200),
  'pkg/deep/c.ts': 'export const c = (n: number) => n * 2;\n',
  'pkg/d.js': 'module.exports = () => "héllo";\n',
  'notes.txt': 'not source',
  'types.d.ts': 'declare const x: number;',
  'empty.py': '',
  'node_modules/m/index.js': 'skipped',
};

test('a folder and a zip of the same files read as the same documents, sorted, only source files', () => {
  const folder = join(dir, 'tree');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, name)), { recursive: true });
    writeFileSync(join(folder, name), text);
  }
  const zip = join(dir, 'tree.zip');
  writeZip(
    zip,
    Object.entries(files).map(([name, text], i) => ({ name, data: Buffer.from(text), deflate: i % 2 === 0 })),
  );
  const fromFolder = readCorpus(folder);
  const expected = ['a.py', 'pkg/b.py', 'pkg/d.js', 'pkg/deep/c.ts'];
  assert.deepEqual(
    fromFolder.map((d) => d.path),
    expected,
  );
  for (const d of fromFolder) assert.equal(Buffer.from(d.bytes).toString('utf8'), files[d.path]);
  // The zip holds node_modules/m/index.js too: a zip is read as it is, only folders skip node_modules.
  const fromZip = readCorpus(zip).filter((d) => !d.path.startsWith('node_modules/'));
  assert.deepEqual(fromZip, fromFolder);
  assert.deepEqual(
    readCorpus(folder, ['.py']).map((d) => d.path),
    ['a.py', 'pkg/b.py'],
  );
  // A damaged entry is refused, not silently misread.
  const bad = readFileSync(zip);
  const at = 30 + 'a.py'.length + 2;
  bad[at] = (bad[at] as number) ^ 0xff;
  writeFileSync(join(dir, 'bad.zip'), bad);
  assert.throws(() => readCorpus(join(dir, 'bad.zip')), /a\.py/);
  assert.throws(() => readCorpus(join(dir, 'tree', 'notes.txt')), /folder or a \.zip/);
});

test("the default corpus is the Pyodide package's standard library, read straight from its zip", () => {
  const docs = readZipDocuments(defaultPythonCorpus(), (n) => n.endsWith('.py'));
  assert.ok(docs.length > 500, `${docs.length} .py files`);
  const bytes = docs.reduce((n, d) => n + d.bytes.length, 0);
  assert.ok(bytes > 8e6, `${bytes} bytes`);
  const json = docs.find((d) => d.path === 'json/__init__.py');
  assert.ok(json && Buffer.from(json.bytes).toString('utf8').includes('def dumps('));
});

test('the train/validation split depends on each path alone: stable under adding, removing and reordering', () => {
  const docs: CorpusDocument[] = Array.from({ length: 400 }, (_, i) => ({
    path: `m${i}.py`,
    bytes: new Uint8Array([i & 0xff]),
  }));
  const side = (s: { validation: CorpusDocument[] }) => new Set(s.validation.map((d) => d.path));
  const all = side(splitCorpus(docs, 0.1));
  assert.ok(all.size > 20 && all.size < 60, `${all.size} of 400 held out at 10%`);
  const half = side(splitCorpus(docs.slice(0, 200).reverse(), 0.1));
  for (const d of docs.slice(0, 200)) assert.equal(half.has(d.path), all.has(d.path), d.path);
  // A tiny corpus whose hashes all miss the fraction still gets one validation document.
  const two = splitCorpus(docs.slice(0, 2), 1e-9);
  assert.equal(two.validation.length, 1);
  assert.equal(two.train.length, 1);
  assert.throws(() => splitCorpus(docs, 1), /fraction/);
});

test('the token stream is <|bos|> bytes <|eos|> per document, special strings inside text left as bytes', () => {
  const text = 'a<|eos|>é';
  const s = tokenStream([
    { path: 'x', bytes: Buffer.from(text) },
    { path: 'y', bytes: Buffer.from('z') },
  ]);
  const bos = SPECIAL_ID['<|bos|>'];
  const eos = SPECIAL_ID['<|eos|>'];
  assert.deepEqual([...s], [bos, ...Buffer.from(text), eos, bos, 'z'.charCodeAt(0), eos]);
});

test('documents containing an excluded text are dropped, whitespace differences notwithstanding', () => {
  const docs = [
    { path: 'a.py', bytes: Buffer.from('x = 1\ndef f(a):\n        return   [a]\n') },
    { path: 'b.py', bytes: Buffer.from('def f(a): return a') },
  ];
  const { kept, excluded } = excludeDocumentsContaining(docs, ['def f(a):\n    return [a]']);
  assert.deepEqual(
    excluded.map((d) => d.path),
    ['a.py'],
  );
  assert.deepEqual(
    kept.map((d) => d.path),
    ['b.py'],
  );
});

test('no held-out program occurs in the default corpus (whitespace normalised)', async () => {
  const programs = heldoutPrograms();
  assert.ok(programs.length >= 50, `${programs.length} distinct held-out programs`);
  // Every .py / .js / .ts document of the default corpus, before any exclusion.
  const docs = readCorpus(defaultPythonCorpus());
  const text = docs.map((d) => normalizeWhitespace(Buffer.from(d.bytes).toString('utf8'))).join('\n');
  const found = programs.filter((p) => text.includes(normalizeWhitespace(p)));
  assert.deepEqual(
    found,
    [],
    `${found.length} of ${programs.length} held-out programs occur in ${docs.length} documents`,
  );
  // And the corpus the command trains on excluded nothing, so it is the whole library.
  const corpus = await loadPretrainCorpus({
    source: null,
    extensions: ['.py', '.js', '.ts'],
    validationFraction: 0.05,
  });
  assert.deepEqual(corpus.excluded, []);
  assert.equal(corpus.trainDocuments + corpus.validationDocuments, docs.length);
});
