// Append-only JSON Lines files that survive a kill -9: a record is one line written with a single
// write() call, and a reader treats a last line without its newline as torn (the write was cut short)
// and ignores it. Everything a run writes over time (metrics, samples, task buffers) goes through here.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

export interface JsonlRead<T> {
  records: T[];
  /** Byte length of the complete lines; a torn tail starts here. */
  validBytes: number;
  /** True when the file ended in a partial line (ignored). */
  torn: boolean;
}

/**
 * Read every complete line. `parse` validates one record and throws with a reason; the error names the
 * file and line. A missing file reads as empty.
 */
export function readJsonl<T>(file: string, parse: (value: unknown) => T = (v) => v as T): JsonlRead<T> {
  if (!existsSync(file)) return { records: [], validBytes: 0, torn: false };
  const buf = readFileSync(file);
  const records: T[] = [];
  let start = 0;
  let line = 0;
  while (start < buf.length) {
    const end = buf.indexOf(0x0a, start);
    if (end === -1) return { records, validBytes: start, torn: true };
    line++;
    const text = buf.subarray(start, end).toString('utf8');
    if (text.trim() !== '') {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new Error(`${file}:${line}: not JSON (${(e as Error).message})`);
      }
      try {
        records.push(parse(value));
      } catch (e) {
        throw new Error(`${file}:${line}: ${(e as Error).message}`);
      }
    }
    start = end + 1;
  }
  return { records, validBytes: start, torn: false };
}

/** Append records as lines with one write; `sync` forces them to disk before returning. */
export function appendJsonl(file: string, records: readonly unknown[], sync = false): void {
  if (records.length === 0) return;
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, text);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Keep only the records `keep` accepts, in a file whose records are in commit order: cuts the file after
 * the last accepted record of the leading run of accepted ones (and any torn tail). Used on resume to
 * drop what an uncommitted iteration wrote. Returns the records kept.
 */
export function truncateJsonl<T>(file: string, keep: (record: T) => boolean, parse?: (v: unknown) => T): T[] {
  if (!existsSync(file)) return [];
  const buf = readFileSync(file);
  const kept: T[] = [];
  let start = 0;
  let cut = 0;
  while (start < buf.length) {
    const end = buf.indexOf(0x0a, start);
    if (end === -1) break;
    const text = buf.subarray(start, end).toString('utf8');
    if (text.trim() !== '') {
      let record: T;
      try {
        const value = JSON.parse(text) as unknown;
        record = parse ? parse(value) : (value as T);
      } catch {
        break; // a corrupt line: nothing after it can be trusted as committed
      }
      if (!keep(record)) break;
      kept.push(record);
    }
    start = end + 1;
    cut = start;
  }
  if (cut < buf.length) truncateSync(file, cut);
  return kept;
}
