import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Script } from 'node:vm';
import type { Lang } from '../../src/executor/types.js';
import {
  azrConstraint,
  constraintByName,
  type GrammarMatcher,
  randomSentence,
} from '../../src/grammar/index.js';
import type { ConstraintMatcher } from '../../src/model/constraint.js';
import { decode, encode } from '../../src/model/tokenizer.js';
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
  python: { program: 'def f(x):\n    return x', input: "'Hello World'" },
  javascript: { program: 'function f(x) {\n  return x;\n}', input: '"Hello World"' },
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
    'def f(x):\n    y = 0\n    for i in x:\n        y += i\n    return y',
    "def f(a, b):\n    y = a.upper()\n    if b > 2:\n        y = y[::-1]\n    else:\n        y = y + 'ab'\n    return y",
    'def f(x):\n    y = sorted(x)\n    for i in range(len(x)):\n        y += [i, 2]\n    return y[1:]',
    "def f(x):\n    return ''.join(sorted(x)).count('a') + len(x.lower())",
    'def f(a, b):\n    return [v for v in a if v > b]',
  ];
  for (const p of py)
    assert.ok(accepts('deduction', 'proposer', 'python', task('python', p, inputFor(p))), p);
  const js = [
    'function f(x) {\n  let y = 0;\n  for (const i of x) {\n    y += i;\n  }\n  return y;\n}',
    'function f(a, b) {\n  let y = a.toUpperCase();\n  if (b > 2) {\n    y = y.slice(1);\n  } else {\n    y = y + "ab";\n  }\n  return y;\n}',
    'function f(x) {\n  return x.map((v) => v * 2).filter((v) => v > 3);\n}',
    'function f(x) {\n  let y = 1;\n  for (let i = 0; i < x; i++) {\n    y *= 2;\n  }\n  return y;\n}',
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
    ['python', 'def f(x):\n    return z', "'a'"],
    ['python', 'def f(x):\n    return y', "'a'"],
    ['python', 'def f(x):\n    for i in x:\n        y += i\n    return i', '[1]'],
    ['python', 'def f(x):\n    return x.upper()', '5'],
    ['python', 'def f(x):\n    return len(x) + x', "'ab'"],
    ['python', 'def f(a, b):\n    return a', '1'],
    ['python', 'def f(x):\n    return x', '1, 2'],
    ['python', 'import os\ndef f(x):\n    return x', '1'],
    ['javascript', 'function f(x) {\n  return x.toUpperCase();\n}', '[1]'],
    ['javascript', 'function f(x) {\n  return y;\n}', '1'],
    ['javascript', 'function f(x) {\n  while (true) {}\n}', '1'],
  ];
  for (const [lang, program, input] of bad)
    assert.equal(
      accepts('deduction', 'proposer', lang, task(lang, program, input)),
      false,
      `${program} / ${input}`,
    );
  // The same programs with inputs of the right type are fine.
  assert.ok(
    accepts('deduction', 'proposer', 'python', task('python', 'def f(x):\n    return x.upper()', "'ab'")),
  );
  assert.ok(
    accepts(
      'deduction',
      'proposer',
      'javascript',
      task('javascript', 'function f(x) {\n  return x.toUpperCase();\n}', '"ab"'),
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

test('constraint names resolve as the loop writes them, and nothing else does', () => {
  const c = constraintByName('deduction/solver/python');
  assert.equal(c?.name, 'deduction/solver/python');
  assert.equal(constraintByName('induction/proposer/javascript/4')?.name, 'induction/proposer/javascript');
  for (const bad of [
    '',
    'deduction',
    'deduction/solver/ruby',
    'sorting/solver/python',
    'deduction/judge/python',
    'induction/proposer/python/0',
    'induction/proposer/python/x',
    'a/b/c/d/e',
  ])
    assert.equal(constraintByName(bad), undefined, bad);
  assert.equal(constraintByName('deduction/solver/python'), c, 'compiled once');
  assert.throws(() => azrConstraint('deduction', 'solver', 'python', { maxStatements: 9 }), RangeError);
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
          const tokens = budget === undefined ? randomSentence(m, rng, V) : budgetWalk(m, rng, budget);
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

function budgetWalk(m: ConstraintMatcher, rng: Rng, budget: number): number[] {
  const mask = new Uint8Array(V);
  const out: number[] = [];
  while (out.length < budget) {
    m.allowedTokens(mask, budget - out.length);
    const ids: number[] = [];
    for (let i = 0; i < V; i++) if (mask[i]) ids.push(i);
    if (ids.length === 0) break;
    const id = rng.pick(ids);
    m.accept(id);
    out.push(id);
  }
  return out;
}
