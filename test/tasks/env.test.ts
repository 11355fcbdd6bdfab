import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createExecutor } from '../../src/executor/index.js';
import {
  identityTask,
  keyOf,
  readTaskFile,
  TaskBuffer,
  toTaskRecord,
  validateProposals,
  verifySolutions,
  writeTaskFile,
} from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

const ex = await createExecutor({ workers: 2, limits: { timeoutMs: 1000 } });
const dir = mkdtempSync(join(tmpdir(), 'azr-env-'));
test.after(async () => {
  await ex.close();
  rmSync(dir, { recursive: true, force: true });
});

const prog = (body: string) => `def f(x):\n    ${body}`;

test('validation keeps good tasks and gives every rejection its reason', async () => {
  const seed = identityTask('deduction', 'python');
  const seen = new Set([keyOf(seed)]);
  const cases: [string, string, string][] = [
    [prog('return x * 2'), '21', 'ok'],
    [seed.program, seed.input, 'duplicate'],
    [prog('return x * 2'), '21', 'duplicate'], // duplicate of the first one, within the batch
    ['def f(x) return x', '1', 'syntax'],
    [prog('return x / 0'), '1', 'runtime'],
    [prog('while True: pass'), '1', 'timeout'],
    [prog('return len([0] * 10**9)'), '1', 'memory'],
    [`import os\n${prog('return 1')}`, '1', 'banned'],
    [prog('return object()'), '1', 'nondeterministic'],
    [prog("return 'z' * 10**5"), '1', 'too_large'],
    [prog('return x'), 'x +', 'bad_input'],
    ['def g(x):\n    return x', '1', 'no_entry'],
  ];
  const results = await validateProposals(
    ex,
    cases.map(([program, input]) => ({
      type: 'deduction',
      lang: 'python',
      proposal: { kind: 'program', program, input },
    })),
    seen,
  );
  results.forEach((r, i) => {
    const [, , want] = cases[i] as [string, string, string];
    assert.equal(r.ok ? 'ok' : r.reason, want, `case ${i}: ${JSON.stringify(r)}`);
  });
  const first = results[0];
  assert.ok(first?.ok && first.task.output === '42');
});

test('induction: inputs are run, distinct valid ones split into shown and hidden; too few is rejected', async () => {
  const subject = { ...identityTask('deduction', 'python'), program: prog('return x[::-1]') };
  const [good, poor] = await validateProposals(
    ex,
    [
      {
        type: 'induction',
        lang: 'python',
        subject,
        proposal: { kind: 'inputs', message: 'reverses', inputs: ["'ab'", "'abc'", '[1, 2]', "'ab'", '5'] },
      },
      {
        type: 'induction',
        lang: 'python',
        subject,
        proposal: { kind: 'inputs', message: 'm', inputs: ['5', '6', "'a'", '7'] },
      },
    ],
    new Set(),
  );
  assert.ok(good?.ok, JSON.stringify(good));
  assert.deepEqual(good.task.shown, [
    { input: "'ab'", output: "'ba'" },
    { input: "'abc'", output: "'cba'" },
  ]);
  assert.deepEqual(good.task.hidden, [{ input: '[1, 2]', output: '[2, 1]' }]);
  assert.equal(poor?.ok ? 'ok' : poor?.reason, 'too_few_inputs');
});

test('verification: deduction by equality, abduction by any input that works, induction by hidden pairs', async () => {
  const ded = {
    type: 'deduction' as const,
    lang: 'python' as const,
    program: prog('return x + 1'),
    input: '1',
    output: '2',
  };
  const abd = { ...ded, type: 'abduction' as const, program: prog('return x % 3'), input: '4', output: '1' };
  const ind = {
    ...ded,
    type: 'induction' as const,
    program: prog('return x * 2'),
    message: 'doubles',
    shown: [{ input: '1', output: '2' }],
    hidden: [
      { input: '5', output: '10' },
      { input: "'a'", output: "'aa'" },
    ],
  };
  const verdicts = await verifySolutions(ex, [
    { task: ded, answer: '2.0' },
    { task: ded, answer: '3' },
    { task: ded, answer: 'not a literal' },
    { task: abd, answer: '7' }, // differs from the gold input 4 but f(7) == 1
    { task: abd, answer: '3' },
    { task: ind, answer: prog('return x + x') },
    { task: ind, answer: prog('return x * 2 if x != 5 else 11') },
    { task: ind, answer: 'def f(x) oops' },
    {
      task: {
        ...ded,
        lang: 'javascript' as const,
        program: 'function f(x) { return [x, x]; }',
        output: '[1,1]',
      },
      answer: '[1, 1]',
    },
  ]);
  assert.deepEqual(verdicts, [true, false, false, true, false, true, false, false, true]);
});

test('buffer: seeded with the identity task, persists, drops a torn line, truncates to a committed size', () => {
  const file = join(dir, 'deduction.jsonl');
  const b = TaskBuffer.open(file, 'deduction', 'python');
  assert.equal(b.size, 1);
  assert.equal(b.all()[0]?.program, 'def f(x):\n    return x');
  const t = (n: number) => ({
    type: 'deduction' as const,
    lang: 'python' as const,
    program: prog(`return x + ${n}`),
    input: '1',
    output: String(1 + n),
  });
  assert.equal(b.addAll([t(1), t(2), t(1)], 1), 2);
  assert.equal(b.add(t(3), 2), true);
  assert.equal(b.add(t(3), 2), false, 'duplicates are skipped');
  appendFileSync(file, '{"lang":"python","type":"dedu');
  const reopened = TaskBuffer.open(file, 'deduction', 'python');
  assert.equal(reopened.size, 4, 'torn tail ignored');
  assert.ok(readFileSync(file, 'utf8').endsWith('\n'), 'torn tail cut from the file');
  const committed = TaskBuffer.open(file, 'deduction', 'python', 3);
  assert.equal(committed.size, 3);
  assert.equal(TaskBuffer.open(file, 'deduction', 'python').size, 3);
  const rng = new Rng(5);
  const s1 = committed.sample(rng, 8).map((x) => x.program);
  const s2 = TaskBuffer.open(file, 'deduction', 'python')
    .sample(new Rng(5), 8)
    .map((x) => x.program);
  assert.deepEqual(s1, s2, 'sampling is a function of the seed');
});

test('dataset: the held-out file reads, and tasks round-trip through the format', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const heldout = readTaskFile(join(root, 'eval', 'heldout.jsonl'));
  assert.equal(heldout.length, 174);
  assert.ok(heldout.filter((t) => t.type === 'induction').every((t) => (t.hidden?.length ?? 0) > 0));
  const file = join(dir, 'export.jsonl');
  const recs = [toTaskRecord(identityTask('induction', 'javascript'), { iteration: 3 })];
  writeTaskFile(file, recs);
  assert.deepEqual(readTaskFile(file), recs);
  appendFileSync(file, '{"lang": "cobol", "type": "deduction", "program": "x", "input": "", "output": ""}\n');
  assert.throws(() => readTaskFile(file), /export\.jsonl:2: not a task: lang/);
});
