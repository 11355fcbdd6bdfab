// Validation and verification against the real executor (Pyodide and QuickJS workers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Lang } from '../../src/executor/types.js';
import {
  identityTask,
  keyOf,
  type ProposalToValidate,
  splitPairs,
  type Task,
  validateProposals,
  verdict,
  verificationRequests,
  verifySolution,
  verifySolutions,
} from '../../src/tasks/index.js';

const ex = await createExecutor({ workers: 2, limits: { timeoutMs: 1000 } });
test.after(() => ex.close());

const py = (body: string) => `def f(x):\n    ${body}`;
const js = (body: string) => `function f(x) {\n  ${body}\n}`;
const program = (lang: Lang, program: string, input: string): ProposalToValidate => ({
  type: 'deduction',
  lang,
  proposal: { kind: 'program', program, input },
});
const outcome = (r: { ok: true } | { ok: false; reason: string }) => (r.ok ? 'ok' : r.reason);

test('python proposals: valid tasks get their output, every rejection its reason', async () => {
  const seed = identityTask('deduction', 'python');
  const seen = new Set([keyOf(seed)]);
  const cases: [string, string, string][] = [
    [py('return x * 2'), '21', 'ok'],
    [seed.program, seed.input, 'duplicate'],
    [`${seed.program}  # a comment\n`, "  'Hello World' ", 'duplicate'], // cosmetic variant of the seed
    [py('return x*2'), '21', 'duplicate'], // the first case again, within the batch
    ['def f(x) return x', '1', 'syntax'],
    [py('return x / 0'), '1', 'runtime'],
    [py('while True: pass'), '1', 'timeout'],
    [py('return len([0] * 10**9)'), '1', 'memory'],
    [`import random\n${py('return random.random()')}`, '1', 'banned'],
    [`import os\n${py('return 1')}`, '1', 'banned'],
    [py('return object()'), '1', 'nondeterministic'],
    [py("return 'z' * 10**5"), '1', 'too_large'],
    [py('return x'), 'x +', 'bad_input'],
    [py('return x'), 'len([1])', 'bad_input'],
    ['def g(x):\n    return x', '1', 'no_entry'],
    [`${py('return x')}\ndef g(y):\n    return y`, '1', 'no_entry'],
    [py('return [x, (x, x), {x: None}]'), '(1, 2)', 'ok'],
  ];
  const before = ex.executions;
  const results = await validateProposals(
    ex,
    cases.map(([p, input]) => program('python', p, input)),
    seen,
  );
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[2]),
    JSON.stringify(results.map((r) => (r.ok ? r.task.output : r.detail))),
  );
  const first = results[0];
  assert.ok(first?.ok && first.task.output === '42' && first.task.type === 'deduction');
  const last = results[results.length - 1];
  assert.ok(last?.ok && last.task.output === '[(1, 2), ((1, 2), (1, 2)), {(1, 2): None}]');
  assert.ok(seen.has(keyOf(first.task)), 'accepted tasks join the seen set');
  // Known duplicates are not sent to the executor at all.
  const n = ex.executions;
  const again = await validateProposals(ex, [program('python', seed.program, seed.input)], seen);
  assert.equal(outcome(again[0] as never), 'duplicate');
  assert.equal(ex.executions, n);
  assert.ok(n > before);
});

test('javascript proposals: the same rules', async () => {
  const cases: [string, string, string][] = [
    [js('return x.split("").reverse().join("");'), '"abc"', 'ok'],
    [js('return [x, x * 2];'), '3', 'ok'],
    ['function f(x) { return x +; }', '1', 'syntax'],
    [js('return x.y.z;'), '1', 'runtime'],
    [js('while (true) {}'), '1', 'timeout'],
    [js('return Math.random();'), '1', 'banned'],
    [js('return Date.now();'), '1', 'banned'],
    [js('return "z".repeat(100000);'), '1', 'too_large'],
    [js('return x;'), 'x +', 'bad_input'],
    ['function g(x) { return x; }', '1', 'no_entry'],
  ];
  const results = await validateProposals(
    ex,
    cases.map(([p, input]) => ({ ...program('javascript', p, input), type: 'abduction' as const })),
    new Set(),
  );
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[2]),
    JSON.stringify(results.map((r) => (r.ok ? r.task.output : r.detail))),
  );
  assert.ok(results[0]?.ok && results[0].task.output === '"cba"' && results[0].task.type === 'abduction');
  assert.ok(results[1]?.ok && results[1].task.output === '[3,6]');
});

test('induction: inputs run on the subject, distinct valid ones are split shown/hidden, too few rejected', async () => {
  const subject: Task = { ...identityTask('deduction', 'python'), program: py('return x[::-1]') };
  const ind = (inputs: string[], message = 'reverses'): ProposalToValidate => ({
    type: 'induction',
    lang: 'python',
    subject,
    proposal: { kind: 'inputs', message, inputs },
  });
  const seen = new Set<string>();
  const [good, poor, spaced, missing, repeat] = await validateProposals(
    ex,
    [
      ind(["'ab'", "'abc'", '[1, 2]', "'ab'", '5', '(3, 4)']),
      ind(['5', '6', "'a'", '7']),
      ind(['[1,2]', '[1, 2]', "'xy'", "'x y'"]),
      { type: 'induction', lang: 'python', proposal: { kind: 'inputs', message: 'm', inputs: ['1'] } },
      ind(["'ab'", "'abc'", '[1, 2]', "'ab'", '5', '(3, 4)'], 'another message'),
    ],
    seen,
    { inductionInputs: 6 },
  );
  assert.ok(good?.ok, JSON.stringify(good));
  assert.equal(good.task.type, 'induction');
  assert.equal(good.task.program, subject.program);
  assert.equal(good.task.message, 'reverses');
  // '5' fails (int is not subscriptable) and the second "'ab'" repeats: 4 pairs, 2 shown, 2 hidden.
  assert.deepEqual(good.task.shown, [
    { input: "'ab'", output: "'ba'" },
    { input: "'abc'", output: "'cba'" },
  ]);
  assert.deepEqual(good.task.hidden, [
    { input: '[1, 2]', output: '[2, 1]' },
    { input: '(3, 4)', output: '(4, 3)' },
  ]);
  assert.equal(good.task.input, "'ab'");
  assert.equal(good.task.output, "'ba'");
  assert.ok(poor && !poor.ok && poor.reason === 'too_few_inputs', JSON.stringify(poor));
  assert.match(poor.detail, /^1 valid distinct inputs, need 3 \(first failure: runtime: /);
  // '[1,2]' and '[1, 2]' are one input: 3 distinct of 6 asked is exactly the minimum.
  assert.ok(spaced?.ok && spaced.task.shown?.length === 2 && spaced.task.hidden?.length === 1);
  assert.equal(outcome(missing as never), 'no_entry');
  assert.equal(
    outcome(repeat as never),
    'duplicate',
    'same program, same inputs: a duplicate whatever the message',
  );
  // Without N the minimum is half of the inputs given, and never below 2.
  const [two, one] = await validateProposals(ex, [ind(["'p'", "'q'"]), ind(["'r'"])], new Set());
  assert.ok(two?.ok && two.task.shown?.length === 1 && two.task.hidden?.length === 1);
  assert.equal(outcome(one as never), 'too_few_inputs');
});

test('splitPairs: first half (rounded up) shown, rest hidden', () => {
  const pairs = [1, 2, 3, 4, 5].map((n) => ({ input: String(n), output: String(n) }));
  assert.deepEqual(
    splitPairs(pairs).shown.map((p) => p.input),
    ['1', '2', '3'],
  );
  assert.deepEqual(
    splitPairs(pairs).hidden.map((p) => p.input),
    ['4', '5'],
  );
  assert.deepEqual(splitPairs(pairs.slice(0, 2)), { shown: [pairs[0]], hidden: [pairs[1]] });
});

test('verification: deduction by value equality, abduction by any working input, induction by all hidden pairs', async () => {
  const ded: Task = {
    type: 'deduction',
    lang: 'python',
    program: py('return x + 1'),
    input: '1',
    output: '2',
  };
  const abd: Task = { ...ded, type: 'abduction', program: py('return x % 3'), input: '4', output: '1' };
  const ind: Task = {
    ...ded,
    type: 'induction',
    program: py('return x * 2'),
    message: 'doubles',
    shown: [{ input: '1', output: '2' }],
    hidden: [
      { input: '5', output: '10' },
      { input: "'a'", output: "'aa'" },
    ],
  };
  const jsDed: Task = { ...ded, lang: 'javascript', program: js('return [x, x];'), output: '[1,1]' };
  const jsAbd: Task = {
    ...jsDed,
    type: 'abduction',
    program: js('return x.length;'),
    input: '"abc"',
    output: '3',
  };
  const cases: [Task, string, boolean][] = [
    [ded, '2', true],
    [ded, '2.0', true], // Python equality: 2 == 2.0
    [ded, '3', false],
    [ded, 'not a literal', false],
    [abd, '4', true],
    [abd, '7', true], // not the gold input, but f(7) == 1
    [abd, '3', false],
    [abd, '1, 2', false], // wrong arity: a runtime failure is a wrong answer
    [ind, py('return x + x'), true],
    [ind, py('return x * 2 if x != 5 else 11'), false], // passes the shown pair, fails a hidden one
    [ind, 'def f(x) oops', false],
    [ind, `import os\n${py('return x * 2')}`, false], // the same static policy as proposals
    [jsDed, '[1, 1]', true],
    [jsDed, '[1, 2]', false],
    [jsAbd, '[1, 2, 3]', true],
    [jsAbd, '"ab"', false],
  ];
  const verdicts = await verifySolutions(
    ex,
    cases.map(([task, answer]) => ({ task, answer })),
  );
  assert.deepEqual(
    verdicts,
    cases.map((c) => c[2]),
    JSON.stringify(cases.map((c, i) => [c[1], verdicts[i]])),
  );
  assert.equal(await verifySolution(ex, abd, '10'), true);
  assert.deepEqual(await verifySolutions(ex, []), []);
});

test('verification requests and verdicts are plain data (for batching by the loop)', () => {
  const ind: Task = {
    type: 'induction',
    lang: 'python',
    program: 'p',
    input: '1',
    output: '1',
    message: 'm',
    shown: [{ input: '1', output: '1' }],
    hidden: [
      { input: '2', output: '4' },
      { input: '3', output: '9' },
    ],
  };
  const reqs = verificationRequests({ task: ind, answer: 'CANDIDATE' });
  assert.deepEqual(
    reqs,
    ind.hidden?.map((p) => ({
      op: 'matches',
      lang: 'python',
      program: 'CANDIDATE',
      input: p.input,
      expected: p.output,
    })),
  );
  const ded = verificationRequests({ task: { ...ind, type: 'deduction' }, answer: '7' });
  assert.deepEqual(ded, [{ op: 'equal', lang: 'python', a: '7', b: '1' }]);
  const yes = { ok: true as const, equal: true, timeMs: 1 };
  const no = { ok: true as const, equal: false, timeMs: 1 };
  const failed = { ok: false as const, kind: 'timeout' as const, message: 't', timeMs: 1 };
  assert.equal(verdict([yes, yes]), true);
  assert.equal(verdict([yes, no]), false);
  assert.equal(verdict([yes, failed]), false);
  assert.equal(verdict([]), false, 'nothing checked is not a pass');
});
