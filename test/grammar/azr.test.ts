import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Script } from 'node:vm';
import type { Lang } from '../../src/executor/types.js';
import { azrConstraint, constraintFor, type GrammarMatcher } from '../../src/grammar/index.js';
import type { ConstraintMatcher } from '../../src/model/constraint.js';
import { decode, encode } from '../../src/model/tokenizer.js';
import { type AnswerConstraint, answerConstraint, programArity } from '../../src/tasks/answer-format.js';
import { parseProposal, parseSolution } from '../../src/tasks/parse.js';
import type { Role, TaskType } from '../../src/tasks/types.js';
import { Rng } from '../../src/util/rng.js';

const V = 272;
const LANGS: readonly Lang[] = ['python', 'javascript'];
const TYPES: readonly TaskType[] = ['deduction', 'abduction', 'induction'];
const ROLES: readonly Role[] = ['proposer', 'solver'];

const accepts = (type: TaskType, role: Role, lang: Lang, text: string): boolean => {
  const m = azrConstraint(type, role, lang, 4).start() as GrammarMatcher;
  return m.acceptAll(encode(text)) && m.isComplete();
};

const SEED = {
  python: { program: 'def f(a):\n    return a', input: "'Hello World'" },
  javascript: { program: 'function f(a) {\n  return a;\n}', input: '"Hello World"' },
};
const task = (lang: Lang, program: string, input: string) =>
  `\`\`\`${lang}\n${program}\n\`\`\`\n\`\`\`input\n${input}\n\`\`\`</answer>`;

test('every AZR grammar accepts the identity seed task in its format', () => {
  for (const lang of LANGS) {
    const { program, input } = SEED[lang];
    assert.ok(accepts('deduction', 'proposer', lang, task(lang, program, input)), lang);
    assert.ok(accepts('abduction', 'proposer', lang, task(lang, program, input)), lang);
    const inputs = `\`\`\`input\n${input}\n\`\`\`\n\`\`\`input\n[1, 2]\n\`\`\``;
    assert.ok(
      accepts('induction', 'proposer', lang, `\`\`\`message\nreturns its input\n\`\`\`\n${inputs}</answer>`),
    );
    assert.ok(accepts('deduction', 'solver', lang, `${input}</answer>`), lang);
    assert.ok(accepts('abduction', 'solver', lang, `${input}</answer>`), lang);
    assert.ok(accepts('induction', 'solver', lang, `\`\`\`${lang}\n${program}\n\`\`\`</answer>`), lang);
  }
});

test('the program subset: statements, loops, branches and the methods a small model can use', () => {
  const py = [
    'def f(a):\n    y = 0\n    for i in a:\n        y += i\n    return y',
    "def f(a, b):\n    y = a.upper()\n    if b > 2:\n        y = y[::-1]\n    else:\n        y = y + 'ab'\n    return y",
    'def f(a):\n    y = sorted(a)\n    for i in range(len(a)):\n        y += [i, 2]\n    return y[1:]',
    "def f(a):\n    return ''.join(sorted(a)).count('a') + len(a.lower())",
    'def f(a, b):\n    return [v for v in a if v > b]',
  ];
  for (const p of py)
    assert.ok(accepts('deduction', 'proposer', 'python', task('python', p, inputFor(p))), p);
  const js = [
    'function f(a) {\n  let y = 0;\n  for (const i of a) {\n    y += i;\n  }\n  return y;\n}',
    'function f(a, b) {\n  let y = a.toUpperCase();\n  if (b > 2) {\n    y = y.slice(1);\n  } else {\n    y = y + "ab";\n  }\n  return y;\n}',
    'function f(a) {\n  return a.map((v) => v * 2).filter((v) => v > 3);\n}',
    'function f(a) {\n  let y = 1;\n  for (let i = 0; i < a; i++) {\n    y *= 2;\n  }\n  return y;\n}',
  ];
  for (const p of js)
    assert.ok(accepts('induction', 'solver', 'javascript', `\`\`\`javascript\n${p}\n\`\`\`</answer>`), p);
});

/** An input of the types the test programs above expect. */
function inputFor(p: string): string {
  if (p.startsWith('def f(a, b):\n    y = a.upper')) return "'hi', 3";
  if (p.startsWith('def f(a, b)')) return '[1, 5], 2';
  if (p.includes("''.join")) return "'Banana'";
  return '[3, 1, 2]';
}

test('proposals are refused when they cannot run: unknown names, y before assignment, mistyped or miscounted inputs', () => {
  const bad: [Lang, string, string][] = [
    ['python', 'def f(a):\n    return z', "'a'"],
    ['python', 'def f(a):\n    return y', "'a'"],
    ['python', 'def f(a):\n    for i in a:\n        y += i\n    return i', '[1]'],
    ['python', 'def f(a):\n    return a.upper()', '5'],
    ['python', 'def f(a):\n    return len(a) + a', "'ab'"],
    ['python', 'def f(a, b):\n    return a', '1'],
    ['python', 'def f(a):\n    return a', '1, 2'],
    ['python', 'import os\ndef f(a):\n    return a', '1'],
    ['javascript', 'function f(a) {\n  return a.toUpperCase();\n}', '[1]'],
    ['javascript', 'function f(a) {\n  return y;\n}', '1'],
    ['javascript', 'function f(a) {\n  while (true) {}\n}', '1'],
  ];
  for (const [lang, program, input] of bad)
    assert.equal(
      accepts('deduction', 'proposer', lang, task(lang, program, input)),
      false,
      `${program} / ${input}`,
    );
  // The same programs with inputs of the right type are fine.
  assert.ok(
    accepts('deduction', 'proposer', 'python', task('python', 'def f(a):\n    return a.upper()', "'ab'")),
  );
  assert.ok(
    accepts(
      'deduction',
      'proposer',
      'javascript',
      task('javascript', 'function f(a) {\n  return a.toUpperCase();\n}', '"ab"'),
    ),
  );
  // Formats: wrong fence, missing end token, text after the end, a second answer.
  const { program, input } = SEED.python;
  assert.equal(accepts('deduction', 'proposer', 'python', task('javascript', program, input)), false);
  assert.equal(
    accepts('deduction', 'proposer', 'python', task('python', program, input).replace('</answer>', '')),
    false,
  );
  assert.equal(accepts('deduction', 'solver', 'python', "'a'</answer>x"), false);
  assert.equal(accepts('deduction', 'solver', 'python', 'hello</answer>'), false);
  assert.equal(accepts('abduction', 'solver', 'python', '1, 2, 3</answer>'), false, 'at most two arguments');
  const tooMany = Array.from({ length: 5 }, () => '```input\n1\n```').join('\n');
  assert.equal(
    accepts('induction', 'proposer', 'python', `\`\`\`message\nabc\n\`\`\`\n${tooMany}</answer>`),
    false,
  );
});

/**
 * A constraint written compactly for these tests: type/role/lang/N, then flags a1|a2 (arity), r (return-only
 * programs), d1 (expression depth 1), s (short proposed inputs), b (no condition as a return value).
 */
function spec(name: string): AnswerConstraint {
  const [type, role, lang, n, ...flags] = name.split('/');
  const c: AnswerConstraint = {
    style: 'compact',
    type: type as TaskType,
    role: role as Role,
    lang: lang as Lang,
    inductionInputs: Number(n ?? 10),
    returnOnly: flags.includes('r'),
    exprDepth: flags.includes('d1') ? 1 : 2,
    shortInputs: flags.includes('s'),
    boolReturns: !flags.includes('b'),
  };
  if (flags.includes('a1') || flags.includes('a2')) c.arity = flags.includes('a1') ? 1 : 2;
  return c;
}

test('constraintFor compiles each distinct constraint once and names it by (type, role, language)', () => {
  const c = constraintFor(spec('deduction/solver/python/10'));
  assert.equal(c.name, 'deduction/solver/python');
  assert.equal(constraintFor(spec('induction/proposer/javascript/4')).name, 'induction/proposer/javascript');
  assert.equal(constraintFor(spec('deduction/solver/python/10')), c, 'compiled once');
  assert.notEqual(constraintFor(spec('deduction/solver/python/10/b')), c, 'other settings, another grammar');
  assert.throws(() => azrConstraint('deduction', 'solver', 'python', { maxStatements: 9 }), RangeError);
});

test('answerConstraint carries the format into each request, and none when decoding is free', () => {
  const grammar = { matchArity: true, returnOnly: true, exprDepth: 1, shortInputs: true, boolReturns: false };
  const format = { style: 'compact' as const, inductionInputs: 4, grammar };
  assert.deepEqual(answerConstraint(format, 'abduction', 'solver', 'python', 'def f(a, b):\n    return a'), {
    ...spec('abduction/solver/python/4/a2/r/d1/s/b'),
  });
  // No program shown (a deduction proposer), or arity not matched: no arity.
  assert.equal(answerConstraint(format, 'deduction', 'proposer', 'python')?.arity, undefined);
  const free = answerConstraint(
    { ...format, grammar: { ...grammar, matchArity: false } },
    'abduction',
    'solver',
    'python',
    'def f(a):\n    return a',
  );
  assert.equal(free?.arity, undefined);
  assert.equal(answerConstraint({ ...format, grammar: null }, 'abduction', 'solver', 'python'), undefined);
});

const acceptsNamed = (name: string, text: string): boolean => {
  const m = constraintFor(spec(name)).start() as GrammarMatcher;
  return m.acceptAll(encode(text)) && m.isComplete();
};

test('with an arity, answers about a program take exactly that many arguments', () => {
  assert.ok(acceptsNamed('abduction/solver/python/4/a1', "'ab'</answer>"));
  assert.equal(acceptsNamed('abduction/solver/python/4/a1', "'ab', 3</answer>"), false);
  assert.ok(acceptsNamed('abduction/solver/python/4/a2', "'ab', 3</answer>"));
  assert.equal(acceptsNamed('abduction/solver/python/4/a2', "'ab'</answer>"), false);
  const one = '```python\ndef f(a):\n    return a + 1\n```</answer>';
  const two = '```python\ndef f(a, b):\n    return a + b\n```</answer>';
  assert.ok(acceptsNamed('induction/solver/python/4/a1', one));
  assert.equal(acceptsNamed('induction/solver/python/4/a1', two), false);
  assert.ok(acceptsNamed('induction/solver/python/4/a2', two));
  assert.equal(acceptsNamed('induction/solver/python/4/a2', one), false);
  const inputs = (...xs: string[]) =>
    `\`\`\`message\nadds\n\`\`\`${xs.map((x) => `\n\`\`\`input\n${x}\n\`\`\``).join('')}</answer>`;
  assert.ok(acceptsNamed('induction/proposer/python/4/a2', inputs('1, 2', "'a', [3]")));
  assert.equal(acceptsNamed('induction/proposer/python/4/a2', inputs('1, 2', '3')), false);
  assert.equal(acceptsNamed('induction/proposer/javascript/4/a1', inputs('1, 2')), false);
  // A deduction answer is a value whatever the program's arity.
  assert.ok(acceptsNamed('deduction/solver/python/4/a2', '[1, 2]</answer>'));
  // Without an arity, either count is fine, as before.
  assert.ok(acceptsNamed('abduction/solver/python/4', "'ab', 3</answer>"));
  assert.ok(acceptsNamed('abduction/solver/python/4', "'ab'</answer>"));
});

test('programArity reads the parameter list of either language', () => {
  assert.equal(programArity('def f(a):\n    return a'), 1);
  assert.equal(programArity('def f(a, b):\n    return a'), 2);
  assert.equal(programArity('function f(a, b) {\n  return a;\n}'), 2);
  assert.equal(programArity('def f():\n    return 1'), undefined);
  assert.equal(programArity('def f(a, b, c):\n    return a'), undefined);
  assert.equal(programArity('print(1)'), undefined);
});

test('return-only and depth-1 grammars admit one short return line and nothing longer', () => {
  const ind = (body: string) => `\`\`\`python\ndef f(a):\n${body}\n\`\`\`</answer>`;
  const statements = ind('    y = a + 1\n    return y');
  assert.ok(acceptsNamed('induction/solver/python/4', statements));
  assert.equal(acceptsNamed('induction/solver/python/4/r', statements), false);
  assert.ok(acceptsNamed('induction/solver/python/4/r', ind('    return abs(len(a)) + 1')));
  assert.ok(acceptsNamed('induction/solver/python/4/r/d1', ind('    return len(a) + 1')));
  assert.equal(acceptsNamed('induction/solver/python/4/r/d1', ind('    return abs(len(a)) + 1')), false);
  const js = 'function f(a) {\n  let y = a;\n  return y;\n}';
  assert.equal(acceptsNamed('deduction/proposer/javascript/4/r', task('javascript', js, '1')), false);
  assert.ok(
    acceptsNamed(
      'deduction/proposer/javascript/4/r',
      task('javascript', 'function f(a) {\n  return a * 2;\n}', '1'),
    ),
  );
  // Random walks through the narrowest grammar still end, and their programs are one line.
  const rng = new Rng(9);
  for (let k = 0; k < 20; k++) {
    const m = constraintFor(spec('deduction/proposer/python/4/r/d1')).start() as GrammarMatcher;
    const text = decode(randomWalk(m, rng));
    assert.ok(m.isComplete(), text);
    const p = parseProposal('deduction', 'python', text, 'compact', 4);
    assert.ok(p.ok && p.proposal.kind === 'program', text);
    if (p.ok && p.proposal.kind === 'program')
      assert.match(p.proposal.program, /^def f\([ab, ]+\):\n {4}return [^\n]+$/);
  }
});

test("with short inputs, a proposal's inputs are small literals and solver answers keep the full range", () => {
  const seed = task('python', 'def f(a):\n    return a', "'hello'");
  assert.ok(acceptsNamed('deduction/proposer/python/4/s', seed));
  assert.equal(
    acceptsNamed('deduction/proposer/python/4/s', task('python', 'def f(a):\n    return a', "'Hello'")),
    false,
  );
  assert.equal(
    acceptsNamed('deduction/proposer/python/4/s', task('python', 'def f(a):\n    return a', '12')),
    false,
  );
  assert.ok(acceptsNamed('deduction/proposer/python/4', task('python', 'def f(a):\n    return a', '12')));
  assert.equal(
    acceptsNamed(
      'induction/proposer/python/4/a1/s',
      '```message\nabc\n```\n```input\n[1, 2, 3, 4, 5]\n```</answer>',
    ),
    false,
  );
  assert.ok(
    acceptsNamed(
      'induction/proposer/python/4/a1/s',
      '```message\nabc\n```\n```input\n[1, -2, 3, 4]\n```</answer>',
    ),
  );
  assert.ok(acceptsNamed('abduction/solver/python/4/a1/s', "'Hello World'</answer>"));
  // Negative zero is zero: one spelling each, so the proposer's probability mass is not split between them.
  const input = (literal: string) =>
    acceptsNamed(
      'induction/proposer/python/4/a1/s',
      `\`\`\`message\nabc\n\`\`\`\n\`\`\`input\n${literal}\n\`\`\`</answer>`,
    );
  assert.ok(input('[0, -3]'));
  assert.equal(input('[-0]'), false);
  assert.equal(input('-0'), false);
  assert.ok(input('0'));
});

test('without boolean returns, a program returns a value, and conditions stay in if statements', () => {
  const ind = (body: string) => `\`\`\`python\ndef f(a):\n${body}\n\`\`\`</answer>`;
  assert.ok(acceptsNamed('induction/solver/python/4/r', ind('    return a > 2')));
  assert.equal(acceptsNamed('induction/solver/python/4/r/b', ind('    return a > 2')), false);
  assert.ok(acceptsNamed('induction/solver/python/4/r/b', ind('    return a + 2')));
  const branch = ind('    y = 1\n    if a > 2:\n        y = 3\n    return y');
  assert.ok(acceptsNamed('induction/solver/python/4/b', branch));
  assert.equal(acceptsNamed('induction/solver/python/4/b', ind('    y = 1\n    return y > a')), false);
});

test('masks of the AZR grammars equal the tokens accept() takes', () => {
  const rng = new Rng(5);
  const mask = new Uint8Array(V);
  for (const lang of LANGS) {
    const m = azrConstraint('deduction', 'proposer', lang, 4).start() as GrammarMatcher;
    for (let step = 0; step < 200; step++) {
      m.allowedTokens(mask);
      const ids: number[] = [];
      for (let id = 0; id < V; id++) {
        if (step % 20 === 0)
          assert.equal(m.fork().accept(id), mask[id] === 1, `${lang} step ${step} token ${id}`);
        if (mask[id]) ids.push(id);
      }
      if (ids.length === 0) break;
      m.accept(rng.pick(ids));
    }
  }
});

test('random walks through every AZR grammar end within the budget, parse as answers, and are valid code', () => {
  const rng = new Rng(42);
  const programs: Record<Lang, string[]> = { python: [], javascript: [] };
  const literals: Record<Lang, string[]> = { python: [], javascript: [] };
  for (const lang of LANGS) {
    for (const type of TYPES) {
      for (const role of ROLES) {
        for (let k = 0; k < 25; k++) {
          const m = azrConstraint(type, role, lang, 4).start() as GrammarMatcher;
          // Half the walks without a budget (the grammar alone must end them), half with a tight one.
          const budget = k % 2 === 0 ? undefined : m.minRemaining() + rng.int(80);
          const tokens = randomWalk(m, rng, budget);
          assert.ok(m.isComplete(), `${type}/${role}/${lang} did not complete: ${decode(tokens)}`);
          if (budget !== undefined) assert.ok(tokens.length <= budget);
          const text = decode(tokens);
          if (role === 'proposer') {
            const p = parseProposal(type, lang, text, 'compact', 4);
            assert.ok(p.ok, `${type}/${role}/${lang}: ${JSON.stringify(text)} -> ${p.ok ? '' : p.reason}`);
            if (p.proposal.kind === 'program') {
              programs[lang].push(p.proposal.program);
              literals[lang].push(p.proposal.input);
            } else literals[lang].push(...p.proposal.inputs);
          } else {
            const s = parseSolution(type, lang, text, 'compact');
            assert.ok(s.ok, `${type}/${role}/${lang}: ${JSON.stringify(text)}`);
            if (type === 'induction') programs[lang].push(s.answer);
            else literals[lang].push(s.answer);
          }
        }
      }
    }
  }
  // Syntax only: JavaScript is compiled, never run; Python is parsed by its own ast module.
  for (const p of programs.javascript) assert.doesNotThrow(() => new Script(p), p);
  for (const l of literals.javascript) assert.doesNotThrow(() => new Script(`[${l}]`), l);
  const check = spawnSync(
    'python3',
    [
      '-c',
      'import ast, json, sys\nd = json.load(sys.stdin)\nfor p in d["programs"]:\n    ast.parse(p)\nfor l in d["literals"]:\n    ast.literal_eval("(" + l + ",)")\nprint("ok", len(d["programs"]), len(d["literals"]))',
    ],
    { input: JSON.stringify({ programs: programs.python, literals: literals.python }), encoding: 'utf8' },
  );
  assert.match(check.stdout.trim(), /^ok \d+ \d+$/, check.stderr);
  assert.ok(programs.python.length >= 75 && programs.javascript.length >= 75);
});

/**
 * A uniformly random walk through a grammar: pick any allowed token until nothing more is allowed. With a
 * budget the matcher is told how many tokens remain, as the sampler tells it; without one the grammar
 * alone must end the walk (cut at 2,000 tokens, which the completeness checks then catch).
 */
function randomWalk(m: ConstraintMatcher, rng: Rng, budget?: number): number[] {
  const mask = new Uint8Array(V);
  const out: number[] = [];
  while (out.length < (budget ?? 2000)) {
    m.allowedTokens(mask, budget === undefined ? undefined : budget - out.length);
    const ids: number[] = [];
    for (let i = 0; i < V; i++) if (mask[i]) ids.push(i);
    if (ids.length === 0) break;
    const id = rng.pick(ids);
    m.accept(id);
    out.push(id);
  }
  return out;
}
