import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createExecutor, type ExecResult, type VerdictResult } from '../../src/executor/index.js';
import { canonical } from '../../src/executor/javascript/canonical.js';

// One executor for the file: Pyodide takes over a second to start.
const ex = await createExecutor({ workers: 2, limits: { timeoutMs: 1500 } });
test.after(() => ex.close());

const ok = (r: ExecResult) => {
  assert.ok(r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r;
};
const verdict = (r: VerdictResult) => {
  assert.ok(r.ok, `expected a verdict, got ${JSON.stringify(r)}`);
  return r.equal;
};

test('python: run returns repr and the JSON value; the identity seed runs', async () => {
  const r = ok(await ex.run('python', 'def f(x):\n    return x', "'Hello World'"));
  assert.equal(r.output, "'Hello World'");
  assert.equal(r.value, 'Hello World');
  const t = ok(await ex.run('python', 'def f(a, b):\n    return (a, b[::-1])', "[1, 2], 'ab'"));
  assert.equal(t.output, "([1, 2], 'ba')");
  assert.equal(t.value, undefined, 'a tuple has no JSON value');
  const d = ok(await ex.run('python', 'def f(d):\n    return {k: v * 2 for k, v in d.items()}', "{'a': 1}"));
  assert.deepEqual(d.value, { a: 2 });
});

test('python: helpers inside f and allowed modules work', async () => {
  const prog =
    'import math\nfrom collections import Counter\ndef f(xs):\n    def sq(v):\n        return v * v\n    return sorted(Counter(sq(x) for x in xs).items()), math.gcd(12, 18)';
  assert.equal(ok(await ex.run('python', prog, '[1, -1, 2]')).output, '([(1, 2), (4, 1)], 6)');
});

test('python: str.format and format_map work; a program may name its own variables input, __ or id', async () => {
  const cases: [string, string, string][] = [
    ["def f(a, b):\n    return '{}={}'.format(a, b)", "'h', 6", "'h=6'"],
    ["def f(m):\n    return '{1}={0}'.format(*m.keys(), **m)", "{'l': 4, 'h': 6}", "'h=l'"],
    ["def f(d):\n    return '{a:>4}|{b[0]}'.format_map(d)", "{'a': 7, 'b': [1]}", "'   7|1'"],
    ["def f(x):\n    return '{0.real:{1}}'.format(x, 5)", '3', "'    3'"],
    ["def f(xs):\n    return list(map('<{}>'.format, xs))", '[1, 2]', "['<1>', '<2>']"],
    ["def f(x):\n    return str.format('{}!', x)", "'hi'", "'hi!'"],
    ['def f(input):\n    return [c for c in input if c.isupper()]', "'aBc'", "['B']"],
    ['def f(d):\n    return [(__, d[__]) for __ in d]', "{'k': 1}", "[('k', 1)]"],
    ['def f(id, open=2):\n    return id + open', '1', '3'],
    [
      "class P:\n    def s(self, v):\n        return '<{}>'.format(v)\ndef f(x):\n    return P().s(x)",
      '1',
      "'<1>'",
    ],
  ];
  for (const [program, input, want] of cases) {
    const r = await ex.check('python', program, input);
    assert.equal('output' in r ? r.output : JSON.stringify(r), want, program);
  }
  // The builtin stays out of reach where the program does not bind the name itself.
  const r = await ex.run(
    'python',
    'def f(x):\n    def g(input):\n        return input\n    return input(x)',
    '1',
  );
  assert.ok(!r.ok && r.kind === 'runtime' && /NameError/.test(r.message), JSON.stringify(r));
});

test('python: equality is Python == (sets unordered, 1 == 1.0) except that a bool equals only a bool', async () => {
  assert.equal(verdict(await ex.equal('python', '1', '1.0')), true);
  assert.equal(verdict(await ex.equal('python', '{1, 2, 3}', '{3, 2, 1}')), true);
  assert.equal(verdict(await ex.equal('python', "{'a': [1, (2, 3)]}", "{'a': [1, (2, 3)]}")), true);
  assert.equal(verdict(await ex.equal('python', '[1, 2]', '(1, 2)')), false);
  assert.equal(verdict(await ex.equal('python', "'a'", '"a"')), true);
  assert.equal(verdict(await ex.matches('python', 'def f(x):\n    return x * 2', '2', '4.0')), true);
  assert.equal(verdict(await ex.matches('python', 'def f(x):\n    return x * 2', '2', '5')), false);
  // bool is an int in Python; an answer False must not pass for the output 0, nor True for 1.
  assert.equal(verdict(await ex.equal('python', 'False', '0')), false);
  assert.equal(verdict(await ex.equal('python', '1', 'True')), false);
  assert.equal(verdict(await ex.equal('python', '[0, (1, False)]', '[0, (1, 0)]')), false);
  assert.equal(verdict(await ex.equal('python', "{'a': True}", "{'a': 1}")), false);
  assert.equal(verdict(await ex.equal('python', "{'a': [True, 2.0]}", "{'a': [True, 2]}")), true);
  assert.equal(verdict(await ex.matches('python', 'def f(x):\n    return x % 2', '4', 'False')), false);
  assert.equal(verdict(await ex.matches('python', 'def f(x):\n    return x > 2', '4', 'True')), true);
});

test('python: inspect reads functions and imports without running', async () => {
  const r = await ex.inspect('python', 'import math\ndef f(x):\n    while True: pass');
  assert.ok(r.ok);
  assert.deepEqual(r.topLevelFunctions, ['f']);
  assert.deepEqual(r.imports, ['math']);
});

test('python: each failure kind is a typed value', async () => {
  const cases: [string, string, string][] = [
    ['def f(x) return x', '1', 'syntax'],
    ['def f(x):\n    return 1 / 0', '1', 'runtime'],
    ['def g(x):\n    return x', '1', 'no_entry'],
    ['def f(x):\n    return x\ndef g(x):\n    return x', '1', 'no_entry'],
    ['def f(x):\n    return x', 'x + 1', 'bad_input'],
    ['def f(x):\n    return x', '1 +', 'bad_input'],
    ['def f(x):\n    return "y" * 10000', '1', 'too_large'],
    ['def f(x):\n    return object()', '1', 'not_a_value'],
    ['def f(x):\n    return lambda: 0', '1', 'not_a_value'],
  ];
  for (const [program, input, kind] of cases) {
    const r = await ex.check('python', program, input);
    assert.equal(r.ok, false, program);
    if (!r.ok) {
      assert.equal(r.kind, kind, `${program} -> ${r.message}`);
      assert.ok(r.message.length > 0 && r.message.length <= 300);
    }
  }
  const big = await ex.check('python', `def f(x):\n    return x\n# ${'z'.repeat(9000)}`, '1');
  assert.equal(big.ok ? 'ok' : big.kind, 'too_large');
});

// Models and CRUXEval-style programs open with comments and blank lines; none of that is a function.
test('python: comments, docstrings, blank lines and indented comments before def f are not functions', async () => {
  const accepted = [
    '# add one\ndef f(x):\n    return x + 1',
    '# add one\n# to x\n\ndef f(x):\n    return x + 1',
    '"""Add one.\n\nA block comment as a string."""\ndef f(x):\n    return x + 1',
    '\n\n   \n\t\ndef f(x):\n    return x + 1',
    '    # an indented comment\n  \ndef f(x):\n    # inside\n\n    return x + 1\n',
    'def f(x):\r\n    return x + 1\r\n',
  ];
  for (const program of accepted) {
    assert.equal(ok(await ex.check('python', program, '1')).output, '2', program);
    const r = await ex.inspect('python', program);
    assert.deepEqual(r.ok && r.topLevelFunctions, ['f'], program);
  }
  // Each function once, whatever comes before it.
  const two = await ex.check(
    'python',
    '# one\ndef f(x):\n    return x\n\n# two\ndef g(x):\n    return x',
    '1',
  );
  assert.ok(!two.ok && two.kind === 'no_entry', JSON.stringify(two));
  assert.match(two.message, /\(found f, g\)/);
  // An indented def is Python's own syntax error, not a missing entry.
  const indented = await ex.check('python', '  def f(x):\n      return x', '1');
  assert.equal(indented.ok ? 'ok' : indented.kind, 'syntax');
});

test('python: set order is stable across runs and processes (hash seed fixed)', async () => {
  const prog = 'def f(words):\n    return list(set(words))';
  const input = "['pear', 'apple', 'fig', 'kiwi', 'plum', 'lime']";
  const outs = await ex.batch(
    Array.from({ length: 6 }, () => ({
      op: 'check' as const,
      lang: 'python' as const,
      program: prog,
      input,
    })),
  );
  const texts = new Set(outs.map((r) => ('output' in r ? r.output : JSON.stringify(r))));
  assert.equal(texts.size, 1);
});

test('javascript: run, canonical output, structural equality', async () => {
  const r = ok(await ex.run('javascript', 'function f(x) {\n  return x;\n}', '"Hello World"'));
  assert.equal(r.output, '"Hello World"');
  assert.equal(r.value, 'Hello World');
  const o = ok(
    await ex.run(
      'javascript',
      'function f(a, b) {\n  return { b: a, a: [b, undefined, -0] };\n}',
      "[1, 2], 'x'",
    ),
  );
  assert.equal(o.output, '{"a":["x",undefined,-0],"b":[1,2]}');
  const m = ok(
    await ex.run('javascript', 'function f(xs) {\n  return new Set(xs.map((x) => x % 3));\n}', '[1, 2, 4]'),
  );
  assert.equal(m.output, 'new Set([1,2])');
  assert.equal(verdict(await ex.equal('javascript', '{"a": 1, b: [1, 2]}', '{b: [1, 2], a: 1.0}')), true);
  assert.equal(verdict(await ex.equal('javascript', '[1, 2]', '[2, 1]')), false);
  assert.equal(verdict(await ex.equal('javascript', 'NaN', 'NaN')), true);
  assert.equal(
    verdict(
      await ex.matches(
        'javascript',
        'function f(s) { return s.split("").reverse().join(""); }',
        "'abc'",
        '"cba"',
      ),
    ),
    true,
  );
});

test("javascript: the output text is canonical's for every kind of value (short path and full)", async () => {
  // The sandbox writes simple results (strings, booleans, null, finite numbers, flat arrays of
  // those) without compiling canonical; every text must still be exactly what canonical gives.
  const exprs = [
    '1',
    '0',
    '-0',
    '1.5',
    '-2.25',
    '1e21',
    '2 ** 60',
    'NaN',
    'Infinity',
    '-Infinity',
    "'a\"b\\n\\u0001'",
    "'\u00e9\u2028'",
    'true',
    'false',
    'null',
    'undefined',
    '[]',
    "[1, 'a', null, true, 2.5]",
    '[1, , 3]',
    '[1, -0]',
    '[NaN, 1]',
    '[Infinity]',
    '[undefined]',
    '[[1, 2], [3]]',
    '[{ b: 1, a: 2 }]',
    '{ b: 1, a: 2 }',
    '{}',
    'new Map([[2, "x"], [1, [1]]])',
    'new Set([3, 1])',
    '10n',
    '[1n]',
    '{ a: [1, { c: undefined }] }',
    'Object.assign([1, 2], { extra: 3 })',
    'new Array(3)',
  ];
  const results = await ex.batch(
    exprs.map((e) => ({
      op: 'check' as const,
      lang: 'javascript' as const,
      program: `function f(x) {\n  return ${e};\n}`,
      input: '1',
    })),
  );
  results.forEach((r, i) => {
    // The reference: canonical on the host, of the same (test-owned, constant) expression.
    const want = canonical(new Function(`return (${exprs[i]});`)());
    assert.ok(r.ok && 'output' in r, `${exprs[i]}: ${JSON.stringify(r)}`);
    assert.equal(r.output, want, exprs[i]);
  });
});

test('javascript: failure kinds', async () => {
  const cases: [string, string, string][] = [
    ['function f(x) { return x +; }', '1', 'syntax'],
    ['function f(x) { return x.y.z; }', '1', 'runtime'],
    ['function g(x) { return x; }', '1', 'no_entry'],
    ['function f(x) { return x; }', 'x', 'bad_input'],
    ['function f(x) { return "y".repeat(5000); }', '1', 'too_large'],
    ['function f(x) { return () => 1; }', '1', 'runtime'],
    ['function f(x) { const a = []; a.push(a); return a; }', '1', 'runtime'],
  ];
  for (const [program, input, kind] of cases) {
    const r = await ex.check('javascript', program, input);
    assert.equal(r.ok ? 'ok' : r.kind, kind, `${program} -> ${JSON.stringify(r)}`);
  }
});

test('javascript: comments, blank lines and indentation before function f are not functions', async () => {
  const accepted = [
    '// add one\nfunction f(x) { return x + 1; }',
    '// add one\n// to x\n\nfunction f(x) { return x + 1; }',
    '/**\n * Add one.\n */\nfunction f(x) { return x + 1; }',
    '/* add one */ function f(x) { return x + 1; }',
    '\n\n   \n\t\nfunction f(x) { return x + 1; }',
    '    // indented\n  function f(x) {\n    // inside\n\n    return x + 1;\n  }\n',
    'function f(x) {\r\n  return x + 1;\r\n}\r\n',
    '// an arrow\nconst f = (x) => x + 1;',
  ];
  for (const program of accepted) {
    assert.equal(ok(await ex.check('javascript', program, '1')).output, '2', program);
    const r = await ex.inspect('javascript', program);
    assert.deepEqual(r.ok && r.topLevelFunctions, ['f'], program);
  }
  const two = await ex.check(
    'javascript',
    '// one\nfunction f(x) { return g(x); }\n\n  /* two */\n  function g(x) { return x; }',
    '1',
  );
  assert.ok(!two.ok && two.kind === 'no_entry', JSON.stringify(two));
  assert.match(two.message, /\(found f, g\)/);
});

test('javascript: top-level functions are found at statements, not in strings, template text or names', async () => {
  const cases: [string, string[]][] = [
    // A second declaration on the line where a block closes is a second top-level function.
    ['function f(x) { return g(x); } function g(y) { return y; }', ['f', 'g']],
    ['function f(x) { return x; }; const g = function (y) { return y; };', ['f', 'g']],
    // A brace or a declaration in template text is text.
    ['const open = `{`;\nfunction f(x) { return open + x; }', ['f']],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
    ['const s = `\nfunction g() {}\n`;\nfunction f(x) { return `${x}{${s}`; }', ['f']],
    ["const s = '\\nfunction g() {}';\nfunction f(x) { return s; }", ['f']],
    // Code in ${...} is code: functions there are not at the top level.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
    ['function f(x) { return `a${`b${x}`}c`; }\nconst g = (y) => y;', ['f', 'g']],
    ['let functional = 1;\nfunction f(x) { return x + functional; }', ['f']],
  ];
  for (const [program, want] of cases) {
    const r = await ex.inspect('javascript', program);
    assert.deepEqual(r.ok ? r.topLevelFunctions : r, want, program);
  }
  assert.equal(
    ok(await ex.check('javascript', 'const open = `{`;\nfunction f(x) { return open + x; }', '1')).output,
    '"{1"',
  );
  // Template text is a string like any other; the code in its ${...} is still checked.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
  const text = ok(await ex.check('javascript', 'function f(x) { return `Date: ${x}`; }', '1'));
  assert.equal(text.output, '"Date: 1"');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
  const code = await ex.check('javascript', 'function f(x) { return `${Date.now()}`; }', '1');
  assert.equal(code.ok ? 'ok' : code.kind, 'banned');
});

test('batch keeps request order across languages and reports executions', async () => {
  const before = ex.executions;
  const rs = await ex.batch(
    Array.from({ length: 40 }, (_, i) =>
      i % 2
        ? {
            op: 'run' as const,
            lang: 'python' as const,
            program: 'def f(x):\n    return x + 1',
            input: String(i),
          }
        : {
            op: 'run' as const,
            lang: 'javascript' as const,
            program: 'function f(x) { return x + 1; }',
            input: String(i),
          },
    ),
  );
  rs.forEach((r, i) => {
    assert.equal('output' in r ? r.output : r, String(i + 1));
  });
  assert.ok(ex.executions - before >= 40);
});

test('both sandboxes start from a host run as `node --input-type=module -e` (its flags are not theirs)', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const index = new URL('../../src/executor/index.js', import.meta.url).href;
  const script = `
    const { createExecutor } = await import(${JSON.stringify(index)});
    const ex = await createExecutor({ workers: 1 });
    const rs = await Promise.all([
      ex.run('javascript', 'function f(x) { return x * 2; }', '21'),
      ex.run('python', 'def f(x):\\n    return x * 2', '21'),
    ]);
    await ex.close();
    process.stdout.write(JSON.stringify(rs.map((r) => ('output' in r ? r.output : r))));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    timeout: 120_000,
  });
  assert.deepEqual(JSON.parse(stdout), ['42', '42']);
});

test('javascript: programs share a realm but not state; a program that hit a limit leaves none behind', async () => {
  // One sandbox, so every program below runs on the same worker and, unless replaced, the same realm.
  const one = await createExecutor({
    workers: 1,
    langs: ['javascript'],
    limits: { timeoutMs: 500, memoryMb: 32 },
  });
  try {
    const seq = [
      // Would change a shared intrinsic: the realm is frozen, so it fails and changes nothing.
      ['function f(x) { Math.hit = x; return Math.hit; }', '7', 'runtime'],
      ['function f(x) { return Math.hit === undefined; }', '1', 'true'],
      // Hits the memory limit, then the next program runs normally on a fresh runtime.
      ["function f(x) { let s = 'x'; for (;;) s += s; }", '1', 'memory|timeout'],
      ['function f(x) { return [x, x]; }', '2', '[2,2]'],
      ['function f(x) { for (;;) {} }', '1', 'timeout'],
      ['function f(x) { return x * 2; }', '5', '10'],
    ];
    for (const [program, input, want] of seq) {
      const r = await one.run('javascript', program as string, input as string);
      assert.ok(
        (want as string).split('|').includes(r.ok ? r.output : r.kind),
        `${program}: ${JSON.stringify(r)}`,
      );
    }
  } finally {
    await one.close();
  }
});

test('javascript: braces, quotes and slashes inside regex literals are not code', async () => {
  // [program, input]; what each returns is computed by Node on the same program below.
  const programs: [string, string][] = [
    ['function f(x) {\n  const close = /}/g;\n  return x.replace(close, "");\n}', '"a}b}"'],
    ['function f(x) {\n  return x.split(/[{}]/).length;\n}', '"a{b}c"'],
    ["function f(x) {\n  const q = /['\"`]/g;\n  return x.replace(q, '');\n}", '"it\'s \\"q\\""'],
    ['function f(x) {\n  return /\\/}/.test(x) ? /[/]/gi.source : x / 2;\n}', '"/}"'],
    ['function f(x) {\n  return /a{2}/i.test(x);\n}\n', '"AAb"'],
    ['function f(x) {\n  if (x) { return /\\{/.source + "}"; }\n  return x / 2 / 4;\n}', '8'],
    ['function f(x) {\n  return x / 2 + (x / 4);\n}', '8'],
  ];
  for (const [program, input] of programs) {
    const r = await ex.inspect('javascript', program);
    assert.deepEqual(r.ok && r.topLevelFunctions, ['f'], program);
    // The reference: the same program and input, run by Node.
    const want = canonical(new Function(`${program}\nreturn f(${input});`)());
    assert.equal(ok(await ex.check('javascript', program, input)).output, want, program);
  }
  // A second top-level function after a regex with a brace is still a second function.
  const two = await ex.inspect(
    'javascript',
    'function f(x) { return /{/.test(x); }\nfunction g(y) { return y; }',
  );
  assert.deepEqual(two.ok && two.topLevelFunctions, ['f', 'g']);
});
