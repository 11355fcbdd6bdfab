// Generate mode validates exactly as training does: a proposal the training loop rejects (the identity,
// a program that ignores its input, a nondeterministic one) is rejected by `azr generate` too, for the same
// reason, and only the task training accepts is written.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Completion, Policy } from '../../src/policy/types.js';
import {
  planProposals,
  rejectionOf,
  sampleProposals,
  validateProposals,
} from '../../src/rollout/pipeline.js';
import { PRESETS, rolloutSettingsOf } from '../../src/run/config.js';
import { runGenerateMode } from '../../src/selfplay/generate.js';
import { identityTask, keyOf, readTaskFile } from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-generate-validation-'));
const executor = await createExecutor({ workers: 1, langs: ['python'] });
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

const program = (body: string, input: string) =>
  `\`\`\`python\ndef f(a):\n    return ${body}\n\`\`\`\n\`\`\`input\n${input}\n\`\`\`</answer>`;
const PROPOSALS = [
  program('a', '7'), // the identity
  program('5', '1'), // ignores its input
  program('hash(object()) % 1000', '1'), // a new object's address each run (an object itself is not a value)
  program('a * 3', '4'), // a real task
];

/** Proposals in slot order on the first call; every later call answers 12 to everything. */
function scripted(): Policy {
  let calls = 0;
  return {
    async generate(requests) {
      const first = calls++ === 0;
      return requests.map((r, i) =>
        Array.from(
          { length: r.n },
          (): Completion => ({
            text: first ? (PROPOSALS[i] ?? '') : '12</answer>',
            finishReason: 'stop',
          }),
        ),
      );
    },
    async close() {},
  };
}

test('generate mode rejects what training rejects, for the same reasons', async () => {
  const why = ['returns_input', 'ignores_input', 'nondeterministic', undefined];

  // Training's validation (the default preset's settings), through the pipeline the loop calls.
  const settings = {
    ...rolloutSettingsOf(PRESETS.default),
    format: { style: 'compact' as const, inductionInputs: 4, grammar: null },
  };
  const slots = planProposals(
    settings,
    () => [identityTask('deduction', 'python')],
    ['deduction'],
    4,
    () => new Rng(1),
  );
  await sampleProposals(scripted(), slots);
  await validateProposals(
    executor,
    settings,
    slots,
    () => new Set([keyOf(identityTask('deduction', 'python'))]),
  );
  assert.deepEqual(slots.map(rejectionOf), why);

  // `azr generate`'s loop on the same completions.
  const out = join(dir, 'tasks.jsonl');
  const stats = await runGenerateMode({
    policy: scripted(),
    executor,
    lang: 'python',
    out,
    tasks: 1,
    types: ['deduction'],
    batch: 4,
    rollouts: 2,
    style: 'compact',
    maxRounds: 1,
  });
  assert.deepEqual(stats.rejected, { returns_input: 1, ignores_input: 1, nondeterministic: 1 });
  assert.equal(stats.valid, 1);
  const [written, ...rest] = readTaskFile(out);
  assert.equal(rest.length, 0);
  assert.equal(written?.program, 'def f(a):\n    return a * 3');
  assert.equal(written?.solveRate, 1, 'both rollouts answered 12 = 4 * 3');
});
