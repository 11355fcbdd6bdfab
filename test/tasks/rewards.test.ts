import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FORMAT_PENALTY,
  learnabilityReward,
  proposerFinalReward,
  solverFinalReward,
  solverReward,
  WRONG_PENALTY,
} from '../../src/tasks/index.js';

test('learnability: 0 at s = 0 and s = 1, 1 - s in between (golden values)', () => {
  assert.equal(learnabilityReward(0), 0);
  assert.equal(learnabilityReward(1 / 8), 0.875);
  assert.equal(learnabilityReward(0.5), 0.5);
  assert.equal(learnabilityReward(7 / 8), 0.125);
  assert.equal(learnabilityReward(1), 0);
  // The n = 8 estimates: k of 8 rollouts solved.
  assert.deepEqual(
    Array.from({ length: 9 }, (_, k) => learnabilityReward(k / 8)),
    [0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0],
  );
  for (const bad of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => learnabilityReward(bad), RangeError, String(bad));
});

test('solver rewards: 1 correct; format-aware: -0.5 wrong, -1 unparseable', () => {
  assert.equal(solverReward(true), 1);
  assert.equal(solverReward(false), 0);
  assert.equal(WRONG_PENALTY, -0.5);
  assert.equal(FORMAT_PENALTY, -1);
  assert.equal(solverFinalReward({ parsed: true, correct: true }), 1);
  assert.equal(solverFinalReward({ parsed: true, correct: false }), -0.5);
  assert.equal(solverFinalReward({ parsed: false }), -1);
});

test('partial credit: a wrong answer scores -0.5 + credit * closeness, never up to a right one', () => {
  const wrong = (closeness: number) => ({ parsed: true as const, correct: false, closeness });
  assert.equal(solverFinalReward(wrong(0.8)), -0.5, 'off by default: the method reward');
  assert.ok(Math.abs(solverFinalReward(wrong(0.8), { partialCredit: 0.5 }) - -0.1) < 1e-12);
  assert.equal(solverFinalReward(wrong(0), { partialCredit: 1 }), -0.5);
  assert.equal(solverFinalReward(wrong(1), { partialCredit: 1 }), 0.5);
  assert.equal(solverFinalReward({ parsed: true, correct: true, closeness: 0 }, { partialCredit: 1 }), 1);
  assert.equal(solverFinalReward({ parsed: false }, { partialCredit: 1 }), -1);
  assert.throws(() => solverFinalReward(wrong(0.5), { partialCredit: 1.5 }), RangeError);
  assert.throws(() => solverFinalReward(wrong(2), { partialCredit: 0.5 }), RangeError);
});

test('proposer partial credit: an unsolved task scores its closeness, a learnable one its learnability, a trivial one nothing', () => {
  const task = (solveRate: number, closeness: number) =>
    ({ parsed: true, valid: true, solveRate, closeness }) as const;
  const opts = { partialCredit: 0.5 };
  assert.equal(proposerFinalReward(task(0, 0.8)), 0, 'off by default');
  assert.equal(proposerFinalReward(task(0, 0.8), opts), 0.4);
  assert.equal(proposerFinalReward(task(0, 0), opts), 0);
  assert.equal(proposerFinalReward(task(1, 1), opts), 0, 'always solved: no credit');
  assert.equal(proposerFinalReward(task(0.25, 0.9), opts), 0.75, 'learnable: the method reward');
  assert.ok(
    Math.abs(proposerFinalReward(task(0, 0.8), { ...opts, unlearnableReward: -0.25 }) - 0.15) < 1e-12,
  );
  assert.ok(proposerFinalReward(task(0, 1), { partialCredit: 1 }) <= 1);
  assert.throws(() => proposerFinalReward(task(0, 0.5), { partialCredit: -0.1 }), RangeError);
  assert.throws(() => proposerFinalReward(task(0, 1.5), opts), RangeError);
});

test('proposer rewards: learnability when valid, -0.5 invalid, -1 unparseable; an unlearnable score is opt-in', () => {
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0.25 }), 0.75);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 1 }), 0);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0 }), 0);
  assert.equal(proposerFinalReward({ parsed: true, valid: false }), -0.5);
  assert.equal(proposerFinalReward({ parsed: false }), -1);
  const quirk = { unlearnableReward: -0.5 };
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0 }, quirk), -0.5);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 1 }, quirk), -0.5);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0.5 }, quirk), 0.5);
  assert.equal(proposerFinalReward({ parsed: false }, quirk), -1);
  const between = { unlearnableReward: -0.25 };
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0 }, between), -0.25);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 1 }, between), -0.25);
  assert.equal(proposerFinalReward({ parsed: true, valid: false }, between), -0.5);
  assert.throws(
    () => proposerFinalReward({ parsed: true, valid: true, solveRate: 0 }, { unlearnableReward: -0.75 }),
    RangeError,
  );
});
