import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonlFollower, readTail } from '../../src/dashboard/follow.js';

const asNumber = (v: unknown): number => {
  const n = (v as { n?: unknown }).n;
  if (typeof n !== 'number') throw new Error('n: expected a number');
  return n;
};
const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${JSON.stringify({ n: from + i })}\n`).join('');

function withFile(f: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'azr-follow-'));
  try {
    f(join(dir, 'x.jsonl'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a follower reads appended lines, waits for a torn line to finish, and restarts on truncation', () => {
  withFile((file) => {
    const f = new JsonlFollower(file, asNumber);
    assert.deepEqual(f.read(), { records: [], generation: 0, error: null });
    writeFileSync(file, lines(1, 3));
    assert.deepEqual(f.read().records, [1, 2, 3]);
    appendFileSync(file, '{"n": 4'); // half-written
    assert.deepEqual(f.read().records, [1, 2, 3]);
    appendFileSync(file, '}\n\n');
    assert.deepEqual(f.read().records, [1, 2, 3, 4]);
    writeFileSync(file, lines(1, 2)); // a resumed run cut the file back
    const r = f.read();
    assert.deepEqual(r.records, [1, 2]);
    assert.equal(r.generation, 1);
  });
});

test('a follower stops at a bad line and names it', () => {
  withFile((file) => {
    writeFileSync(file, `${lines(1, 2)}{"n":"x"}\n${lines(4, 4)}`);
    const f = new JsonlFollower(file, asNumber);
    const r = f.read();
    assert.deepEqual(r.records, [1, 2]);
    assert.equal(r.error, `${file}:3: n: expected a number`);
    writeFileSync(file, 'not json\n');
    assert.match(f.read().error ?? '', /x\.jsonl:1: not JSON/);
  });
});

test('readTail returns the last N complete lines of small and multi-block files', () => {
  withFile((file) => {
    assert.deepEqual(readTail(file, 5, asNumber), []);
    writeFileSync(file, lines(1, 3));
    assert.deepEqual(readTail(file, 5, asNumber), [1, 2, 3]);
    assert.deepEqual(readTail(file, 2, asNumber), [2, 3]);
    appendFileSync(file, '{"n": 99'); // torn tail is skipped
    assert.deepEqual(readTail(file, 2, asNumber), [2, 3]);
    // Lines far longer than the 64 KiB block, so reads span blocks.
    const big = (n: number) => `${JSON.stringify({ n, pad: 'y'.repeat(50_000) })}\n`;
    writeFileSync(file, [1, 2, 3, 4, 5].map(big).join(''));
    assert.deepEqual(readTail(file, 3, asNumber), [3, 4, 5]);
    assert.deepEqual(readTail(file, 10, asNumber), [1, 2, 3, 4, 5]);
  });
});
