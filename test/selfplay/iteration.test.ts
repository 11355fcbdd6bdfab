// One iteration driven by a scripted policy (fixed completions, in request order) through the real
// executor: every proposal's and every answer's reward, and every TRR++ advantage, against values worked
// out by hand from the method (eq. 8 of the paper; rewards in src/tasks/rewards.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Completion, GenerateRequest, Policy, TrainingSample } from '../../src/policy/types.js';
import { validTask } from '../../src/rollout/pipeline.js';
import { merge, PRESETS, rolloutSettingsOf, type SelfPlayConfig } from '../../src/run/config.js';
import { runIteration } from '../../src/selfplay/iteration.js';
import { iterationMetrics, sampleRecords } from '../../src/selfplay/metrics.js';
import { ProgramForms, TaskBuffer, type TaskType } from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-iteration-'));
const executor = await createExecutor({ workers: 1, langs: ['python'] });
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

const config: SelfPlayConfig = merge(PRESETS.tiny, {
  selfplay: { taskTypes: ['deduction'], proposerBatch: 3, solverBatch: 2, learnabilityRollouts: 2 },
});

/** Answers the n-th generate call with the n-th script, request by request, sample by sample. */
function scriptedPolicy(
  scripts: string[][][],
): Policy & { calls: GenerateRequest[][]; updates: TrainingSample[][] } {
  const calls: GenerateRequest[][] = [];
  const updates: TrainingSample[][] = [];
  return {
    calls,
    updates,
    async generate(requests) {
      const script = scripts[calls.length] ?? [];
      calls.push([...requests]);
      return requests.map((r, i) =>
        Array.from(
          { length: r.n },
          (_, k): Completion => ({ text: script[i]?.[k] ?? '', finishReason: 'stop' }),
        ),
      );
    },
    async update(samples) {
      updates.push([...samples]);
      return { loss: 0, gradNorm: 0, learningRate: 0, tokens: 0, timeMs: 0 };
    },
    async close() {},
  };
}

test('one scripted iteration: each reward and TRR++ advantage is what the method says', async () => {
  const policy = scriptedPolicy([
    // Proposals: a valid task; text that does not parse; a program that ignores its input.
    [
      ['```python\ndef f(a):\n    return a + 1\n```\n```input\n2\n```</answer>'],
      ['nonsense'],
      ['```python\ndef f(a):\n    return 5\n```\n```input\n1\n```</answer>'],
    ],
    // Attempts: two learnability rollouts of the new task (one right, one wrong), then the solver batch:
    // the new task (right) and the identity seed drawn from the buffer (wrong).
    [['3</answer>', '4</answer>'], ['3</answer>'], ["'nope'</answer>"]],
  ]);
  const buffers = {
    deduction: TaskBuffer.open(join(dir, 'deduction.jsonl'), 'deduction', 'python'),
  } as Record<TaskType, TaskBuffer>;
  const env = {
    config,
    settings: rolloutSettingsOf(config),
    policy,
    executor,
    buffers,
    forms: new ProgramForms(executor),
  };
  const r = await runIteration(env, { iteration: 1, rng: new Rng(3), elapsedS: 0 });

  // What became of each proposal.
  assert.deepEqual(
    r.proposals.map((p) => (p.verdict?.kind === 'valid' ? 'valid' : p.verdict?.reason)),
    ['valid', 'unclosed', 'ignores_input'],
  );
  const task = validTask(r.proposals[0] as (typeof r.proposals)[number]);
  assert.equal(task?.output, '3');

  // Proposer: learnability 1 - 1/2 for the task half its rollouts solved; -1 unparsed; -0.5 invalid.
  assert.deepEqual(r.rewards.proposer, [0.5, -1, -0.5]);
  // Solver: right +1, wrong -0.5 (rollouts first, then the solver batch).
  assert.deepEqual(r.rewards.solver, [[1, -0.5], [1], [-0.5]]);
  assert.equal(r.attempts[2]?.task.program, 'def f(a):\n    return a', 'the batch is padded from the buffer');

  // TRR++: within deduction/proposer, mean -1/3 and population std sqrt(7/18); within deduction/solver,
  // mean 1/4 and std 3/4. A = (r - mean) / (std + 1e-6).
  const eps = 1e-6;
  const pStd = Math.sqrt(7 / 18);
  const expected = [
    (0.5 + 1 / 3) / (pStd + eps),
    (-1 + 1 / 3) / (pStd + eps),
    (-0.5 + 1 / 3) / (pStd + eps),
    0.75 / (0.75 + eps),
    -0.75 / (0.75 + eps),
    0.75 / (0.75 + eps),
    -0.75 / (0.75 + eps),
  ];
  const [samples] = policy.updates;
  assert.equal(policy.updates.length, 1, 'one update per iteration');
  assert.deepEqual(
    samples?.map((s) => s.group),
    ['deduction/proposer', 'deduction/proposer', 'deduction/proposer', ...Array(4).fill('deduction/solver')],
  );
  for (const [i, s] of (samples ?? []).entries())
    assert.ok(Math.abs(s.advantage - (expected[i] as number)) < 1e-12, `sample ${i}: ${s.advantage}`);

  // The new task joined the buffer; the metrics say the same things.
  assert.equal(buffers.deduction.size, 2);
  const m = iterationMetrics(config, r, { timeS: 1, iterationS: 1, executions: 0 }).types.deduction;
  assert.equal(m?.solveRate, 0.5);
  assert.equal(m?.validRate, 1 / 3);
  assert.equal(m?.proposerReward, -1 / 3);
  assert.equal(m?.validProposerReward, 0.5);
  assert.deepEqual(m?.rejections, { 'format:unclosed': 1, ignores_input: 1 });
  assert.equal(m?.solverFormatErrors, 0);

  // Two generate calls: three proposals, then four attempts; learnability rollouts ask for n = 2.
  assert.deepEqual(
    policy.calls.map((c) => c.map((q) => q.n)),
    [
      [1, 1, 1],
      [2, 1, 1],
    ],
  );
});

/** Proposes, for each proposer prompt, the first program it shows with `a` renamed, on input 6. */
function copyingPolicy(fresh: string): Policy & { prompts: string[] } {
  const prompts: string[] = [];
  let calls = 0;
  return {
    prompts,
    async generate(requests) {
      const proposing = calls++ === 0;
      return requests.map((r, i) => {
        prompts.push(r.prompt);
        const shown = /```python\n([\s\S]*?)\n```/.exec(r.prompt)?.[1] ?? '';
        const copy = shown.replace(/\ba\b/g, 'z');
        const program = i === requests.length - 1 ? fresh : copy;
        const text = proposing
          ? `\`\`\`python\n${program}\n\`\`\`\n\`\`\`input\n6\n\`\`\`</answer>`
          : '12</answer>';
        return Array.from({ length: r.n }, (): Completion => ({ text, finishReason: 'stop' }));
      });
    },
    async update() {
      return { loss: 0, gradNorm: 0, learningRate: 0, tokens: 0, timeMs: 0 };
    },
    async close() {},
  };
}

test('a proposer that copies its references is rejected as copy, naming the program; the treatment is the config', async () => {
  const fresh = 'def f(a):\n    return a * 2';
  for (const copies of ['invalid', 'unlearnable', 'allowed'] as const) {
    const c: SelfPlayConfig = merge(config, { validation: { copies } });
    const policy = copyingPolicy(fresh);
    const buffers = {
      deduction: TaskBuffer.open(join(dir, `copies-${copies}.jsonl`), 'deduction', 'python'),
    } as Record<TaskType, TaskBuffer>;
    const env = {
      config: c,
      settings: rolloutSettingsOf(c),
      policy,
      executor,
      buffers,
      forms: new ProgramForms(executor),
    };
    const r = await runIteration(env, { iteration: 1, rng: new Rng(5), elapsedS: 0 });
    // The buffer holds the identity seed only, so both copies repeat reference 1 of their prompts.
    assert.ok(policy.prompts[0]?.includes('def f(a):\n    return a'));
    const verdicts = r.proposals.map((p) => p.verdict);
    const m = iterationMetrics(c, r, { timeS: 1, iterationS: 1, executions: 0 }).types.deduction;
    if (copies === 'allowed') {
      // The copy is the identity on a new input: the identity rule, not the copy check, rejects it.
      assert.deepEqual(
        verdicts.map((v) => (v?.kind === 'valid' ? 'valid' : v?.reason)),
        ['returns_input', 'returns_input', 'valid'],
      );
      assert.equal(m?.copyRate, 0);
      continue;
    }
    assert.deepEqual(
      verdicts.map((v) => (v?.kind === 'valid' ? 'valid' : v?.reason)),
      ['copy', 'copy', 'valid'],
    );
    for (const v of verdicts.slice(0, 2))
      assert.equal(
        v?.kind === 'rejected' && v.detail,
        'the program repeats reference 1 of its prompt: "def f(a):\\n    return a"',
      );
    // Invalid: the invalid proposal's -0.5. Unlearnable: what a valid task no rollout solves scores, 0.
    // The new program's rollouts both answered 12 = 6 * 2: learnability 0 too.
    const copyReward = copies === 'invalid' ? -0.5 : 0;
    assert.deepEqual(r.rewards.proposer, [copyReward, copyReward, 0]);
    assert.equal(buffers.deduction.size, 2, 'only the new program joins the buffer');
    assert.deepEqual(m?.rejections, { copy: 2 });
    assert.equal(m?.copyRate, 2 / 3);
    assert.equal(m?.duplicateRate, 0);
    assert.equal(m?.distinctShare, 1);
    assert.equal(m?.bufferDistinctShare, 1);
    const lines = sampleRecords(c, r).filter((s) => s.role === 'proposer');
    assert.match(lines.find((s) => s.reason === 'copy')?.detail ?? '', /repeats reference 1 of its prompt/);
  }
});

test('experimental.noveltyReward: a valid program with a skeleton new to the buffers earns the bonus', async () => {
  const propose = (program: string, input: string) =>
    `\`\`\`python\n${program}\n\`\`\`\n\`\`\`input\n${input}\n\`\`\`</answer>`;
  for (const bonus of [0, 0.25]) {
    const c: SelfPlayConfig = merge(config, { experimental: { noveltyReward: bonus } });
    const policy = scriptedPolicy([
      [
        [propose('def f(a):\n    return a * 3', '2')], // a near-copy of the buffer's a * 2
        [propose('def f(b):\n    return len(b)', "'abc'")], // a new skeleton
        [propose('def f(a):\n    return a * 5', '2')], // the first one's skeleton again
      ],
      // Every rollout and solver answer is wrong: learnability 0 everywhere.
      Array.from({ length: 5 }, () => ['0</answer>', '0</answer>']),
    ]);
    const buffers = {
      deduction: TaskBuffer.open(join(dir, `novelty-${bonus}.jsonl`), 'deduction', 'python'),
    } as Record<TaskType, TaskBuffer>;
    buffers.deduction.add(
      { type: 'deduction', lang: 'python', program: 'def f(a):\n    return a * 2', input: '1', output: '2' },
      0,
    );
    const env = {
      config: c,
      settings: rolloutSettingsOf(c),
      policy,
      executor,
      buffers,
      forms: new ProgramForms(executor),
    };
    const r = await runIteration(env, { iteration: 1, rng: new Rng(9), elapsedS: 0 });
    assert.deepEqual(
      r.proposals.map((p) => p.verdict?.kind),
      ['valid', 'valid', 'valid'],
    );
    assert.deepEqual(r.rewards.proposer, [0, bonus, 0]);
  }
});
