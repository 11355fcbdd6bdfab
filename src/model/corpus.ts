// The pretraining corpus: source files read from a folder (recursively) or straight from a zip archive,
// split into training and validation documents by a hash of their path, and laid out as one token
// stream per split.
//
// The default Python corpus is the standard library the Pyodide npm package ships as
// python_stdlib.zip (about 560 .py files, 9.6 MB): already installed, so nothing is downloaded. The zip
// is read with the project's zip reader (util/zip.ts), each entry's size and CRC-32 checked.
//
// Token stream: every document is <|bos|>, its bytes (the byte-level tokenizer: one token per byte,
// no special strings recognised inside source text), <|eos|>, and documents follow each other in path
// order. The separators teach where a file starts (a prompt also starts with <|bos|>) and that one can
// end (the sampler stops at <|eos|>).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { readZipDirectory, readZipEntry } from '../util/zip.js';
import { BYTE_TOKENS, SPECIAL_ID } from './vocab.js';

export interface CorpusDocument {
  /** Path inside the corpus (folder-relative or the zip entry name), with / separators. */
  path: string;
  bytes: Uint8Array;
}

/** File kinds a corpus folder contributes; everything else is skipped. */
export const CORPUS_EXTENSIONS = ['.py', '.js', '.ts'] as const;

const BOS = SPECIAL_ID['<|bos|>'];
const EOS = SPECIAL_ID['<|eos|>'];

/** The Python standard library zip inside the installed Pyodide package. */
export function defaultPythonCorpus(): string {
  const pkg = createRequire(import.meta.url).resolve('pyodide/package.json');
  return join(dirname(pkg), 'python_stdlib.zip');
}

function hasCorpusExtension(path: string, extensions: readonly string[]): boolean {
  return extensions.some((e) => path.endsWith(e)) && !path.endsWith('.d.ts');
}

/** Every file entry of a zip archive whose name `accept` takes, decompressed and checked. */
export function readZipDocuments(file: string, accept: (name: string) => boolean): CorpusDocument[] {
  return readZipDirectory(file)
    .filter((e) => !e.name.endsWith('/') && accept(e.name))
    .map((e) => ({ path: e.name, bytes: readZipEntry(file, e) }));
}

/** Every file under `dir` (recursively, symlinks not followed) whose relative path `accept` takes. */
export function readFolderDocuments(dir: string, accept: (path: string) => boolean): CorpusDocument[] {
  const docs: CorpusDocument[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(full);
      } else if (e.isFile()) {
        const path = relative(dir, full).split(sep).join('/');
        if (accept(path)) docs.push({ path, bytes: new Uint8Array(readFileSync(full)) });
      }
    }
  };
  walk(dir);
  return docs;
}

/**
 * The documents of a corpus: a folder (read recursively; node_modules and dot-folders skipped) or a
 * .zip archive, keeping files that end in one of `extensions` (declaration files .d.ts excluded),
 * sorted by path so the order never depends on the file system.
 */
export function readCorpus(
  source: string,
  extensions: readonly string[] = CORPUS_EXTENSIONS,
): CorpusDocument[] {
  const accept = (p: string) => hasCorpusExtension(p, extensions);
  let docs: CorpusDocument[];
  if (statSync(source).isDirectory()) docs = readFolderDocuments(source, accept);
  else if (source.endsWith('.zip')) docs = readZipDocuments(source, accept);
  else throw new Error(`${source}: a corpus is a folder or a .zip archive`);
  docs = docs.filter((d) => d.bytes.length > 0);
  if (docs.length === 0) throw new Error(`${source}: no ${extensions.join(' / ')} files`);
  return docs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** FNV-1a over the path's UTF-8 bytes, then murmur3's finaliser: a well-spread 32-bit hash. */
export function pathHash(path: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(path, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Train / validation split by path hash: a document is held out when its hash falls in the lowest
 * `fraction` of the 32-bit range, so its side never depends on the other documents or on their order.
 * Only when that leaves no validation document at all (tiny corpora) is the one with the lowest hash
 * held out instead (if there are at least two).
 */
export function splitCorpus(
  docs: readonly CorpusDocument[],
  fraction: number,
): { train: CorpusDocument[]; validation: CorpusDocument[] } {
  if (!(fraction >= 0 && fraction < 1))
    throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  const limit = fraction * 2 ** 32;
  const train: CorpusDocument[] = [];
  const validation: CorpusDocument[] = [];
  for (const d of docs) (pathHash(d.path) < limit ? validation : train).push(d);
  if (validation.length === 0 && fraction > 0 && train.length >= 2) {
    let low = 0;
    train.forEach((d, i) => {
      if (pathHash(d.path) < pathHash((train[low] as CorpusDocument).path)) low = i;
    });
    validation.push(...train.splice(low, 1));
  }
  return { train, validation };
}

/** <|bos|> bytes <|eos|> per document, in the given order; ids fit 16 bits (the vocabulary is < 65536). */
export function tokenStream(docs: readonly CorpusDocument[]): Uint16Array {
  const out = new Uint16Array(docs.reduce((n, d) => n + d.bytes.length + 2, 0));
  let at = 0;
  for (const d of docs) {
    out[at++] = BOS;
    out.set(d.bytes, at);
    at += d.bytes.length;
    out[at++] = EOS;
  }
  return out;
}

/** Whether a token id is one byte of text (as opposed to a separator): bits per byte count these. */
export function isByteToken(id: number): boolean {
  return id >= 0 && id < BYTE_TOKENS;
}

/** Whitespace runs become one space, ends trimmed: how program text is compared across formatting. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Split off the documents that contain any of `texts` (compared with whitespace normalised), e.g. the
 * held-out programs, so nothing evaluated later was trained on.
 */
export function excludeDocumentsContaining(
  docs: readonly CorpusDocument[],
  texts: readonly string[],
): { kept: CorpusDocument[]; excluded: CorpusDocument[] } {
  const needles = [...new Set(texts.map(normalizeWhitespace).filter((t) => t.length > 0))];
  const decoder = new TextDecoder('utf-8');
  const kept: CorpusDocument[] = [];
  const excluded: CorpusDocument[] = [];
  for (const d of docs) {
    const hay = normalizeWhitespace(decoder.decode(d.bytes));
    (needles.some((n) => hay.includes(n)) ? excluded : kept).push(d);
  }
  return { kept, excluded };
}

/** A short digest of a token stream (length and a 32-bit hash), to notice a corpus that changed on resume. */
export function streamFingerprint(stream: Uint16Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ (stream[i] as number), 0x01000193);
  return `${stream.length}:${(h >>> 0).toString(16).padStart(8, '0')}`;
}
