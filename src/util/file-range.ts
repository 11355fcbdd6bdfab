// Reading byte ranges of large files (a tensor of a checkpoint) without reading the rest of them.
import { closeSync, openSync, readSync } from 'node:fs';

/** Fills `into` from the open file `fd` at `position`; `path` and `what` name them if the file is short. */
export function readFully(fd: number, into: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`${path}: short read of ${what}`);
    done += n;
  }
}

/** `length` bytes of `path` from `offset`; `what` names them in the error a short file gives. */
export function readFileRange(path: string, offset: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(path, 'r');
  try {
    readFully(fd, out, offset, path, what);
  } finally {
    closeSync(fd);
  }
  return out;
}
