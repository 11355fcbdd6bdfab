// Reading a byte range of a large file (a tensor of a checkpoint) without reading the rest of it.
import { closeSync, openSync, readSync } from 'node:fs';

/** `length` bytes of `path` from `offset`; `what` names them in the error a short file gives. */
export function readFileRange(path: string, offset: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`${path}: short read of ${what}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
