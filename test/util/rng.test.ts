import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, sampleDistinct } from '../../src/util/rng.js';

test('same seed gives the same stream, different seeds differ', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  const sb = Array.from({ length: 8 }, () => b.nextU32());
  const sc = Array.from({ length: 8 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('state round-trips: a restored generator continues the exact stream', () => {
  const a = new Rng(7);
  for (let i = 0; i < 100; i++) a.next();
  const restored = new Rng(a.state());
  assert.deepEqual(
    Array.from({ length: 16 }, () => restored.nextU32()),
    Array.from({ length: 16 }, () => a.nextU32()),
  );
});

test('int is uniform enough and in range; normal has mean ~0 and variance ~1', () => {
  const rng = new Rng(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[rng.int(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket count ${c}`);
  let sum = 0;
  let sq = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.02);
  assert.ok(Math.abs(sq / n - 1) < 0.03);
  assert.throws(() => rng.int(0), RangeError);
  assert.throws(() => rng.pick([]), RangeError);
});

test('sampleDistinct draws k distinct elements, each equally often, and all of a short list', () => {
  const rng = new Rng(3);
  const items = ['a', 'b', 'c', 'd', 'e'];
  const counts = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const got = sampleDistinct(rng, items, 2);
    assert.equal(got.length, 2);
    assert.notEqual(got[0], got[1]);
    for (const x of got) counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  // Each element is in 2 of 5 draws: 8,000 of 20,000.
  for (const x of items) assert.ok(Math.abs((counts.get(x) ?? 0) - 8_000) < 400, `${x}: ${counts.get(x)}`);
  assert.deepEqual(sampleDistinct(rng, ['x'], 3), ['x']);
  assert.deepEqual(sampleDistinct(rng, [], 2), []);
  assert.deepEqual(items, ['a', 'b', 'c', 'd', 'e'], 'the input is not reordered');
});
