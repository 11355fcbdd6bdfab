import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fence,
  identityTask,
  learnabilityReward,
  parseProposal,
  parseSolution,
  proposerFinalReward,
  proposerPrompt,
  solverFinalReward,
  solverPrompt,
} from '../../src/tasks/index.js';

test('learnability: 0 at s = 0 and s = 1, 1 - s in between', () => {
  assert.equal(learnabilityReward(0), 0);
  assert.equal(learnabilityReward(1 / 8), 7 / 8);
  assert.equal(learnabilityReward(7 / 8), 1 / 8);
  assert.equal(learnabilityReward(1), 0);
  assert.throws(() => learnabilityReward(1.5), RangeError);
});

test('format-aware rewards: role reward, -0.5 wrong or invalid, -1 unparseable', () => {
  assert.equal(solverFinalReward({ parsed: true, correct: true }), 1);
  assert.equal(solverFinalReward({ parsed: true, correct: false }), -0.5);
  assert.equal(solverFinalReward({ parsed: false }), -1);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 0.25 }), 0.75);
  assert.equal(proposerFinalReward({ parsed: true, valid: true, solveRate: 1 }), 0);
  assert.equal(
    proposerFinalReward({ parsed: true, valid: true, solveRate: 0 }, { zeroAsPenalty: true }),
    -0.5,
  );
  assert.equal(proposerFinalReward({ parsed: true, valid: false }), -0.5);
  assert.equal(proposerFinalReward({ parsed: false }), -1);
});

const prog = 'def f(x):\n    return x[::-1]';
const body = `${fence('python', prog)}\n${fence('input', "'abc'")}`;

test('proposals parse in both styles; the fields come out exact', () => {
  const c = parseProposal('deduction', 'python', `${body}</answer>trailing`, 'compact');
  assert.ok(c.ok && c.proposal.kind === 'program');
  assert.equal(c.proposal.program, prog);
  assert.equal(c.proposal.input, "'abc'");
  const r = parseProposal(
    'abduction',
    'python',
    `I will reverse.</think>\n<answer>${body}</answer>`,
    'reference',
  );
  assert.ok(r.ok && r.proposal.kind === 'program' && r.proposal.program === prog);
  const js = parseProposal(
    'deduction',
    'javascript',
    `${fence('javascript', 'function f(x) {\n  return x;\n}')}\n${fence('input', '1')}</answer>`,
    'compact',
  );
  assert.ok(js.ok);
  const ind = parseProposal(
    'induction',
    'python',
    `${fence('message', 'reverses')}\n${fence('input', "'ab'")}\n${fence('input', "'xyz'")}</answer>`,
    'compact',
    4,
  );
  assert.ok(ind.ok && ind.proposal.kind === 'inputs');
  assert.deepEqual(ind.proposal.inputs, ["'ab'", "'xyz'"]);
  assert.equal(ind.proposal.message, 'reverses');
});

test('malformed completions are format errors with a reason', () => {
  const cases: [string, string][] = [
    ['', 'unclosed'],
    [body, 'unclosed'], // truncated at the token limit
    ['</answer>', 'empty'],
    [`${body}<answer>${body}</answer>`, 'doubled'],
    [`${fence('python', prog)}</answer>`, 'bad_blocks'],
    [`just words ${body}</answer>`, 'bad_blocks'],
    [`${fence('javascript', prog)}\n${fence('input', '1')}</answer>`, 'wrong_language'],
    [`${fence('python', prog)}\n${fence('input', '1')}\n${fence('input', '2')}</answer>`, 'bad_blocks'],
    [`${'\u{1F600}'.repeat(10)}${'x'.repeat(100_000)}`, 'unclosed'],
  ];
  for (const [text, reason] of cases) {
    const r = parseProposal('deduction', 'python', text, 'compact');
    assert.equal(r.ok ? 'ok' : r.reason, reason, JSON.stringify(text.slice(0, 80)));
  }
  // Tags inside code do not end the answer early unless they really close it.
  const tagInCode = parseProposal(
    'deduction',
    'python',
    `${fence('python', "def f(x):\n    return '<think>'")}\n${fence('input', '1')}</answer>`,
    'compact',
  );
  assert.equal(tagInCode.ok ? 'ok' : tagInCode.reason, 'ok');
  const reference = parseProposal('deduction', 'python', `<answer>${body}</answer>`, 'reference');
  assert.equal(reference.ok ? 'ok' : reference.reason, 'no_think');
  const many = parseProposal(
    'induction',
    'python',
    `${fence('message', 'm')}${`\n${fence('input', '1')}`.repeat(5)}</answer>`,
    'compact',
    4,
  );
  assert.equal(many.ok ? 'ok' : many.reason, 'too_many_inputs');
});

test('solutions parse per task type', () => {
  const d = parseSolution('deduction', 'python', "'cba'</answer>", 'compact');
  assert.ok(d.ok && d.answer === "'cba'");
  const a = parseSolution('abduction', 'python', ' [1, 2], "a" </answer>', 'compact');
  assert.ok(a.ok && a.answer === '[1, 2], "a"');
  const i = parseSolution('induction', 'python', `${fence('python', prog)}</answer>`, 'compact');
  assert.ok(i.ok && i.answer === prog);
  const unicode = parseSolution('deduction', 'python', "'h\u00e9llo \u4e16\u754c'</answer>", 'compact');
  assert.ok(unicode.ok && unicode.answer === "'h\u00e9llo \u4e16\u754c'");
  const bad = parseSolution('induction', 'python', "'x'</answer>", 'compact');
  assert.equal(bad.ok ? 'ok' : bad.reason, 'bad_blocks');
});

test('prompts: compact ones end with <answer>, reference ones with <think>; references are trimmed to fit', () => {
  const seed = identityTask('deduction', 'python');
  const refs = Array.from({ length: 6 }, (_, i) => ({ ...seed, input: `'${'x'.repeat(i * 20)}'` }));
  const p = proposerPrompt('deduction', 'python', refs, { style: 'compact' });
  assert.ok(p.endsWith('<answer>'));
  assert.equal(p.split('example:').length - 1, 6);
  const fitted = proposerPrompt('deduction', 'python', refs, { style: 'compact', maxChars: 200 });
  assert.ok(fitted.length <= 200, `${fitted.length}`);
  assert.ok(
    proposerPrompt('abduction', 'javascript', [identityTask('abduction', 'javascript')], {
      style: 'reference',
    }).endsWith('<think>'),
  );
  const s = solverPrompt(identityTask('induction', 'python'), { style: 'compact' });
  assert.ok(s.includes('returns its argument unchanged') && s.endsWith('<answer>'));
  assert.ok(
    !s.includes(identityTask('induction', 'python').program),
    'induction solvers never see the program',
  );
});
