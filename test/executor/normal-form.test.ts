// The executor's `normalize` request: a program's normal form, one text for every program that differs
// only in comments, layout, docstrings and the names of its own variables, and another text for any real
// difference. The form is itself the same program: run on the same inputs, it gives the same outputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createExecutor, type Lang, type NormalizeResult } from '../../src/executor/index.js';

const ex = await createExecutor({ workers: 2, limits: { timeoutMs: 1500 } });
test.after(() => ex.close());

async function form(lang: Lang, program: string): Promise<string> {
  const r: NormalizeResult = await ex.normalize(lang, program);
  assert.ok(r.ok, `expected a normal form of ${program}, got ${JSON.stringify(r)}`);
  return r.program;
}

/** Every program of the group has the first one's form. */
async function assertOneProgram(lang: Lang, group: readonly string[]): Promise<void> {
  const want = await form(lang, group[0] as string);
  for (const p of group.slice(1)) assert.equal(await form(lang, p), want, p);
}

/** No two programs of the list share a form. */
async function assertAllDifferent(lang: Lang, programs: readonly string[]): Promise<void> {
  const forms = await Promise.all(programs.map((p) => form(lang, p)));
  for (const [i, f] of forms.entries()) {
    const j = forms.indexOf(f);
    assert.equal(j, i, `${programs[i]} and ${programs[j]} share the form ${f}`);
  }
}

test('python: names, comments, docstrings and layout do not change the form', async () => {
  await assertOneProgram('python', [
    'def f(a, b):\n    return a[::-1]',
    'def f(s, t):\n    """Reverses s."""\n    # the whole string, backwards\n    return s[ : : -1]',
    'def f(x, y): return (x[::-1])',
  ]);
  await assertOneProgram('python', [
    'import math\ndef f(a):\n    total = 0\n    for i in range(a):\n        total += math.isqrt(i)\n    return [total, [j * 2 for j in range(3)]]',
    'import math\n\n\ndef f(n):\n  acc = 0\n  for k in range(n):\n    acc = acc + 0 if False else acc\n    acc += math.isqrt(k)\n  return [acc, [m * 2 for m in range(3)]]'.replace(
      '    acc = acc + 0 if False else acc\n',
      '',
    ),
  ]);
  // Nested functions, exception and comprehension names are the program's own too; f stays f.
  assert.equal(
    await form(
      'python',
      'def f(a):\n    def helper(z):\n        return z + 1\n    try:\n        return helper(a)\n    except TypeError as err:\n        return str(err)',
    ),
    'def f(v0):\n\n    def v1(v2):\n        return v2 + 1\n    try:\n        return v1(v0)\n    except TypeError as v3:\n        return str(v3)',
  );
});

test('python: a constant, an operation, a builtin, an attribute or the order of the names is a new program', async () => {
  await assertAllDifferent('python', [
    'def f(a, b):\n    return a[::-1]',
    'def f(a, b):\n    return b[::-1]', // the other argument
    'def f(a, b):\n    return a[::2]', // another constant
    'def f(a, b):\n    return a[1:]',
    'def f(a, b):\n    return sorted(a)', // another builtin
    'def f(a, b):\n    return reversed(a)',
    'def f(a, b):\n    return a.upper()', // another attribute
    'def f(a, b):\n    return a.lower()',
    "def f(a, b):\n    return 'a'", // a string that spells a parameter's name is a string
    'def f(a, b):\n    x = a\n    return x[::-1]', // one more step
  ]);
});

test('python: the form is the same program, parsed and never run', async () => {
  const cases: [string, string[]][] = [
    [
      'def f(word, n):\n    out = []\n    for i, ch in enumerate(word):\n        out.append(ch * (i % n + 1))\n    return "".join(out)',
      ["'abc', 2", "'xy', 1"],
    ],
    [
      'from collections import Counter\ndef f(xs):\n    c = Counter(xs)\n    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))',
      ['[3, 1, 3, 2]'],
    ],
    [
      'def f(a):\n    """doc"""\n    def g(b, *rest, k=2):\n        return [b * k, len(rest)]\n    return g(a, 1, 2)',
      ['4', "'z'"],
    ],
  ];
  for (const [program, inputs] of cases) {
    const normal = await form('python', program);
    assert.equal(await form('python', normal), normal, 'a normal form is its own form');
    for (const input of inputs) {
      const [want, got] = await Promise.all([
        ex.check('python', program, input),
        ex.check('python', normal, input),
      ]);
      assert.ok(want.ok && got.ok, JSON.stringify([want, got]));
      assert.equal(got.output, want.output, `${normal} on ${input}`);
    }
  }
  // Parsing runs nothing: not the endless loop at the top level (run, it would end as a timeout, and
  // form() asserts a normal form came back), not the division by zero, not the refused import.
  assert.equal(
    await form('python', 'def f(a):\n    return a\nwhile True:\n    pass'),
    'def f(v0):\n    return v0\nwhile True:\n    pass',
  );
  assert.equal(
    await form('python', 'x = 1 / 0\ndef f(a):\n    return a'),
    'v0 = 1 / 0\n\ndef f(v1):\n    return v1',
  );
  assert.match(await form('python', 'import os\ndef f(a):\n    return os.getcwd()'), /^import os\n/);
  const bad = await ex.normalize('python', 'def f(a) return a');
  assert.equal(bad.ok ? 'ok' : bad.kind, 'syntax');
});

test('javascript: names, comments and layout do not change the form; properties, strings and builtins do', async () => {
  await assertOneProgram('javascript', [
    'function f(a) {\n  return a * 2;\n}',
    'function f(x) { return x*2; } // twice',
    'function f(n)\n{\n    /* n doubled */\n    return n * 2;\n}',
  ]);
  await assertOneProgram('javascript', [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
    'function f(s, k) {\n  const parts = s.split("");\n  let out = [], i = 0;\n  for (const ch of parts) { out.push(`${ch}:${i++ % k}`); }\n  return out.map((p, j) => p + j).filter(q => q.length > 0);\n}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
    'function f(word, m) {\n  const cs = word.split("");\n  let acc = [], c = 0;\n  for (const x of cs) { acc.push(`${x}:${c++ % m}`); }\n  return acc.map((y, z) => y + z).filter(w => w.length > 0);\n}',
  ]);
  await assertAllDifferent('javascript', [
    'function f(a, b) {\n  return a.length;\n}',
    'function f(a, b) {\n  return b.length;\n}',
    'function f(a, b) {\n  return a.size;\n}', // another property
    'function f(a, b) {\n  return Math.max(a, b);\n}',
    'function f(a, b) {\n  return Math.min(a, b);\n}',
    'function f(a, b) {\n  return "a".length;\n}', // a string that spells a parameter's name
    'function f(a, b) {\n  return { a: b };\n}', // an object key is not a variable
    'function f(a, b) {\n  return { b: a };\n}',
  ]);
});

test('javascript: the form is the same program', async () => {
  const cases: [string, string[]][] = [
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
      'function f(s, k) {\n  const parts = s.split("");\n  let out = [], i = 0;\n  for (const ch of parts) { out.push(`${ch}:${i++ % k}`); }\n  return out.map((p, j) => p + j);\n}',
      ['"abc", 2'],
    ],
    [
      'function f(xs) {\n  const [first, ...rest] = xs;\n  const { length: n } = rest;\n  try { return JSON.parse(first) + n; } catch (err) { return String(err.name); }\n}',
      ['["7", 1, 2]', '["x"]'],
    ],
    [
      'function f(o) {\n  const key = "a";\n  return { key: o[key], n: Object.keys(o).length };\n}',
      ['{"a": 3, "b": 4}'],
    ],
  ];
  for (const [program, inputs] of cases) {
    const normal = await form('javascript', program);
    assert.equal(await form('javascript', normal), normal, 'a normal form is its own form');
    for (const input of inputs) {
      const [want, got] = await Promise.all([
        ex.check('javascript', program, input),
        ex.check('javascript', normal, input),
      ]);
      assert.ok(want.ok && got.ok, JSON.stringify([want, got, normal]));
      assert.equal(got.output, want.output, `${normal} on ${input}`);
    }
  }
});
