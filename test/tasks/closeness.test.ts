// Partial credit: edit distance against a reference implementation, closeness, and closenessBatch against
// the real executor (what an answer produced, compared with what it should have produced).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import { closenessBatch, editDistance, type Task, textCloseness } from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

/** The textbook recursion, memoised: slow, obviously right. */
function referenceDistance(a: string, b: string): number {
  const memo = new Map<string, number>();
  const d = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const v = Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
    memo.set(key, v);
    return v;
  };
  return d(a.length, b.length);
}

test('edit distance agrees with the reference recursion on random strings', () => {
  const rng = new Rng(7);
  const word = () =>
    Array.from({ length: Math.floor(rng.next() * 9) }, () => 'ab[1, ]'[Math.floor(rng.next() * 7)]).join('');
  for (let i = 0; i < 300; i++) {
    const a = word();
    const b = word();
    assert.equal(editDistance(a, b), referenceDistance(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closeness: 1 for the same text up to whitespace, 0 for nothing in common, graded in between', () => {
  assert.equal(textCloseness('[1,2]', '[1, 2]'), 1);
  assert.equal(textCloseness('', ''), 1);
  assert.equal(textCloseness('0', '7'), 0);
  const nearList = textCloseness('[3, 4, 4]', '[3, 4, 5]');
  const wrongType = textCloseness("'x'", '[3, 4, 5]');
  assert.ok(nearList > 0.7 && nearList < 1, String(nearList));
  assert.ok(wrongType < nearList, `${wrongType} < ${nearList}`);
  // Symmetric, and within [0, 1] even for very long texts (which are cut before comparing).
  assert.equal(textCloseness('abc', 'abd'), textCloseness('abd', 'abc'));
  const long = textCloseness('1'.repeat(5000), '1'.repeat(4000));
  assert.ok(long >= 0 && long <= 1);
});

test('closenessBatch: deduction compares the answer, abduction and induction what the answer produced', async () => {
  const ex = await createExecutor({ workers: 1, limits: { timeoutMs: 1000 } });
  try {
    const program = 'def f(a):\n    return [a, a + 1]';
    const deduction: Task = { type: 'deduction', lang: 'python', program, input: '3', output: '[3, 4]' };
    const abduction: Task = { ...deduction, type: 'abduction' };
    const induction: Task = {
      ...deduction,
      type: 'induction',
      message: 'a number and the next',
      shown: [{ input: '3', output: '[3, 4]' }],
      hidden: [
        { input: '1', output: '[1, 2]' },
        { input: '5', output: '[5, 6]' },
      ],
    };
    const items = [
      { task: deduction, answer: '[3, 5]' }, // one character off
      { task: abduction, answer: '3' }, // right: f(3) is [3, 4]
      { task: abduction, answer: '2' }, // f(2) is [2, 3]: two characters off
      { task: abduction, answer: "'s'" }, // raises: 0
      { task: induction, answer: 'def f(a):\n    return [a, a + 2]' }, // one character off on each pair
      { task: induction, answer: 'def f(a):\n    return [a, a + 1]' }, // right on both
    ];
    const batch = closenessBatch(items);
    assert.equal(
      batch.requests.length,
      7,
      'no request for deduction, one per abduction, one per hidden pair',
    );
    const scores = batch.scores(await ex.batch(batch.requests));
    assert.deepEqual(
      scores.map((s) => Math.round(s * 100) / 100),
      [0.8, 1, 0.6, 0, 0.8, 1],
    );
  } finally {
    await ex.close();
  }
});
