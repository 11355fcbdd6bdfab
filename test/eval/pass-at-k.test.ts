// pass@k against brute force (every k-subset of n samples) and exact big-integer binomials.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meanPassAtK, passAtK } from '../../src/eval/pass-at-k.js';

/** Share of the k-subsets of n samples (the first c correct) that hold a correct one, by enumeration. */
function bruteForce(n: number, c: number, k: number): number {
  let hit = 0;
  let all = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let m = mask; m; m &= m - 1) bits++;
    if (bits !== k) continue;
    all++;
    if (mask & ((1 << c) - 1)) hit++;
  }
  return hit / all;
}

function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** 1 - C(n-c, k) / C(n, k) exactly, then rounded to a double. */
function exact(n: number, c: number, k: number): number {
  const num = binomial(n - c, k);
  const den = binomial(n, k);
  const scale = 10n ** 30n;
  return 1 - Number((num * scale) / den) / 1e30;
}

test('pass@k equals the share of k-subsets with a correct sample, for every n <= 10, c, k', () => {
  for (let n = 1; n <= 10; n++)
    for (let c = 0; c <= n; c++)
      for (let k = 1; k <= n; k++) {
        const got = passAtK(n, c, k);
        const want = bruteForce(n, c, k);
        assert.ok(Math.abs(got - want) < 1e-12, `n ${n} c ${c} k ${k}: ${got} vs ${want}`);
      }
});

test('pass@k is stable for large n where the binomials overflow doubles', () => {
  for (const [n, c, k] of [
    [200, 1, 100],
    [1000, 3, 1],
    [1000, 3, 10],
    [1000, 999, 1],
    [1200, 17, 400],
    [2000, 1, 1999],
  ] as const) {
    const got = passAtK(n, c, k);
    assert.ok(Number.isFinite(got) && got >= 0 && got <= 1);
    assert.ok(Math.abs(got - exact(n, c, k)) < 1e-12, `n ${n} c ${c} k ${k}: ${got} vs ${exact(n, c, k)}`);
  }
  assert.ok(!Number.isFinite(Number(binomial(1200, 400))), 'the case really overflows a double');
  assert.equal(passAtK(200, 1, 100), 0.5);
  // pass@1 is the plain solve rate.
  assert.ok(Math.abs(passAtK(1000, 3, 1) - 0.003) < 1e-15);
});

test('edge cases and the mean over tasks; bad counts are refused', () => {
  assert.equal(passAtK(5, 0, 3), 0);
  assert.equal(passAtK(5, 5, 1), 1);
  assert.equal(passAtK(5, 3, 3), 1, 'only two wrong samples: every 3-subset holds a correct one');
  assert.equal(
    meanPassAtK(
      [
        { n: 4, c: 4 },
        { n: 4, c: 0 },
      ],
      2,
    ),
    0.5,
  );
  assert.throws(() => passAtK(5, 6, 1), /c must be/);
  assert.throws(() => passAtK(5, 1, 6), /k must be/);
  assert.throws(() => passAtK(0, 0, 1), /n must be/);
  assert.throws(() => passAtK(5, 1.5, 1), /c must be/);
  assert.throws(() => meanPassAtK([], 1), /no tasks/);
});
