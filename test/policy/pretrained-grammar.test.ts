// A pretrained policy decodes constrained requests under the answer structure over its own vocabulary:
// SmolLM2-135M (pulled; skipped otherwise) at iteration 0, asked in the reference style as text and in
// its chat template, closes every answer within its budget and every answer parses. The grammar's own
// guarantees are tested in test/grammar/; this checks the wiring from a run's requests to the sampler.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pretrainedConstraints } from '../../src/grammar/index.js';
import { NO_UPDATES } from '../../src/model/engine-types.js';
import { openPretrained } from '../../src/model/resolve-model.js';
import { createPretrainedPolicy } from '../../src/policy/pretrained.js';
import type { GenerateRequest } from '../../src/policy/types.js';
import {
  answerConstraint,
  identityTask,
  parseProposal,
  parseSolution,
  proposerPrompt,
  STRUCTURE_ONLY,
  solverPrompt,
} from '../../src/tasks/index.js';
import { realModel } from '../model/real-models.js';

const model = realModel('smollm2-135m');
const FORMAT = { style: 'reference' as const, inductionInputs: 4, grammar: STRUCTURE_ONLY };

test('a pretrained policy samples constrained requests under the answer structure of its vocabulary', {
  skip: model.skip,
}, async () => {
  const task = {
    ...identityTask('deduction', 'python'),
    program: 'def f(a):\n    return a * 2 + 1',
    input: '3',
    output: '7',
  };
  const solve: GenerateRequest = {
    prompt: solverPrompt(task, { style: 'reference' }),
    n: 2,
    temperature: 1,
    topP: 1,
    maxTokens: 96,
    seed: 1,
  };
  const propose: GenerateRequest = {
    prompt: proposerPrompt('deduction', 'python', [task], { style: 'reference' }),
    n: 1,
    temperature: 1,
    topP: 1,
    maxTokens: 160,
    seed: 2,
  };
  const constrained = [
    { ...solve, constraint: answerConstraint(FORMAT, 'deduction', 'solver', 'python') },
    { ...propose, constraint: answerConstraint(FORMAT, 'deduction', 'proposer', 'python') },
  ];
  for (const chat of [false, true]) {
    const policy = await createPretrainedPolicy(openPretrained(model.path()), {
      threads: 2,
      seed: 0,
      optimizer: NO_UPDATES,
      trainUnderMask: false,
      contextLength: 1024,
      chat,
      constraints: pretrainedConstraints,
    });
    try {
      const [solved, proposed] = await policy.generate(constrained);
      // The budget bound closes every answer within maxTokens: all of them end by themselves and parse.
      for (const c of solved ?? []) {
        assert.equal(c.finishReason, 'stop', JSON.stringify(c.text));
        const r = parseSolution('deduction', 'python', c.text, 'reference');
        assert.ok(r.ok, `chat ${chat}: ${JSON.stringify(c.text)}`);
        if (chat) assert.ok(c.text.startsWith('<think>'), JSON.stringify(c.text));
      }
      for (const c of proposed ?? []) {
        assert.equal(c.finishReason, 'stop', JSON.stringify(c.text));
        assert.ok(parseProposal('deduction', 'python', c.text, 'reference').ok, JSON.stringify(c.text));
      }
    } finally {
      await policy.close();
    }
  }
});
