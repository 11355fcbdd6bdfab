// evaluateTasks on the shipped held-out set with a scripted policy: the accounting (per type, per
// difficulty, pass@1 over several samples), the answer grammar each request names, and the per-task answers.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type EvalOptions, evaluateTasks } from '../../src/eval/heldout.js';
import { createExecutor } from '../../src/executor/index.js';
import { constraintFor } from '../../src/grammar/index.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import { answerConstraint, programArity } from '../../src/tasks/answer-format.js';
import { readTaskFile, type TaskRecord } from '../../src/tasks/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const heldout = readTaskFile(join(root, 'eval', 'heldout.jsonl')).filter((r) => r.lang === 'python');
const executor = await createExecutor({ workers: 1, langs: ['python'] });
after(() => executor.close());

/** The right answer for a held-out record, in the compact format's answer text. */
function rightAnswer(r: TaskRecord): string {
  if (r.type === 'deduction') return `${r.output}</answer>`;
  if (r.type === 'abduction') return `${r.input}</answer>`;
  return `\`\`\`python\n${r.program}\n\`\`\`</answer>`;
}

/** Answers request i with `pick(i, k)` for sample k: the right answer or a wrong one. */
function scripted(records: readonly TaskRecord[], right: (i: number, k: number) => boolean) {
  const seen: GenerateRequest[] = [];
  const policy: Policy = {
    async generate(reqs) {
      seen.push(...reqs);
      return reqs.map((q, i) =>
        Array.from({ length: q.n }, (_, k): Completion => {
          const r = records[i] as TaskRecord;
          const wrong =
            r.type === 'induction'
              ? '```python\ndef f(a):\n    return 12345\n```</answer>'
              : '12345</answer>';
          return { text: right(i, k) ? rightAnswer(r) : wrong, finishReason: 'stop' };
        }),
      );
    },
    async close() {},
  };
  return { policy, seen };
}

const grammar = { matchArity: true, returnOnly: false, exprDepth: 2, shortInputs: false, boolReturns: true };
const opts: EvalOptions = { format: { style: 'compact', inductionInputs: 4, grammar }, maxTokens: 96 };

test('every right answer scores 1, every wrong one 0, per type and difficulty', async () => {
  const all = await evaluateTasks(scripted(heldout, () => true).policy, executor, heldout, opts);
  assert.deepEqual([all.deduction, all.abduction, all.induction, all.mean], [1, 1, 1, 1]);
  assert.equal(all.tasks, 87);
  for (const row of Object.values(all.byDifficulty)) assert.deepEqual(Object.values(row), [1, 1, 1]);
  assert.ok(all.answers.every((a) => a.passRate === 1 && a.parsed));
  const none = await evaluateTasks(scripted(heldout, () => false).policy, executor, heldout, opts);
  assert.deepEqual([none.deduction, none.abduction, none.induction, none.mean], [0, 0, 0, 0]);
});

test('with several samples a task scores the share that pass', async () => {
  // Sample k of task i is right when k < i % 4: shares 0, 1/4, 2/4, 3/4 in turn.
  const { policy, seen } = scripted(heldout, (i, k) => k < i % 4);
  const r = await evaluateTasks(policy, executor, heldout, { ...opts, samples: 4, temperature: 1 });
  assert.ok(seen.every((q) => q.n === 4 && q.temperature === 1));
  for (const [i, a] of r.answers.entries()) assert.equal(a.passRate, (i % 4) / 4, a.id);
  const expect = (type: string) => {
    const idx = heldout.map((t, i) => (t.type === type ? i : -1)).filter((i) => i >= 0);
    return idx.reduce((s, i) => s + (i % 4) / 4, 0) / idx.length;
  };
  assert.ok(Math.abs(r.deduction - expect('deduction')) < 1e-12);
  assert.ok(Math.abs(r.induction - expect('induction')) < 1e-12);
});

test('each request carries the answer constraint of its task: the arity its def line shows, and the run settings', async () => {
  const { policy, seen } = scripted(heldout, () => true);
  const format = {
    style: 'compact' as const,
    inductionInputs: 4,
    grammar: { ...grammar, returnOnly: true, boolReturns: false },
  };
  await evaluateTasks(policy, executor, heldout, { ...opts, format });
  heldout.forEach((t, i) => {
    const c = seen[i]?.constraint;
    assert.deepEqual(c, answerConstraint(format, t.type, 'solver', 'python', t.program));
    assert.equal(c?.arity, programArity(t.program), t.id);
    assert.equal(c?.returnOnly, true);
    assert.equal(c?.boolReturns, false);
    assert.ok(c && constraintFor(c), t.id);
  });
  const plain = scripted(heldout, () => true);
  await evaluateTasks(plain.policy, executor, heldout, {
    ...opts,
    format: { ...format, grammar: { ...grammar, matchArity: false } },
  });
  assert.ok(plain.seen.every((q) => q.constraint && q.constraint.arity === undefined));
  const free = scripted(heldout, () => true);
  await evaluateTasks(free.policy, executor, heldout, { ...opts, format: { ...format, grammar: null } });
  assert.ok(free.seen.every((q) => q.constraint === undefined));
});

test('pass@k per task type: the unbiased estimator over each task’s samples', async () => {
  // Task i has i % 4 right answers out of 4.
  const { policy } = scripted(heldout, (i, k) => k < i % 4);
  const r = await evaluateTasks(policy, executor, heldout, {
    ...opts,
    samples: 4,
    temperature: 1,
    passAt: [1, 2, 4],
  });
  // By hand, for n = 4: pass@1 = c/4; pass@2 = 1 - C(4-c, 2)/C(4, 2) = 1 - {6, 3, 1, 0}[c]/6; pass@4 = [c > 0].
  const byHand: Record<string, (c: number) => number> = {
    '1': (c) => c / 4,
    '2': (c) => 1 - ([6, 3, 1, 0][c] as number) / 6,
    '4': (c) => (c > 0 ? 1 : 0),
  };
  for (const [k, f] of Object.entries(byHand)) {
    const per = (type: string) => {
      const idx = heldout.map((t, i) => (t.type === type ? i : -1)).filter((i) => i >= 0);
      return idx.reduce((s, i) => s + f(i % 4), 0) / idx.length;
    };
    const got = r.passAt[k];
    for (const type of ['deduction', 'abduction', 'induction'] as const)
      assert.ok(Math.abs((got?.[type] ?? -1) - per(type)) < 1e-12, `pass@${k} ${type}`);
    assert.ok(
      Math.abs((got?.mean ?? -1) - (per('deduction') + per('abduction') + per('induction')) / 3) < 1e-12,
    );
  }
  assert.ok(Math.abs((r.passAt['1']?.mean ?? -1) - r.mean) < 1e-12, 'pass@1 is the pass rate');
  await assert.rejects(
    evaluateTasks(policy, executor, heldout, { ...opts, samples: 4, temperature: 1, passAt: [5] }),
    /pass@k: k must be a whole number from 1 to the samples per task \(4\)/,
  );
});

test('with a progress callback, tasks are answered in chunks and every chunk is reported, with the same scores', async () => {
  // The scripted answers follow the order requests arrive in, across calls.
  let next = 0;
  const calls: number[] = [];
  const policy: Policy = {
    async generate(reqs) {
      calls.push(reqs.length);
      return reqs.map((q) => {
        const r = heldout[next++] as TaskRecord;
        return Array.from(
          { length: q.n },
          (): Completion => ({ text: rightAnswer(r), finishReason: 'stop' }),
        );
      });
    },
    async close() {},
  };
  const seen: [number, number][] = [];
  const r = await evaluateTasks(policy, executor, heldout, {
    ...opts,
    onProgress: (done, total) => seen.push([done, total]),
  });
  assert.equal(r.mean, 1);
  assert.ok(calls.length > 1, `${calls.length} calls`);
  assert.equal(
    calls.reduce((a, b) => a + b, 0),
    heldout.length,
  );
  assert.deepEqual(
    seen.map(([, t]) => t),
    calls.map(() => heldout.length),
  );
  assert.deepEqual(
    seen.map(([d]) => d),
    calls.map((_, i) => calls.slice(0, i + 1).reduce((a, b) => a + b, 0)),
  );
});
