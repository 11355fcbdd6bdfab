// A synthetic run directory for the dashboard tests, with every line validated as the training loop's
// writer (metrics) or the dashboard's reader (samples) does: rates are counts out of a batch of 16,
// rewards and lengths drift the way a learning run's do.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appendMetrics,
  type IterationMetrics,
  type SampleRecord,
  type TypeMetrics,
} from '../../src/run/metrics.js';
import { RunDir } from '../../src/run/rundir.js';
import { TASK_TYPES } from '../../src/tasks/types.js';
import { appendSamples } from '../selfplay/samples.js';

const BATCH = 16;
const of16 = (n: number) => Math.max(0, Math.min(BATCH, Math.round(n))) / BATCH;

export function typeMetrics(iteration: number, k: number): TypeMetrics {
  const valid = of16(4 + iteration + k);
  const duplicate = of16(iteration / 3);
  return {
    solveRate: of16(1 + iteration * (k + 1) * 0.5),
    solverReward: -0.5 + of16(1 + iteration * (k + 1) * 0.5),
    proposerReward: -0.4 + 0.05 * iteration - 0.1 * k,
    validRate: valid,
    duplicateRate: duplicate,
    copyRate: of16(iteration / 4),
    validProposerReward: 0.1 + 0.02 * iteration,
    rejections: {
      runtime: 8 - Math.min(6, iteration),
      ...(k === 2 ? { too_few_inputs: 3 } : { 'format:no_answer': 1 }),
    },
    programChars: 28 + 2 * iteration + k,
    diversity: Math.max(valid - duplicate / 2, 0),
    distinctShare: 1 - of16(k + iteration / 4),
    bufferDistinctShare: 1 - of16(iteration / 2),
    bufferSize: 4 + iteration * (3 + k),
    proposerTokens: 100 - 3 * iteration + 5 * k,
    solverTokens: k === 2 ? 60 : 6 + k,
    proposerFormatErrors: of16(3 - iteration / 3),
    solverFormatErrors: of16(2 - iteration / 4),
  };
}

/** Iteration i's record; an evaluation ran before iterations 1, 5, 9, ... */
export function metricsRecord(iteration: number, solveShift = 0): IterationMetrics {
  const types: IterationMetrics['types'] = {};
  TASK_TYPES.forEach((t, k) => {
    const m = typeMetrics(iteration, k);
    types[t] = { ...m, solveRate: Math.min(1, m.solveRate + solveShift) };
  });
  const r: IterationMetrics = {
    version: 2,
    iteration,
    timeS: 20.5 * iteration,
    iterationS: 20.5,
    types,
    loss: 0.05 - 0.01 * iteration,
    gradNorm: 8 / iteration,
    learningRate: 3e-4,
    tokensPerS: 1300 + 10 * iteration,
    execsPerS: 1600 - 5 * iteration,
    phases: { sample: 5.5, execute: 0.1, update: 14.9 },
  };
  if (iteration % 4 === 1) {
    const e = 0.02 * iteration;
    r.eval = { deduction: e, abduction: 2 * e, induction: 0, mean: e };
  }
  return r;
}

export function samples(iteration: number): SampleRecord[] {
  const prog = `def f(x):\n    return x * ${iteration}`;
  return [
    {
      iteration,
      type: 'deduction',
      role: 'proposer',
      lang: 'python',
      prompt: 'propose deduction python',
      completion: `\`\`\`python\n${prog}\n\`\`\`\n\`\`\`input\n3\n\`\`\``,
      reward: 0.25,
      ok: true,
      program: prog,
      input: '3',
      output: String(3 * iteration),
    },
    {
      iteration,
      type: 'abduction',
      role: 'solver',
      lang: 'python',
      prompt: 'abduction python',
      completion: '<b>bold</b> 4',
      reward: -0.5,
      ok: false,
      reason: 'wrong',
      program: prog,
      input: '2',
      output: String(2 * iteration),
    },
    {
      iteration,
      type: 'induction',
      role: 'proposer',
      lang: 'python',
      prompt: 'propose induction python',
      completion: '```message\nhmm\n```',
      reward: -0.5,
      ok: false,
      reason: 'too_few_inputs',
      detail: '1 valid distinct inputs, need 2',
    },
  ];
}

/** A run directory with `iterations` iterations of metrics and samples and a config. */
export function writeRun(root: string, iterations: number): RunDir {
  const run = new RunDir(root);
  run.create();
  writeFileSync(
    join(root, 'config.json'),
    JSON.stringify({
      seed: 7,
      lang: 'python',
      minutes: 15,
      model: { preset: 'tiny' },
      selfplay: { taskTypes: TASK_TYPES },
    }),
  );
  for (let i = 1; i <= iterations; i++) {
    appendSamples(run.samplesPath, samples(i));
    appendMetrics(run.metricsPath, metricsRecord(i));
  }
  return run;
}
