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
