// Validation and verification against the real executor (Pyodide and QuickJS workers).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Lang } from '../../src/executor/types.js';
import { trrAdvantages } from '../../src/rl/index.js';
import {
  fence,
  groupKey,
  identityTask,
  keyOf,
  mutatedInputs,
  type ProposalToValidate,
  parseProposal,
  parseSolution,
  proposerFinalReward,
  proposerPrompt,
  solverFinalReward,
  solverPrompt,
  splitPairs,
  type Task,
  TaskBuffer,
  topLevelArgs,
  validateProposals,
  verdict,
  verificationBatch,
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
    [py('return object()'), '1', 'not_a_value'], // an object is not a value (issue 34)
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

test('probes: a program whose output never changes with its input is rejected, any other kept', async () => {
  const cases: [Lang, string, string, string][] = [
    ['python', py('return 40'), '1', 'ignores_input'],
    ['python', py('return bool(3)'), "'abc'", 'ignores_input'],
    ['python', py('return x'), '2', 'ok'],
    ['python', py('return len(x)'), "'abc'", 'ok'], // the int probes fail (no evidence); 'hello' differs
    ['python', py('return x % 2'), '8', 'ok'], // 'hello' and 'abc' fail, 1 differs: one is enough
    ['python', py('return 5'), "'hello'", 'ignores_input'],
    ['javascript', js('return 7;'), '3', 'ignores_input'],
    ['javascript', js('return x + 1;'), '4', 'ok'],
  ];
  const items = cases.map(([lang, prog, input]) => program(lang, prog, input));
  const seen = new Set<string>();
  const results = await validateProposals(ex, items, seen, { probes: 3 });
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[3]),
  );
  const rejected = results[0] as { ok: false; detail: string };
  assert.match(rejected.detail, /f gives 40 on its input and on \d other input/);
  // A rejected program is not remembered as a task; without probes the same batch is all valid.
  assert.equal(seen.size, 4);
  const plain = await validateProposals(ex, items, new Set());
  assert.deepEqual(
    plain.map(outcome),
    cases.map(() => 'ok'),
  );
});

test('rejectIdentity: a program that returns its input unchanged on every input tried is rejected', async () => {
  const cases: [Lang, string, string, string][] = [
    ['python', py('return x'), '2', 'returns_input'],
    ['python', py('y = x\n    if x:\n        y = x\n    return y'), "'abc'", 'returns_input'],
    ['python', py('return sorted(x)'), '[1, 2]', 'ok'], // sorted on its own input, not on [3, 1]
    ['python', py('return x * 1'), '[3, 1]', 'returns_input'], // the str probe 'abc' echoes too
    ['python', py('return x if x == 4 else 0'), '4', 'ok'], // echoes only its own input
    ['javascript', js('return x;'), '[1,2]', 'returns_input'],
    ['javascript', js("return typeof x === 'number' ? x : 5;"), '0', 'ok'], // not the array probe
  ];
  const items = cases.map(([lang, prog, input]) => program(lang, prog, input));
  const results = await validateProposals(ex, items, new Set(), { probes: 3, rejectIdentity: true });
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[3]),
  );
  assert.match(
    (results[0] as { detail: string }).detail,
    /returns an argument unchanged on its input and on \d other/,
  );
  // Off by default: the probes alone keep every one of these.
  const probesOnly = await validateProposals(ex, items, new Set(), { probes: 3 });
  assert.deepEqual(
    probesOnly.map(outcome),
    cases.map(() => 'ok'),
  );
});

test('rejectIdentity: a two-argument program that returns one argument unchanged is rejected too', async () => {
  const two = (x: string) => `def f(a, b):\n    ${x}`;
  const cases: [string, string, string][] = [
    [two('return a'), '1, 2', 'returns_input'],
    [two('return b'), "'x,y', [1, 2]", 'returns_input'], // a comma inside a string is not a separator
    [two('return a + b'), '3, 4', 'ok'],
    [two('return a * 1'), "[5], 'q'", 'returns_input'],
    [two('return b if a == 3 else a * 10'), '3, 9', 'ok'], // echoes b only on its own input
  ];
  const items = cases.map(([prog, input]) => program('python', prog, input));
  const results = await validateProposals(ex, items, new Set(), { probes: 2, rejectIdentity: true });
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[2]),
  );
});

test('maxOutputChars: a program whose output text is longer than the bound is rejected, at the bound kept', async () => {
  const cases: [Lang, string, string, string][] = [
    ['python', py('return x * 2'), "'abcd'", 'ok'], // 'abcdabcd' with quotes: 10 characters
    ['python', py('return x * 3'), "'abcd'", 'output_too_long'], // 14
    ['python', py('return [x] * 4'), '7', 'output_too_long'], // [7, 7, 7, 7]: 12
    ['javascript', js('return [x, x];'), '12', 'ok'], // [12,12]: 7
    ['javascript', js("return 'q'.repeat(x);"), '9', 'output_too_long'], // 11
  ];
  const items = cases.map(([lang, prog, input]) => program(lang, prog, input));
  const seen = new Set<string>();
  const results = await validateProposals(ex, items, seen, { maxOutputChars: 10 });
  assert.deepEqual(
    results.map(outcome),
    cases.map((c) => c[3]),
  );
  assert.match((results[1] as { detail: string }).detail, /14 characters, more than 10/);
  assert.equal(seen.size, 2, 'a rejected program is not remembered as a task');
  const unbounded = await validateProposals(ex, items, new Set());
  assert.deepEqual(
    unbounded.map(outcome),
    cases.map(() => 'ok'),
  );
});

test('mutatedInputs changes every argument and keeps its type; other literal kinds give no variants', () => {
  assert.deepEqual(mutatedInputs('python', "3, 'ab', [1, 2]", 2), ["4,'abe',[1,2,1]", "-5,'wba',[-3,1,2]"]);
  assert.deepEqual(mutatedInputs('javascript', '"", []', 1), ['"e",[1]']);
  assert.deepEqual(mutatedInputs('python', 'True', 2), []);
  assert.deepEqual(mutatedInputs('python', '5, None', 2), []);
});

test('mutatedProbes catch a program that ignores its input when no neighbour fits its signature', async () => {
  const two = (x: string) => `def f(a, b):\n    ${x}`;
  // Neighbours of other types: `abs(a)` fails on the string, so only the variants can probe it.
  const items = [
    program('python', two('return abs(a) // 10 + len(b)'), "3, 'ab'"),
    program('python', 'def f(a):\n    return a', "'zz'"),
  ];
  const batchOnly = await validateProposals(ex, items, new Set(), { probes: 2 });
  assert.equal(outcome(batchOnly[0] as never), 'ok', 'its one neighbour has the wrong arity');
  const withVariants = await validateProposals(ex, items, new Set(), { probes: 2, mutatedProbes: 2 });
  assert.equal(outcome(withVariants[0] as never), 'ok', 'len(b) changes with b');
  const constant = [
    program('python', two('return abs(a) // 10 + 7'), "3, 'ab'"),
    items[1] as ProposalToValidate,
  ];
  const r = await validateProposals(ex, constant, new Set(), { probes: 2, mutatedProbes: 2 });
  assert.equal(outcome(r[0] as never), 'ignores_input');
  assert.equal(outcome((await validateProposals(ex, constant, new Set(), { probes: 2 }))[0] as never), 'ok');
});

test('topLevelArgs splits an argument list at its own commas only', () => {
  assert.deepEqual(topLevelArgs("'a,b',[1,2],(3,4)"), ["'a,b'", '[1,2]', '(3,4)']);
  assert.deepEqual(topLevelArgs("'it\\'s,',1"), ["'it\\'s,'", '1']);
  assert.deepEqual(topLevelArgs('[[1,2],[3]]'), ['[[1,2],[3]]']);
  assert.deepEqual(topLevelArgs('"x\\"",{"k":1,"j":2}'), ['"x\\""', '{"k":1,"j":2}']);
});

test('probes: a program is kept when none of its probes runs, or when it is the only proposal', async () => {
  const two = (x: string) => `def f(a, b):\n    ${x}`;
  const items = [program('python', two('return 1'), '1, 2'), program('python', py('return 1'), '3')];
  // Each program's only probe has the wrong arity: a failed probe is no evidence.
  assert.deepEqual((await validateProposals(ex, items, new Set(), { probes: 2 })).map(outcome), ['ok', 'ok']);
  const alone = await validateProposals(ex, [program('python', py('return 1'), '5')], new Set(), {
    probes: 2,
  });
  assert.deepEqual(alone.map(outcome), ['ok']);
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
  // A batch of answers: requests in item order, results folded back per item.
  const batch = verificationBatch([
    { task: ind, answer: 'A' },
    { task: { ...ind, type: 'abduction' }, answer: '5' },
  ]);
  assert.equal(batch.requests.length, 3);
  assert.deepEqual(batch.requests[2], {
    op: 'matches',
    lang: 'python',
    program: 'p',
    input: '5',
    expected: '1',
  });
  assert.deepEqual(batch.verdicts([yes, no, yes]), [false, true]);
  assert.deepEqual(batch.verdicts([yes, yes, failed]), [true, false]);
});

test('the pieces compose: prompt, parse, validate, solve, verify, reward, advantages, buffer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-pipeline-'));
  try {
    for (const lang of ['python', 'javascript'] as const) {
      for (const style of ['compact', 'reference'] as const) {
        const buffer = TaskBuffer.open(join(dir, `${lang}-${style}.jsonl`), 'deduction', lang);
        const prompt = proposerPrompt('deduction', lang, buffer.all(), { style });
        const program =
          lang === 'python' ? py('return x[::-1] + x') : js('return x.split("").reverse().join("") + x;');
        const input = lang === 'python' ? "'ab'" : '"ab"';
        const body = `${fence(lang, program)}\n${fence('input', input)}`;
        const completion = style === 'compact' ? `${body}</answer>` : `plan</think><answer>${body}</answer>`;
        assert.ok(prompt.length > 0);
        const parsed = parseProposal('deduction', lang, completion, style);
        assert.ok(parsed.ok, JSON.stringify(parsed));
        const [valid] = await validateProposals(
          ex,
          [{ type: 'deduction', lang, proposal: parsed.proposal }],
          buffer.keySet(),
        );
        assert.ok(valid?.ok, JSON.stringify(valid));
        const task = valid.task;
        assert.equal(task.output, lang === 'python' ? "'baab'" : '"baab"');
        // Four solver rollouts: right, right with other spacing, wrong, unparseable.
        const solverText = solverPrompt(task, { style });
        assert.ok(solverText.includes(program) && !solverText.includes('baab'));
        const answer = (a: string) =>
          style === 'compact' ? `${a}</answer>` : `hmm</think><answer>${a}</answer>`;
        const rollouts = [answer(task.output), answer(` ${task.output} `), answer(input), 'no answer'];
        const parsedAnswers = rollouts.map((c) => parseSolution('deduction', lang, c, style));
        const verdicts = await verifySolutions(
          ex,
          parsedAnswers.flatMap((p) => (p.ok ? [{ task, answer: p.answer }] : [])),
        );
        assert.deepEqual(verdicts, [true, true, false]);
        const solverRewards = parsedAnswers.map((p, i) =>
          solverFinalReward(p.ok ? { parsed: true, correct: verdicts[i] === true } : { parsed: false }),
        );
        assert.deepEqual(solverRewards, [1, 1, -0.5, -1]);
        const solveRate = verdicts.filter(Boolean).length / rollouts.length;
        const proposerReward = proposerFinalReward({ parsed: true, valid: true, solveRate });
        assert.equal(proposerReward, 0.5);
        const adv = trrAdvantages([
          ...solverRewards.map((reward) => ({ group: groupKey('deduction', 'solver'), reward })),
          { group: groupKey('deduction', 'proposer'), reward: proposerReward },
        ]);
        assert.ok((adv[0] as number) > 0 && (adv[3] as number) < (adv[2] as number) && adv[4] === 0);
        assert.equal(buffer.addAll([task], 1), 1);
        // The new program is now a reference and the subject of an induction proposal.
        const indPrompt = proposerPrompt('induction', lang, [task], { style, inductionInputs: 4 });
        assert.ok(indPrompt.includes(program));
        const inputs = lang === 'python' ? ["'a'", "'xyz'", "''", "'q'"] : ['"a"', '"xyz"', '""', '"q"'];
        const indBody = `${fence('message', 'mirror, then the word')}${inputs.map((x) => `\n${fence('input', x)}`).join('')}`;
        const ip = parseProposal(
          'induction',
          lang,
          style === 'compact' ? `${indBody}</answer>` : `p</think><answer>${indBody}</answer>`,
          style,
          4,
        );
        assert.ok(ip.ok, JSON.stringify(ip));
        const [ind] = await validateProposals(
          ex,
          [{ type: 'induction', lang, proposal: ip.proposal, subject: task }],
          new Set(),
          { inductionInputs: 4 },
        );
        assert.ok(ind?.ok, JSON.stringify(ind));
        assert.equal(ind.task.shown?.length, 2);
        const candidate =
          lang === 'python' ? py('return x[::-1] + x') : js('return [...x].reverse().join("") + x;');
        const shortcut =
          lang === 'python'
            ? py("return {'a': 'aa', 'xyz': 'zyxxyz'}.get(x, x)")
            : js('return x === "a" ? "aa" : "zyxxyz";');
        assert.deepEqual(
          await verifySolutions(ex, [
            { task: ind.task, answer: candidate },
            { task: ind.task, answer: shortcut },
          ]),
          [true, false],
          'a program that only memorises the shown pairs fails the hidden ones',
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
