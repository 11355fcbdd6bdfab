// Metrics and sample records: what the loop writes is what the readers get back, bad lines are named by
// file, line and field, and a torn last line (a run killed mid-write) is ignored.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  appendMetrics,
  type IterationMetrics,
  readMetricsFile,
  type SampleRecord,
  type TypeMetrics,
} from '../../src/run/metrics.js';
import { appendSamples, readSamples } from '../selfplay/samples.js';

const readMetrics = (file: string) => readMetricsFile(file).records;

function typeMetrics(over: Partial<TypeMetrics> = {}): TypeMetrics {
  return {
    solveRate: 0.25,
    solverReward: -0.25,
    proposerReward: 0.1,
    validRate: 0.5,
    duplicateRate: 0.125,
    copyRate: 0.1875,
    validProposerReward: 0.3,
    rejections: { runtime: 3, 'format:no_answer': 1, copy: 3 },
    programChars: 41.5,
    diversity: 0.4375,
    distinctShare: 0.875,
    bufferDistinctShare: 0.96,
    bufferSize: 17,
    proposerTokens: 90,
    solverTokens: 12,
    proposerFormatErrors: 0.0625,
    solverFormatErrors: 0.25,
    ...over,
  };
}

function record(iteration: number): IterationMetrics {
  return {
    version: 2,
    iteration,
    timeS: 20 * iteration,
    iterationS: 20,
    types: {
      deduction: typeMetrics(),
      abduction: typeMetrics({ proposerTokens: 120, solverFormatErrors: 0 }),
      induction: typeMetrics({ proposerTokens: 60, solverFormatErrors: 0.5 }),
    },
    loss: 0.05,
    gradNorm: 3.2,
    learningRate: 3e-4,
    tokensPerS: 1300,
    execsPerS: 1700,
    phases: { sample: 5, execute: 0.1, update: 14 },
  };
}

const sample: SampleRecord = {
  iteration: 1,
  type: 'deduction',
  role: 'proposer',
  lang: 'python',
  prompt: 'propose deduction python',
  completion: '```python\ndef f(x):\n    return x + 1\n```\n```input\n3\n```',
  reward: 0.5,
  ok: true,
  program: 'def f(x):\n    return x + 1',
  input: '3',
  output: '4',
};

function tempFile(name: string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'azr-metrics-'));
  return { file: join(dir, name), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('metrics records round-trip through the file, one line each, eval only where it ran', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    const withEval = { ...record(2), eval: { deduction: 0.1, abduction: 0.2, induction: 0, mean: 0.1 } };
    appendMetrics(file, record(1));
    appendMetrics(file, withEval);
    assert.deepEqual(readMetrics(file), [record(1), withEval]);
    assert.equal(readMetricsFile(file).torn, false);
  } finally {
    done();
  }
});

test('a diverged update (NaN loss, infinite gradient norm) is written and read back as NaN', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    appendMetrics(file, { ...record(1), loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY });
    const [r] = readMetrics(file);
    assert.ok(r && Number.isNaN(r.loss) && Number.isNaN(r.gradNorm));
    assert.equal(r.tokensPerS, 1300);
  } finally {
    done();
  }
});

test('a missing metrics file reads as no iterations yet', () => {
  assert.deepEqual(readMetrics(join(tmpdir(), 'azr-no-such-dir', 'metrics.jsonl')), []);
});

test('a torn last line (a run killed mid-write) is ignored and reported', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    appendMetrics(file, record(1));
    const line = JSON.stringify(record(2));
    appendFileSync(file, line.slice(0, 100)); // killed mid-write
    const r = readMetricsFile(file);
    assert.deepEqual(r.records, [record(1)]);
    assert.equal(r.torn, true);
  } finally {
    done();
  }
});

test('a bad record is refused with the file, line and field named', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    const bad = record(2) as unknown as { types: { abduction: { solveRate: number } } };
    bad.types.abduction.solveRate = 1.5;
    writeFileSync(file, `${JSON.stringify(record(1))}\n${JSON.stringify(bad)}\n`);
    assert.throws(
      () => readMetrics(file),
      (e: Error) => {
        assert.match(e.message, /metrics\.jsonl:2: types\.abduction\.solveRate: /);
        return true;
      },
    );
    writeFileSync(file, `${JSON.stringify(record(1))}\n{"version":1,"iteration":2,\n`);
    assert.throws(() => readMetrics(file), /metrics\.jsonl:2: not JSON/);
    writeFileSync(file, `${JSON.stringify({ ...record(1), loss: 'high' })}\n`);
    assert.throws(() => readMetrics(file), /metrics\.jsonl:1: loss: /);
    writeFileSync(file, `${JSON.stringify({ ...record(1), types: { deduktion: typeMetrics() } })}\n`);
    assert.throws(() => readMetrics(file), /metrics\.jsonl:1: types/);
  } finally {
    done();
  }
});

test('a record from another format version says so instead of listing field errors', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    writeFileSync(file, `${JSON.stringify({ version: 3, iteration: 1, whatever: true })}\n`);
    assert.throws(() => readMetrics(file), /:1: metrics record version 3, this azr reads version 2/);
  } finally {
    done();
  }
});

test('a version-1 record (an older run) reads with learnability as validProposerReward', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    const current = record(1);
    const v1 = {
      ...current,
      version: 1,
      types: Object.fromEntries(
        Object.entries(current.types).map(([t, { validProposerReward, ...rest }]) => [
          t,
          { ...rest, learnability: validProposerReward },
        ]),
      ),
    };
    writeFileSync(file, `${JSON.stringify(v1)}\n`);
    assert.deepEqual(readMetrics(file), [current]);
  } finally {
    done();
  }
});

test('a record from before the copy check (no copyRate or distinct shares) reads as it was', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    const current = record(1);
    const older = {
      ...current,
      types: Object.fromEntries(
        Object.entries(current.types).map(([t, x]) => {
          const { copyRate: _c, distinctShare: _d, bufferDistinctShare: _b, ...rest } = x as TypeMetrics;
          return [t, rest];
        }),
      ),
    };
    writeFileSync(file, `${JSON.stringify(older)}\n`);
    assert.deepEqual(readMetrics(file), [older]);
    assert.throws(
      () => appendMetrics(file, { ...current, types: { deduction: typeMetrics({ distinctShare: 1.5 }) } }),
      /types\.deduction\.distinctShare: /,
    );
  } finally {
    done();
  }
});

test('appendMetrics refuses a bad record before it reaches the file', () => {
  const { file, done } = tempFile('metrics.jsonl');
  try {
    assert.throws(() => appendMetrics(file, { ...record(1), iteration: -1 }), /iteration: /);
    assert.deepEqual(readMetrics(file), []);
  } finally {
    done();
  }
});

test('sample records round-trip; a bad role is named', () => {
  const { file, done } = tempFile('samples.jsonl');
  try {
    const solver: SampleRecord = { ...sample, role: 'solver', ok: false, reward: -0.5, reason: 'wrong' };
    const copy: SampleRecord = {
      ...sample,
      ok: false,
      reward: -0.5,
      reason: 'copy',
      detail: 'the program repeats reference 2 of its prompt: "def f(a):\\n    return a"',
    };
    appendSamples(file, [sample, solver, copy]);
    assert.deepEqual(readSamples(file), [sample, solver, copy]);
    writeFileSync(file, `${JSON.stringify({ ...sample, role: 'critic' })}\n`);
    assert.throws(() => readSamples(file), /samples\.jsonl:1: role: /);
  } finally {
    done();
  }
});
