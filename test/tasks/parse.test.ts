import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Lang } from '../../src/executor/types.js';
import {
  fence,
  type PromptStyle,
  parseAnswer,
  parseProposal,
  parseSolution,
  type TaskType,
} from '../../src/tasks/index.js';

const PROGRAM: Record<Lang, string> = {
  python: 'def f(s, n):\n    # repeat and reverse\n    return (s * n)[::-1]',
  javascript:
    'function f(s, n) {\n  // repeat and reverse\n  return s.repeat(n).split("").reverse().join("");\n}',
};
const INPUT: Record<Lang, string> = { python: "'ab', 2", javascript: '"ab", 2' };

/** A completion of `body` in `style`: compact completions continue after the prompt's "<answer>". */
const wrap = (style: PromptStyle, body: string, after = '') =>
  style === 'compact'
    ? `${body}</answer>${after}`
    : `I should think.\nLet me see: <answer> would come later.</think>\n<answer>${body}</answer>${after}`;

const reason = (r: { ok: true } | { ok: false; reason: string }) => (r.ok ? 'ok' : r.reason);

const STYLES: PromptStyle[] = ['compact', 'reference'];
const LANGS: Lang[] = ['python', 'javascript'];

test('well-formed proposals parse exactly, in both styles and both languages', () => {
  for (const style of STYLES) {
    for (const lang of LANGS) {
      for (const type of ['deduction', 'abduction'] as TaskType[]) {
        const body = `${fence(lang, PROGRAM[lang])}\n${fence('input', INPUT[lang])}`;
        const r = parseProposal(type, lang, wrap(style, body, '\nanything after is ignored'), style);
        assert.ok(r.ok, `${style} ${lang} ${type}: ${JSON.stringify(r)}`);
        assert.deepEqual(r.proposal, { kind: 'program', program: PROGRAM[lang], input: INPUT[lang] });
      }
      const inputs = lang === 'python' ? ["'ab', 2", "'x', 0", "'', 5"] : ['"ab", 2', '"x", 0', '"", 5'];
      const body = `${fence('message', '  repeats, then reverses  ')}${inputs.map((x) => `\n${fence('input', x)}`).join('')}`;
      const r = parseProposal('induction', lang, wrap(style, body), style, 3);
      assert.ok(r.ok, `${style} ${lang} induction: ${JSON.stringify(r)}`);
      assert.deepEqual(r.proposal, { kind: 'inputs', message: 'repeats, then reverses', inputs });
      // Fewer inputs than asked are accepted (validity is counted per input later).
      const one = parseProposal(
        'induction',
        lang,
        wrap(style, `${fence('message', 'm')}\n${fence('input', '1')}`),
        style,
        3,
      );
      assert.ok(one.ok && one.proposal.kind === 'inputs' && one.proposal.inputs.length === 1);
    }
  }
});

test('well-formed solutions parse exactly, in both styles and both languages', () => {
  for (const style of STYLES) {
    for (const lang of LANGS) {
      const out = lang === 'python' ? "'abab'" : '"abab"';
      const d = parseSolution('deduction', lang, wrap(style, ` ${out} `), style);
      assert.ok(d.ok && d.answer === out, JSON.stringify(d));
      const a = parseSolution('abduction', lang, wrap(style, INPUT[lang]), style);
      assert.ok(a.ok && a.answer === INPUT[lang], JSON.stringify(a));
      const i = parseSolution('induction', lang, wrap(style, `\n${fence(lang, PROGRAM[lang])}\n`), style);
      assert.ok(i.ok && i.answer === PROGRAM[lang], JSON.stringify(i));
    }
  }
});

test('every truncation of a completion before its </answer> is a format error', () => {
  for (const style of STYLES) {
    const full = wrap(style, `${fence('python', PROGRAM.python)}\n${fence('input', INPUT.python)}`);
    const end = full.indexOf('</answer>') + '</answer>'.length;
    for (let cut = 0; cut < end; cut++) {
      const r = parseProposal('deduction', 'python', full.slice(0, cut), style);
      assert.equal(r.ok, false, `${style}, cut at ${cut}`);
      if (style === 'compact') assert.equal(reason(r), 'unclosed');
    }
    assert.ok(parseProposal('deduction', 'python', full.slice(0, end), style).ok);
  }
});

test('malformed answers get the documented reason', () => {
  const body = `${fence('python', PROGRAM.python)}\n${fence('input', INPUT.python)}`;
  const cases: [string, string, PromptStyle][] = [
    ['', 'unclosed', 'compact'],
    ['', 'no_think', 'reference'],
    ['</answer>', 'empty', 'compact'],
    [' \n\t</answer>', 'empty', 'compact'],
    [`<answer>${body}</answer>`, 'doubled', 'compact'],
    [`${body}<answer>${body}</answer>`, 'doubled', 'compact'],
    [`<answer>${body}</answer>`, 'no_think', 'reference'],
    [`x</think>so the answer is <answer>${body}</answer>`, 'no_answer', 'reference'],
    [`x</think>${body}`, 'no_answer', 'reference'],
    [`x</think><answer>${body}`, 'unclosed', 'reference'],
    [`x</think><answer></answer>`, 'empty', 'reference'],
    [`${fence('python', PROGRAM.python)}</answer>`, 'bad_blocks', 'compact'],
    [`${fence('input', '1')}\n${fence('python', PROGRAM.python)}</answer>`, 'bad_blocks', 'compact'],
    [`Here it is: ${body}</answer>`, 'bad_blocks', 'compact'],
    [`${body}\nDone.</answer>`, 'bad_blocks', 'compact'],
    [`${body}\n${fence('input', '2')}</answer>`, 'bad_blocks', 'compact'],
    ['```python\ndef f(x):\n    return x\n```input\n1\n```</answer>', 'bad_blocks', 'compact'],
    [`${fence('javascript', PROGRAM.python)}\n${fence('input', '1')}</answer>`, 'wrong_language', 'compact'],
    [`${fence('', PROGRAM.python)}\n${fence('input', '1')}</answer>`, 'wrong_language', 'compact'],
    [`${fence('python', '   ')}\n${fence('input', '1')}</answer>`, 'empty', 'compact'],
    [`${fence('python', PROGRAM.python)}\n${fence('input', ' ')}</answer>`, 'empty', 'compact'],
  ];
  for (const [text, want, style] of cases) {
    const r = parseProposal('deduction', 'python', text, style);
    assert.equal(reason(r), want, `${style}: ${JSON.stringify(text.slice(0, 90))}`);
    if (!r.ok) assert.ok(r.detail.length > 0);
  }
});

test('induction proposals: message first, only input blocks, at most N', () => {
  const ind = (body: string, n = 3) =>
    reason(parseProposal('induction', 'python', `${body}</answer>`, 'compact', n));
  assert.equal(ind(`${fence('input', '1')}\n${fence('message', 'm')}`), 'bad_blocks');
  assert.equal(ind(fence('message', 'm')), 'bad_blocks');
  assert.equal(
    ind(`${fence('message', 'm')}\n${fence('input', '1')}\n${fence('python', 'x')}`),
    'bad_blocks',
  );
  assert.equal(ind(`${fence('message', ' ')}\n${fence('input', '1')}`), 'empty');
  assert.equal(ind(`${fence('message', 'm')}\n${fence('input', '')}`), 'empty');
  assert.equal(ind(`${fence('message', 'm')}${`\n${fence('input', '1')}`.repeat(4)}`), 'too_many_inputs');
  assert.equal(ind(`${fence('message', 'm')}${`\n${fence('input', '1')}`.repeat(4)}`, 4), 'ok');
});

test('solver literals are one bare line; induction answers are one program block', () => {
  const sol = (type: TaskType, body: string, lang: Lang = 'python') =>
    reason(parseSolution(type, lang, `${body}</answer>`, 'compact'));
  assert.equal(sol('deduction', '[1,\n 2]'), 'multiline');
  assert.equal(sol('abduction', "'a',\n'b'"), 'multiline');
  assert.equal(sol('deduction', fence('output', '3')), 'bad_blocks');
  assert.equal(sol('deduction', '\n  3  \n'), 'ok', 'surrounding whitespace is trimmed');
  assert.equal(sol('deduction', '  '), 'empty');
  assert.equal(sol('induction', "'x'"), 'bad_blocks');
  assert.equal(
    sol('induction', `${fence('python', PROGRAM.python)}\n${fence('python', PROGRAM.python)}`),
    'bad_blocks',
  );
  assert.equal(sol('induction', fence('javascript', PROGRAM.javascript)), 'wrong_language');
  assert.equal(sol('induction', fence('javascript', PROGRAM.javascript), 'javascript'), 'ok');
  assert.equal(sol('induction', fence('python', '\n')), 'empty');
});

test('adversarial completions: tags inside code, unicode, CRLF, 100 KB of junk', () => {
  // A <think> tag inside a program is just text; a second <answer> is a doubled answer; a </answer>
  // inside a string literal closes the answer early, leaving an unclosed block.
  const withThink = `def f(x):\n    return '<think>' + x + '</think>'`;
  const ok = parseProposal(
    'deduction',
    'python',
    `${fence('python', withThink)}\n${fence('input', "'a'")}</answer>`,
    'compact',
  );
  assert.ok(ok.ok && ok.proposal.kind === 'program' && ok.proposal.program === withThink);
  const withOpen = `def f(x):\n    return '<answer>'`;
  assert.equal(
    reason(
      parseProposal(
        'deduction',
        'python',
        `${fence('python', withOpen)}\n${fence('input', '1')}</answer>`,
        'compact',
      ),
    ),
    'doubled',
  );
  const withClose = `def f(x):\n    return '</answer>'`;
  assert.equal(
    reason(
      parseProposal(
        'deduction',
        'python',
        `${fence('python', withClose)}\n${fence('input', '1')}</answer>`,
        'compact',
      ),
    ),
    'bad_blocks',
  );
  // Unicode survives byte for byte, astral characters included.
  const uni = "def f(s):\n    return s + '世界 \u{1F600} é'";
  const u = parseProposal(
    'abduction',
    'python',
    `${fence('python', uni)}\n${fence('input', "'h\u00e9llo \u{1F600}'")}</answer>`,
    'compact',
  );
  assert.ok(u.ok && u.proposal.kind === 'program');
  assert.equal(u.proposal.program, uni);
  assert.equal(u.proposal.input, "'h\u00e9llo \u{1F600}'");
  // CRLF line ends read as LF.
  const crlf = `${fence('python', PROGRAM.python)}\n${fence('input', INPUT.python)}</answer>`.replace(
    /\n/g,
    '\r\n',
  );
  const c = parseProposal('deduction', 'python', crlf, 'compact');
  assert.ok(c.ok && c.proposal.kind === 'program' && c.proposal.program === PROGRAM.python);
  // 100 KB of junk: without an answer, before the answer, after it, and inside it.
  const junk = `${'\u{1F600}<>`\u0000x'.repeat(15_000)}`;
  assert.ok(junk.length >= 100_000);
  const body = `${fence('python', PROGRAM.python)}\n${fence('input', INPUT.python)}`;
  assert.equal(reason(parseProposal('deduction', 'python', junk, 'compact')), 'unclosed');
  assert.equal(reason(parseProposal('deduction', 'python', junk, 'reference')), 'no_think');
  assert.equal(
    reason(parseProposal('deduction', 'python', `${junk}${body}</answer>`, 'compact')),
    'bad_blocks',
  );
  assert.equal(
    reason(parseProposal('deduction', 'python', `${junk}</think><answer>${body}</answer>`, 'reference')),
    'ok',
  );
  assert.equal(reason(parseProposal('deduction', 'python', `${body}</answer>${junk}`, 'compact')), 'ok');
  assert.equal(
    reason(parseSolution('deduction', 'python', `'${'a'.repeat(100_000)}'</answer>`, 'compact')),
    'ok',
  );
  // A huge think followed by nothing: no answer.
  assert.equal(reason(parseAnswer(`${junk}</think>`, 'reference')), 'no_answer');
});
