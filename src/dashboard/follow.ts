// Reading JSONL files that another process is appending to, without re-reading them from the start on
// every request: a follower remembers how far it got and parses only what was appended since, and a tail
// reader reads backwards from the end for "the last N lines" of a file that may be large.
//
// A run rewrites history in one way only: on resume it truncates its files back to the last committed
// iteration. The follower sees the file shrink (or be replaced) and starts over, bumping `generation` so a
// client that cached earlier records knows to drop them.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

export interface Followed<T> {
  /** Every complete, valid record so far, in file order. */
  records: readonly T[];
  /** Increases each time the file was truncated or replaced and reading started over. */
  generation: number;
  /** The first bad line, as "file:line: reason"; records stop before it. Null when all lines parse. */
  error: string | null;
}

export class JsonlFollower<T> {
  private records: T[] = [];
  private offset = 0;
  private line = 0;
  private inode = -1;
  private generation = 0;
  private error: string | null = null;

  constructor(
    readonly file: string,
    private readonly parse: (value: unknown) => T,
  ) {}

  /** Read what was appended since the last call. A missing file reads as empty. */
  read(): Followed<T> {
    let size: number;
    let inode: number;
    try {
      const st = statSync(this.file);
      size = st.size;
      inode = st.ino;
    } catch {
      size = 0;
      inode = -1;
    }
    if (size < this.offset || (inode !== this.inode && this.inode !== -1)) this.restart();
    this.inode = inode;
    if (size > this.offset && this.error === null) this.consume(size);
    return { records: this.records, generation: this.generation, error: this.error };
  }

  private restart(): void {
    this.records = [];
    this.offset = 0;
    this.line = 0;
    this.error = null;
    this.generation++;
  }

  private consume(size: number): void {
    const fd = openSync(this.file, 'r');
    let buf: Buffer;
    try {
      // Bound the read by the current size too: the file may have been truncated since stat.
      const want = Math.min(size, fstatSync(fd).size) - this.offset;
      if (want <= 0) return;
      buf = Buffer.alloc(want);
      const got = readSync(fd, buf, 0, want, this.offset);
      buf = buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
    let start = 0;
    for (;;) {
      const end = buf.indexOf(0x0a, start);
      if (end === -1) break; // a line still being written (or torn): wait for its newline
      this.line++;
      const text = buf.subarray(start, end).toString('utf8');
      if (text.trim() !== '') {
        try {
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (e) {
            throw new Error(`not JSON (${(e as Error).message})`);
          }
          this.records.push(this.parse(value));
        } catch (e) {
          this.error = `${this.file}:${this.line}: ${(e as Error).message}`;
          return;
        }
      }
      this.offset += end - start + 1;
      start = end + 1;
    }
  }
}

/**
 * The last `limit` complete lines of a file, parsed, oldest first: reads backwards in blocks, so the cost
 * follows the lines wanted, not the file size. A missing file reads as empty; a torn last line is skipped.
 * A line that does not parse throws "file: reason" (its line number is unknown when reading backwards).
 */
export function readTail<T>(file: string, limit: number, parse: (value: unknown) => T): T[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const block = 64 * 1024;
    let pos = size;
    let tail = Buffer.alloc(0);
    // Drop a torn last line: everything after the last newline.
    let lines: Buffer[] = [];
    let first = true;
    while (pos > 0 && lines.length < limit) {
      const n = Math.min(block, pos);
      pos -= n;
      const chunk = Buffer.alloc(n);
      readSync(fd, chunk, 0, n, pos);
      tail = Buffer.concat([chunk, tail]);
      if (first) {
        const nl = tail.lastIndexOf(0x0a);
        if (nl === -1 && pos > 0) continue;
        tail = tail.subarray(0, nl + 1);
        first = false;
      }
      lines = splitLines(tail, pos === 0);
    }
    return lines
      .slice(-limit)
      .map((b) => b.toString('utf8'))
      .filter((t) => t.trim() !== '')
      .map((t) => {
        try {
          return parse(JSON.parse(t));
        } catch (e) {
          throw new Error(`${file}: ${(e as Error).message}`);
        }
      });
  } finally {
    closeSync(fd);
  }
}

/** Complete lines of a buffer ending in a newline; the first piece only counts when it starts the file. */
function splitLines(buf: Buffer, fromStart: boolean): Buffer[] {
  const out: Buffer[] = [];
  let end = buf.length - 1; // index of a newline
  while (end >= 0) {
    const prev = buf.lastIndexOf(0x0a, end - 1);
    if (prev === -1 && !fromStart) break;
    out.push(buf.subarray(prev + 1, end));
    end = prev;
  }
  return out.reverse();
}
