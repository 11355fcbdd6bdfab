import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IterationMetrics, TypeMetrics } from '../../src/run/metrics.js';
import { formatClock, formatProgressLine } from '../../src/selfplay/progress.js';

function tm(
  solveRate: number,
  validRate: number,
  validProposerReward: number,
  bufferSize: number,
): TypeMetrics {
  return {
    solveRate,
    solverReward: 0,
    proposerReward: 0,
    validRate,
    duplicateRate: 0.0625,
    validProposerReward,
    rejections: {},
    programChars: 30,
    diversity: 0.5,
    bufferSize,
    proposerTokens: 80,
    solverTokens: 10,
    proposerFormatErrors: 0,
    solverFormatErrors: 0,
  };
}

const record: IterationMetrics = {
  version: 2,
  iteration: 12,
  timeS: 245.7,
  iterationS: 20.04,
  types: {
    deduction: tm(0.25, 0.4375, 0.18, 12),
    abduction: tm(0.5, 0.375, 0.333, 8),
    induction: tm(0.0625, 0.1875, 0, 9),
  },
  loss: 0.0499,
  gradNorm: 3,
  learningRate: 3e-4,
  tokensPerS: 437.4,
  execsPerS: 645.2,
  phases: { sample: 5.6, execute: 0.11, update: 14.33 },
};

test('the progress line shows time, solve rates, valid proposals, learnability, buffers and throughput', () => {
  assert.equal(
    formatProgressLine(record),
    'it   12    4:05 | solve ded  25% abd  50% ind   6% | valid 44/38/19% dup 6/6/6% | learn .18/.33/.00' +
      ' | buf 12/8/9 | 437 tok/s 645 exec/s | loss 0.050 | 20.0s (sample 5.6 exec 0.1 update 14.3)',
  );
  // The process's memory, when the record has it (a run that grows without bound shows it here).
  assert.ok(formatProgressLine({ ...record, rssMb: 1840 }).endsWith('update 14.3) | 1.8 GB'));
});

test('copies and the share of distinct programs, new and in the buffer, where the record has them', () => {
  const line = formatProgressLine({
    ...record,
    types: {
      deduction: {
        ...tm(0.25, 0.4375, 0.18, 12),
        copyRate: 0.1875,
        distinctShare: 1,
        bufferDistinctShare: 1,
      },
      abduction: {
        ...tm(0.5, 0.375, 0.333, 8),
        copyRate: 0.0625,
        distinctShare: 5 / 6,
        bufferDistinctShare: 7 / 8,
      },
      induction: { ...tm(0.0625, 0, 0, 9), copyRate: 0, bufferDistinctShare: 2 / 3 },
    },
  });
  assert.match(
    line,
    / \| valid 44\/38\/0% dup 6\/6\/6% copy 19\/6\/0% \| distinct 100\/83\/-% \| learn .18\/.33\/.00 \| buf 12\/8\/9 \(100\/88\/67% distinct\) \| /,
  );
});

test('compact drops the timings; an evaluation adds its mean; colour wraps only the solve rates', () => {
  const compact = formatProgressLine(
    { ...record, eval: { deduction: 0.2, abduction: 0.1, induction: 0, mean: 0.1 } },
    {
      compact: true,
    },
  );
  assert.ok(!compact.includes('sample'));
  assert.ok(compact.endsWith('| loss 0.050 | eval 10%'));
  const colored = formatProgressLine(record, { color: true });
  assert.ok(colored.includes('ded \x1b[33m 25%\x1b[0m'), colored);
  assert.ok(colored.includes('abd \x1b[32m 50%\x1b[0m'));
  assert.ok(colored.includes('ind \x1b[31m  6%\x1b[0m'));
  // Without the escape codes it is the plain line.
  assert.equal(colored.replace(/\x1b\[\d+m/g, ''), formatProgressLine(record));
});

test('a run training one task type shows only that type', () => {
  const line = formatProgressLine({ ...record, types: { abduction: tm(1, 1, -0.5, 3) } });
  assert.match(line, /solve abd 100% \| valid 100% dup 6% \| learn -\.50 \| buf 3 \|/);
});

test('the clock reads m:ss, then h:mm:ss', () => {
  assert.equal(formatClock(0), '0:00');
  assert.equal(formatClock(59.9), '0:59');
  assert.equal(formatClock(61), '1:01');
  assert.equal(formatClock(3600 + 5 * 60 + 7), '1:05:07');
});
