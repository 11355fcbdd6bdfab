// Proposer prompts show distinct programs: a buffer that holds one program many times (both buffers start
// with the identity seed) must not fill a prompt's references with copies of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planProposals } from '../../src/rollout/pipeline.js';
import { PRESETS, rolloutSettingsOf } from '../../src/run/config.js';
import { identityTask } from '../../src/tasks/index.js';
import type { Task, TaskType } from '../../src/tasks/types.js';
import { Rng } from '../../src/util/rng.js';

const settings = { ...rolloutSettingsOf(PRESETS.default), references: 3 };
const task = (program: string, input: string): Task => ({
  ...identityTask('deduction', 'python'),
  program,
  input,
});

test('references are distinct programs, fewer when the buffers hold fewer', () => {
  const seed = (type: TaskType) => [identityTask(type, 'python')];
  const one = planProposals(settings, seed, ['deduction', 'abduction'], 4, () => new Rng(1));
  for (const slot of one) assert.equal(slot.references?.length, 1, 'the seed once, not once per buffer');

  const double = 'def f(x):\n    return x * 2';
  const many = (type: TaskType) =>
    type === 'deduction'
      ? [...seed(type), task(double, '1'), task(double, '2'), task(double, '3'), task(double, '4')]
      : seed(type);
  const slots = planProposals(settings, many, ['deduction'], 50, () => new Rng(2));
  for (const slot of slots) {
    const programs = (slot.references ?? []).map((t) => t.program);
    assert.equal(programs.length, 2);
    assert.equal(new Set(programs).size, 2, `a prompt repeats a program: ${JSON.stringify(programs)}`);
  }
});

test('an empty pool is an error that names the task type', () => {
  assert.throws(
    () =>
      planProposals(
        settings,
        () => [],
        ['abduction'],
        1,
        () => new Rng(1),
      ),
    /no abduction reference/,
  );
});
