import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lang } from '../../src/executor/types.js';
import { type AnswerShape, answerGrammar } from '../../src/grammar/answer-structure.js';
import { avoidingText, renderGrammar } from '../../src/grammar/ebnf.js';
import { GrammarMatcher, parseGrammar } from '../../src/grammar/index.js';
import {
  fence,
  GROUPS,
  inductionInputsNeeded,
  parseProposal,
  parseSolution,
  type Role,
  readTaskFile,
  type TaskRecord,
  type TaskType,
} from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';
import { TEXT_BEFORE } from './answer-shapes.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const N = 4;

type Start = AnswerShape['startsAt'];
const STARTS: Start[] = ['think-text', 'think-tag', 'answer'];

const shape = (type: TaskType, role: Role, lang: Lang, startsAt: Start = 'think-text'): AnswerShape => ({
  type,
  role,
  lang,
  inductionInputs: N,
  startsAt,
});

const grammars = new Map<string, ReturnType<typeof parseGrammar>>();
function grammarOf(s: AnswerShape) {
  const key = JSON.stringify(s);
  let g = grammars.get(key);
  if (!g) {
    g = parseGrammar(answerGrammar(s, 'bytes'));
    grammars.set(key, g);
  }
  return g;
}

/** The grammar (read by gbnf.ts over bytes) takes the whole text as one sentence. */
function accepts(s: AnswerShape, text: string): boolean {
  const m = new GrammarMatcher(grammarOf(s));
  for (const b of Buffer.from(text, 'utf8')) if (!m.accept(b)) return false;
  return m.isComplete();
}

/** Whether parse.ts reads the text as a well-formed answer of this shape. */
function parses(s: AnswerShape, text: string): boolean {
  const t = TEXT_BEFORE[s.startsAt] + text;
  return s.role === 'proposer'
    ? parseProposal(s.type, s.lang, t, 'reference', N).ok
    : parseSolution(s.type, s.lang, t, 'reference').ok;
}

/** Well-formed reference-style answers built from every task of the held-out set and CRUXEval's sample. */
function fixtureAnswers(): { s: AnswerShape; text: string }[] {
  const records: TaskRecord[] = [...readTaskFile(join(root, 'eval', 'heldout.jsonl'))];
  for (const line of readFileSync(join(root, 'test', 'fixtures', 'cruxeval-mini.jsonl'), 'utf8').split(
    '\n',
  )) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { code: string; input: string; output: string };
    records.push({ type: 'deduction', lang: 'python', program: r.code, input: r.input, output: r.output });
  }
  const out: { s: AnswerShape; text: string }[] = [];
  const thinks = ['Let me trace f step by step: x < 3, so the loop runs.\n', '', ' short '];
  records.forEach((r, i) => {
    const think = thinks[i % thinks.length] as string;
    const wrap = (body: string, start: Start) =>
      `${start === 'think-tag' ? '<think>' : ''}${start === 'answer' ? '' : `${think}</think>`}\n<answer>${body}</answer>`;
    for (const start of STARTS) {
      const program = `\n${fence(r.lang, r.program)}\n${fence('input', r.input)}\n`;
      out.push({ s: shape('deduction', 'proposer', r.lang, start), text: wrap(program, start) });
      out.push({ s: shape('abduction', 'proposer', r.lang, start), text: wrap(program, start) });
      out.push({ s: shape('deduction', 'solver', r.lang, start), text: wrap(r.output, start) });
      out.push({ s: shape('abduction', 'solver', r.lang, start), text: wrap(` ${r.input} `, start) });
      out.push({
        s: shape('induction', 'solver', r.lang, start),
        text: wrap(fence(r.lang, r.program), start),
      });
      const inputs = [r.input, ...(r.shown ?? []).map((p) => p.input)].slice(0, N);
      const message = r.message ?? 'find the rule';
      const ind = `${fence('message', message)}${inputs.map((x) => `\n${fence('input', x)}`).join('')}`;
      // With fewer inputs than validation needs the answer is not well-formed (see the refusals below).
      if (inputs.length >= inductionInputsNeeded(N))
        out.push({ s: shape('induction', 'proposer', r.lang, start), text: wrap(`\n${ind}\n`, start) });
    }
  });
  return out;
}

test('the grammar accepts every well-formed answer built from the fixtures, and parse.ts agrees', () => {
  const answers = fixtureAnswers();
  assert.ok(answers.length > 1000);
  for (const { s, text } of answers) {
    assert.ok(parses(s, text), `parse.ts refuses a fixture answer: ${JSON.stringify(text.slice(0, 120))}`);
    assert.ok(
      accepts(s, text),
      `${s.type}/${s.role}/${s.lang}: refused ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
});

test("the grammar refuses the broken shapes issue 32 lists (and parse.ts's other errors)", () => {
  const py = (p: string) => fence('python', p);
  const prog = `\n${py('def f(x):\n    return x + 1')}\n${fence('input', '1')}\n`;
  const ded = shape('deduction', 'proposer', 'python');
  const sol = shape('deduction', 'solver', 'python');
  const ind = shape('induction', 'proposer', 'python');
  const cases: [AnswerShape, string, string][] = [
    [ded, `reasoning, then <answer>${prog}</answer>`, 'no_think'],
    [ded, `reasoning</think>\nSo: <answer>${prog}</answer>`, 'no_answer'],
    [ded, `reasoning</think>${prog}`, 'no_answer'],
    [ded, `reasoning</think>\n<answer>${prog}`, 'unclosed'],
    [ded, `reasoning</think>\n<answer>\n${py('def f(x):\n    return 1')}\n</answer>`, 'bad_blocks'],
    [ded, `reasoning</think>\n<answer>Here:${prog}</answer>`, 'bad_blocks'],
    [ded, `reasoning</think>\n<answer>${prog}Done.</answer>`, 'bad_blocks'],
    [ded, `reasoning</think>\n<answer>${prog}${fence('input', '2')}</answer>`, 'bad_blocks'],
    [
      ded,
      `reasoning</think>\n<answer>\n${fence('input', '1')}\n${py('def f(x): return x')}</answer>`,
      'bad_blocks',
    ],
    [
      ded,
      `r</think>\n<answer>\n${fence('javascript', 'function f(x) { return x; }')}\n${fence('input', '1')}</answer>`,
      'wrong_language',
    ],
    [ded, `r</think>\n<answer>\n${py('   ')}\n${fence('input', '1')}</answer>`, 'empty'],
    [
      ded,
      `r</think>\n<answer>\n${py("def f(x):\n    return '<answer>'")}\n${fence('input', '1')}</answer>`,
      'doubled',
    ],
    [
      ded,
      `r</think>\n<answer>\n${py("def f(x):\n    return '</answer>'")}\n${fence('input', '1')}</answer>`,
      'bad_blocks',
    ],
    [
      ded,
      `r</think>\n<answer>\n${py('def f(x):\r\n    return x')}\n${fence('input', '1')}</answer>`,
      'carriage return',
    ],
    [
      ded,
      `r</think>\n<answer>\n${'```python\n```\ndef f(x):\n    return x\n```'}\n${fence('input', '1')}</answer>`,
      'a block starting with a fence',
    ],
    [sol, 'r</think>\n<answer></answer>', 'empty'],
    [sol, 'r</think>\n<answer>[1,\n 2]</answer>', 'multiline'],
    [sol, `r</think>\n<answer>${fence('output', '3')}</answer>`, 'bad_blocks'],
    [sol, 'r</think>\n<answer>3</answer>\nmore text', 'text after the answer'],
    [ind, `r</think>\n<answer>\n${fence('message', 'm')}</answer>`, 'bad_blocks'],
    [
      ind,
      `r</think>\n<answer>\n${fence('message', 'm')}\n${fence('input', '1')}\n</answer>`,
      'too_few_inputs',
    ],
    [ded, `r</think>\n<answer>\n${py('print(1)')}\n${fence('input', '1')}</answer>`, 'no f'],
    [
      ded,
      `r</think>\n<answer>\n${py('# f\ndef f(x):\n    return x')}\n${fence('input', '1')}</answer>`,
      'no f first',
    ],
    [ded, `r</think>\n<answer>\n${py('def g(x):\n    return x')}\n${fence('input', '1')}</answer>`, 'no f'],
    [
      shape('induction', 'solver', 'javascript'),
      `r</think>\n<answer>\n${fence('javascript', 'const f = (x) => x;')}\n</answer>`,
      'no f first',
    ],
    [
      ind,
      `r</think>\n<answer>\n${fence('message', 'm')}${`\n${fence('input', '1')}`.repeat(N + 1)}\n</answer>`,
      'too_many_inputs',
    ],
    [shape('abduction', 'solver', 'python'), 'r</think>\n<answer>f(4, 5)</answer>', 'a call of f'],
    // The prompt's format skeleton, copied (Qwen2.5-Coder-0.5B's proposals in training).
    [
      ded,
      `r</think>\n<answer>\n${py('def f(...):\n    ...')}\n${fence('input', '1')}</answer>`,
      'a skeleton',
    ],
    [
      ded,
      `r</think>\n<answer>\n${py('def f(x):\n    return x')}\n${fence('input', 'arguments')}</answer>`,
      'a skeleton',
    ],
    [
      ind,
      `r</think>\n<answer>\n${fence('message', 'm')}${`\n${fence('input', 'arguments of call 1')}`.repeat(N)}\n</answer>`,
      'a skeleton',
    ],
    [sol, 'r</think>\n<answer>John</answer>', 'a skeleton'],
    [shape('abduction', 'solver', 'python'), 'r</think>\n<answer> f(4, 5)</answer>', 'a call of f'],
    [
      shape('deduction', 'solver', 'python', 'think-tag'),
      'r</think>\n<answer>3</answer>',
      'no <think> in a chat turn',
    ],
    [
      shape('deduction', 'solver', 'python', 'answer'),
      'r</think>\n<answer>3</answer>',
      'reasoning after it closed',
    ],
  ];
  // Only a Python argument list is kept from starting with f: a deduction answer may be a frozenset.
  assert.ok(accepts(sol, 'r</think>\n<answer>frozenset({1, 2})</answer>'));
  assert.ok(accepts(shape('abduction', 'solver', 'python'), "r</think>\n<answer>False, 'f'</answer>"));
  for (const [s, text, why] of cases) {
    assert.equal(accepts(s, text), false, `${why}: accepted ${JSON.stringify(text)}`);
    // The grammar is stricter than the parser in a few places (it keeps to what parses the same way
    // everywhere); elsewhere the parser refuses the text too.
    const stricter = [
      'carriage return',
      'text after the answer',
      'a block starting with a fence',
      'too_few_inputs',
      'no f',
      'no f first',
      'a call of f',
      'a skeleton',
    ];
    if (!stricter.includes(why) && !why.startsWith('no <think>') && !why.startsWith('reasoning after'))
      assert.equal(parses(s, text), false, `${why}: parse.ts accepts ${JSON.stringify(text)}`);
  }
});

test('random sentences of every shape parse: 200 walks each, ended by a budget', () => {
  const rng = new Rng(7);
  const mask = new Uint8Array(272);
  for (const lang of ['python', 'javascript'] as const)
    for (const [type, role] of GROUPS)
      for (const start of STARTS) {
        const s = shape(type, role, lang, start);
        for (let walk = 0; walk < 200; walk++) {
          const m = new GrammarMatcher(grammarOf(s));
          const bytes: number[] = [];
          const budget = 100 + rng.int(200);
          while (!m.isComplete()) {
            m.allowedTokens(mask, budget - bytes.length);
            const allowed: number[] = [];
            for (let b = 0; b < 256; b++) if (mask[b]) allowed.push(b);
            assert.ok(allowed.length > 0, 'a walk got stuck before its sentence was complete');
            // Favour the bytes of the format's words, so that walks reach every section early.
            const wanted = allowed.filter((b) => '<>/`\nathinkswer'.includes(String.fromCharCode(b)));
            const b = wanted.length && rng.next() < 0.5 ? rng.pick(wanted) : rng.pick(allowed);
            assert.ok(m.accept(b));
            bytes.push(b);
          }
          const text = Buffer.from(bytes).toString('utf8');
          assert.ok(bytes.length <= budget, `over budget: ${bytes.length} > ${budget}`);
          assert.ok(parses(s, text), `${type}/${role}/${lang}: ${JSON.stringify(text)}`);
        }
      }
});

test('the text for servers is the same grammar, with classes over characters', () => {
  for (const [type, role] of GROUPS) {
    const s = shape(type, role, 'python');
    const text = answerGrammar(s);
    // The subset llama.cpp, XGrammar and gbnf.ts share: no `.`, no bounded repetition, no `_` in names.
    assert.doesNotMatch(text, /\{\d|_[a-z]*\s*::=|^[a-z0-9-]*_/m);
    assert.match(text, /^root ::= /);
    // Read by gbnf.ts over bytes, it admits the same ASCII answers as the byte rendering.
    const g = parseGrammar(text);
    const ok = `x</think>\n<answer>${role === 'solver' && type !== 'induction' ? '3' : type === 'induction' && role === 'proposer' ? `${fence('message', 'm')}\n${fence('input', '1')}\n${fence('input', '2')}` : role === 'solver' ? fence('python', 'def f(x):\n    return x') : `${fence('python', 'def f(x):\n    return x')}\n${fence('input', '1')}`}</answer>`;
    const m = new GrammarMatcher(g);
    assert.ok([...Buffer.from(ok)].every((b) => m.accept(b)) && m.isComplete(), `${type}/${role}`);
  }
});

test('avoidingText admits exactly the strings without the words (brute force over a small alphabet)', () => {
  const words = ['aab', 'ba', '\nc'];
  const { rules, start } = avoidingText({ prefix: 't', words, after: '\n', first: 'ac\n' });
  const g = parseGrammar(
    renderGrammar({ rules: [['root', { kind: 'ref', rule: start }], ...rules] }, 'bytes'),
  );
  const alphabet = ['a', 'b', 'c', '\n'];
  let checked = 0;
  const visit = (s: string) => {
    if (s.length > 6) return;
    const m = new GrammarMatcher(g);
    const ok = [...Buffer.from(s)].every((b) => m.accept(b)) && m.isComplete();
    const want = s.length > 0 && s[0] !== 'b' && !words.some((w) => `\n${s}`.includes(w));
    assert.equal(ok, want, JSON.stringify(s));
    checked++;
    for (const c of alphabet) visit(s + c);
  };
  visit('');
  assert.ok(checked > 5000);
});
