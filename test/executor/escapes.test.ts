// Programs are written by a model: treat them as hostile. Every attempt here must come back as a typed
// failure (or a harmless value), leave the host untouched, and leave the pool serving.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createExecutor, type Lang } from '../../src/executor/index.js';
import { sandboxCommand } from '../../src/executor/python/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-escape-'));
const sentinel = join(dir, 'pwned');
const secret = join(dir, 'secret.txt');
writeFileSync(secret, 'TOP-SECRET-VALUE');
const ex = await createExecutor({ workers: 2, limits: { timeoutMs: 1000, memoryMb: 128 } });
test.after(async () => {
  await ex.close();
  rmSync(dir, { recursive: true, force: true });
});

const py = (body: string) =>
  `def f(x):\n${body
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}`;
const js = (body: string) => `function f(x) {\n${body}\n}`;

// [name, lang, program, input, acceptable failure kinds]
const attempts: [string, Lang, string, string, string[]][] = [
  ['os.system', 'python', `import os\n${py(`os.system('touch ${sentinel}')\nreturn 1`)}`, '1', ['banned']],
  ['__import__', 'python', py(`return __import__('os').system('touch ${sentinel}')`), '1', ['banned']],
  ['open a host file', 'python', py(`return open('${secret}').read()`), '1', ['banned']],
  ['write a host file', 'python', py(`open('${sentinel}', 'w').write('x')\nreturn 1`), '1', ['banned']],
  [
    'subprocess',
    'python',
    `import subprocess\n${py(`return subprocess.run(['id']).returncode`)}`,
    '1',
    ['banned'],
  ],
  ['js module', 'python', `import js\n${py('return str(js.process.pid)')}`, '1', ['banned']],
  [
    'pyodide.code.run_js',
    'python',
    `from pyodide.code import run_js\n${py(`return run_js('1')`)}`,
    '1',
    ['banned'],
  ],
  [
    'ctypes',
    'python',
    `import ctypes\n${py(`return ctypes.CDLL(None).system(b'touch ${sentinel}')`)}`,
    '1',
    ['banned'],
  ],
  [
    'socket',
    'python',
    `import socket\n${py(`return socket.create_connection(('127.0.0.1', 80))`)}`,
    '1',
    ['banned'],
  ],
  [
    'urllib',
    'python',
    `import urllib.request\n${py(`return urllib.request.urlopen('http://127.0.0.1')`)}`,
    '1',
    ['banned'],
  ],
  ['gc walk', 'python', `import gc\n${py('return len(gc.get_objects())')}`, '1', ['banned']],
  [
    '__subclasses__',
    'python',
    py('return [c.__name__ for c in ().__class__.__bases__[0].__subclasses__()]'),
    '1',
    ['banned'],
  ],
  ['getattr dunder', 'python', py(`return getattr((), '__class__')`), '1', ['banned']],
  ['__builtins__', 'python', py(`return __builtins__['open']`), '1', ['banned']],
  ['eval', 'python', py(`return eval('1+1')`), '1', ['banned']],
  ['exec', 'python', py(`exec('y=1')\nreturn 1`), '1', ['banned']],
  ['compile', 'python', py(`return compile('1', 'a', 'eval')`), '1', ['banned']],
  ['globals', 'python', py('return list(globals())'), '1', ['banned']],
  ['vars', 'python', py('return vars()'), '1', ['banned']],
  ['format attribute walk', 'python', py(`return '{0.__class__}'.format(x)`), '1', ['banned']],
  // str.format is allowed behind a check of its fields at call time: every way to reach it is checked.
  ['format_map attribute walk', 'python', py(`return '{a.__class__}'.format_map({'a': x})`), '1', ['banned']],
  ['format field in a nested spec', 'python', py(`return '{0:{1.__class__}}'.format(x, x)`), '1', ['banned']],
  ['format through the str type', 'python', py(`return str.format('{0.__init__}', x)`), '1', ['banned']],
  [
    'format as a value',
    'python',
    py(`g = '{0.__class__}'.format\nreturn list(map(g, [x]))`),
    '1',
    ['banned'],
  ],
  [
    'format string built at run time',
    'python',
    py(`t = '{0.' + '_' * 2 + 'class__}'\nreturn t.format(x)`),
    '1',
    ['banned'],
  ],
  [
    'format on a str subclass',
    'python',
    py(`class S(str):\n    pass\nreturn S('{0.__class__}').format(x)`),
    '1',
    ['banned'],
  ],
  [
    'UserString.format (forwards to an unchecked str.format)',
    'python',
    `import collections\n${py(`return collections.UserString('{0.__class__}').format(x)`)}`,
    '1',
    ['banned'],
  ],
  [
    'format reached through super()',
    'python',
    py(`class S(str):\n    def g(self):\n        return super().format\nreturn S('{0.__class__}').g()(x)`),
    '1',
    ['banned'],
  ],
  ['replacing str.format', 'python', py(`x.format = print\nreturn 1`), "'a'", ['banned']],
  ['format rewriter name', 'python', py(`return __azr_format__`), '1', ['banned']],
  [
    'importlib',
    'python',
    `import importlib\n${py(`return importlib.import_module('os').getcwd()`)}`,
    '1',
    ['banned'],
  ],
  ['sys', 'python', `import sys\n${py('return sys.version')}`, '1', ['banned']],
  ['os.environ', 'python', `from os import environ\n${py('return dict(environ)')}`, '1', ['banned']],
  ['random', 'python', `import random\n${py('return random.random()')}`, '1', ['banned']],
  ['time', 'python', `import time\n${py('return time.time()')}`, '1', ['banned']],
  ['datetime', 'python', `import datetime\n${py('return str(datetime.datetime.now())')}`, '1', ['banned']],
  ['threading', 'python', `import threading\n${py('return threading.active_count()')}`, '1', ['banned']],
  ['pickle', 'python', `import pickle\n${py('return pickle.dumps(x)')}`, '1', ['banned']],
  ['import inside f', 'python', py('import os\nreturn os.getcwd()'), '1', ['banned']],
  ['infinite loop', 'python', py('while True:\n    pass'), '1', ['timeout']],
  ['C-level loop', 'python', py('return sum(range(10**13))'), '1', ['timeout']],
  ['memory bomb', 'python', py('return len([0] * (10**9))'), '1', ['memory']],
  ['string memory bomb', 'python', py("s = 'x'\nwhile True:\n    s = s + s"), '1', ['memory', 'timeout']],
  ['recursion bomb', 'python', py('return f(x + 1)'), '1', ['runtime']],
  ['huge output', 'python', py("return 'x' * 10**6"), '1', ['too_large']],
  ['huge int repr', 'python', py('return 10 ** 100000'), '1', ['runtime', 'too_large']],
  [
    'code in the input',
    'python',
    py('return x'),
    `__import__('os').system('touch ${sentinel}')`,
    ['bad_input'],
  ],
  ['lambda in the input', 'python', py('return x'), '(lambda: 1)()', ['bad_input']],
  // Ways around the name checks: looking attributes up by a string, evaluating annotation strings,
  // frames, match patterns, and modules reachable as attributes of allowed ones.
  [
    'operator.attrgetter',
    'python',
    `import operator\n${py(`return str(operator.attrgetter('__class__.__base__')(x))`)}`,
    '1',
    ['banned'],
  ],
  [
    'operator.methodcaller',
    'python',
    `import operator\n${py(`return len(operator.methodcaller('__subclasses__')(object))`)}`,
    '1',
    ['banned'],
  ],
  [
    'from operator import attrgetter',
    'python',
    `from operator import attrgetter as a\n${py(`return str(a('__class__')(x))`)}`,
    '1',
    ['banned'],
  ],
  [
    'string.Formatter.get_field',
    'python',
    `import string\n${py(`return str(string.Formatter().get_field('0.__class__', [x], {})[0])`)}`,
    '1',
    ['banned'],
  ],
  [
    'typing.get_type_hints on a string annotation',
    'python',
    `import typing\n${py('def g(a: "().__class__.__base__.__subclasses__()"):\n    pass\nreturn len(typing.get_type_hints(g)["a"])')}`,
    '1',
    ['banned'],
  ],
  [
    'singledispatch evaluating a string annotation',
    'python',
    `import functools\n${py('@functools.singledispatch\ndef g(a):\n    return 0\n@g.register\ndef h(a: "print(1)"):\n    return 1\nreturn g(x)')}`,
    '1',
    ['banned'],
  ],
  [
    'match class pattern reading __globals__',
    'python',
    `import json\n${py('match json.dumps:\n    case object(__globals__=g):\n        return len(g)\nreturn 0')}`,
    '1',
    ['banned'],
  ],
  [
    'generator frame walk to the runtime globals',
    'python',
    py("def gen():\n    yield gn.gi_frame.f_back.f_back.f_globals['sys']\ngn = gen()\nreturn str(next(gn))"),
    '1',
    ['banned'],
  ],
  [
    'traceback frames',
    'python',
    py('try:\n    1 / 0\nexcept Exception as e:\n    return str(e.__traceback__.tb_frame)'),
    '1',
    ['banned'],
  ],
  ['typing.sys', 'python', `import typing\n${py('return typing.sys.version')}`, '1', ['runtime']],
  [
    'statistics.random',
    'python',
    `import statistics\n${py('return statistics.random.random()')}`,
    '1',
    ['runtime'],
  ],
  [
    'dataclasses.inspect',
    'python',
    `import dataclasses\n${py('return str(dataclasses.inspect.currentframe())')}`,
    '1',
    ['runtime'],
  ],
  ['star import', 'python', `from collections import *\n${py('return 1')}`, '1', ['banned']],
  ['private import', 'python', `from typing import _eval_type\n${py('return 1')}`, '1', ['banned']],
  ['os.path', 'python', `import os.path\n${py('return os.path.exists("/")')}`, '1', ['banned']],
  ['hashlib', 'python', `import hashlib\n${py('return hashlib.md5(b"x").hexdigest()')}`, '1', ['banned']],
  ['io', 'python', `import io\n${py('return io.open("/etc/hostname").read()')}`, '1', ['banned']],
  ['id()', 'python', py('return id(x) % 7'), '1', ['banned']],
  [
    'hash() of an object',
    'python',
    py('class A:\n    pass\nreturn hash(A()) % 1000'),
    '1',
    ['nondeterministic'],
  ],
  [
    'set order of objects',
    'python',
    py(
      'class A:\n    def __init__(self, v):\n        self.v = v\n    def __repr__(self):\n        return str(self.v)\nreturn list({A(i) for i in range(8)})',
    ),
    '1',
    ['not_a_value'],
  ],
  ['JS: globalThis probe', 'javascript', js('return Object.keys(globalThis);'), '1', ['banned']],
  [
    'JS: Function constructor',
    'javascript',
    js(`return (() => 0).constructor('return process')();`),
    '1',
    ['banned'],
  ],
  ['JS: Function', 'javascript', js(`return Function('return this')();`), '1', ['banned']],
  ['JS: eval', 'javascript', js(`return eval('1');`), '1', ['banned']],
  ['JS: escaped eval', 'javascript', js(`return \\u0065val('1');`), '1', ['banned']],
  ['JS: bracket constructor', 'javascript', js(`return x['constructor'];`), '1', ['banned']],
  [
    'JS: require',
    'javascript',
    js(`return require('fs').readFileSync('${secret}', 'utf8');`),
    '1',
    ['banned'],
  ],
  ['JS: dynamic import', 'javascript', js(`return import('fs');`), '1', ['banned']],
  ['JS: process', 'javascript', js('return process.env;'), '1', ['banned']],
  ['JS: std/os modules', 'javascript', js(`return std.open('${secret}', 'r');`), '1', ['banned']],
  ['JS: clock', 'javascript', js('return Date.now();'), '1', ['banned']],
  ['JS: randomness', 'javascript', js('return Math.random();'), '1', ['banned']],
  ['JS: async', 'javascript', 'async function f(x) { return x; }', '1', ['banned']],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: program text; its ${} is the program's own
  ['JS: template smuggling', 'javascript', js('return `${globalThis}`;'), '1', ['banned']],
  ['JS: infinite loop', 'javascript', js('for (;;) {}'), '1', ['timeout']],
  ['JS: loop at top level', 'javascript', `while (true) {}\n${js('return 1;')}`, '1', ['timeout']],
  ['JS: memory bomb', 'javascript', js(`let s = 'x';\nfor (;;) s += s;`), '1', ['memory', 'timeout']],
  ['JS: recursion bomb', 'javascript', js('return f(x + 1);'), '1', ['runtime']],
  ['JS: huge output', 'javascript', js(`return 'x'.repeat(1e6);`), '1', ['too_large']],
  ['JS: code in the input', 'javascript', js('return x;'), '(function () { return 1; })()', ['bad_input']],
  ['JS: Reflect', 'javascript', js(`return Reflect.ownKeys(x);`), '[1]', ['banned']],
  ['JS: Proxy', 'javascript', js('return new Proxy({}, {});'), '1', ['banned']],
  ['JS: WebAssembly', 'javascript', js('return typeof WebAssembly;'), '1', ['banned']],
  ['JS: __proto__ write', 'javascript', js('x.__proto__.polluted = 1; return 1;'), '{}', ['banned']],
  ['JS: Promise', 'javascript', js('return Promise.resolve(1);'), '1', ['banned']],
];

test(`${attempts.length} escape attempts fail as typed values`, async () => {
  assert.ok(attempts.length >= 40);
  const results = await ex.batch(
    attempts.map(([, lang, program, input]) => ({ op: 'check' as const, lang, program, input })),
  );
  attempts.forEach(([name, , , , kinds], i) => {
    const r = results[i];
    assert.ok(r && 'ok' in r && !r.ok, `${name}: expected a failure, got ${JSON.stringify(r)}`);
    if (r && !r.ok) assert.ok(kinds.includes(r.kind), `${name}: got ${r.kind} (${r.message})`);
  });
  assert.equal(existsSync(sentinel), false, 'no program created the sentinel file');
});

test('javascript: a name check bypass still finds no host, clock or randomness', async () => {
  // x['constr' + 'uctor'] gets past the name check and reaches Function; inside QuickJS that is
  // still nothing: no std/os/require/process, a frozen clock, a seeded Math.random.
  const program = js(
    [
      "const F = x['constr' + 'uctor']['constr' + 'uctor'];",
      "const g = F('return [typeof std, typeof os, typeof require, typeof process, typeof fetch, Date.now(), new Date().getTime(), Math.random()]');",
      'return g();',
    ].join('\n'),
  );
  const results = await ex.batch(
    Array.from({ length: 4 }, () => ({
      op: 'check' as const,
      lang: 'javascript' as const,
      program,
      input: '1',
    })),
  );
  const outputs = results.map((r) => (r.ok && 'output' in r ? r.output : JSON.stringify(r)));
  assert.equal(new Set(outputs).size, 1, 'the same output in every runtime');
  assert.match(
    outputs[0] as string,
    /^\["undefined","undefined","undefined","undefined","undefined",0,0,0\.\d+\]$/,
  );
});

test('the pool still answers correctly after the attacks', async () => {
  const r = await ex.run('python', 'def f(x):\n    return x * 3', '14');
  assert.ok(r.ok && r.output === '42');
  const j = await ex.run('javascript', 'function f(x) { return x * 3; }', '14');
  assert.ok(j.ok && j.output === '42');
});

test('javascript: pollution fails in the frozen realm and does not carry over', async () => {
  const polluted = await ex.run(
    'javascript',
    js('Object.prototype.polluted = 1; Array.prototype.push = null; return 1;'),
    '1',
  );
  assert.ok(!polluted.ok && polluted.kind === 'runtime', JSON.stringify(polluted));
  const clean = await ex.run('javascript', js('const a = []; a.push(1); return [({}).polluted, a];'), '1');
  assert.ok(clean.ok && clean.output === '[undefined,[1]]', JSON.stringify(clean));
});

test('javascript: patching what the output is written with fails and never reaches another run', async () => {
  // The sandbox writes outputs with the realm's JSON.stringify and Array.prototype.join; a program that
  // tries to replace them fails (the realm is frozen) and never shapes a later run's output.
  const patch = js(
    "JSON.stringify = () => 'patched'; Array.prototype.join = () => 'patched'; Array.isArray = () => false; return [x, 'y'];",
  );
  const probe = js("return [x, 'y', { b: [x], a: null }];");
  const once = [
    { op: 'check' as const, lang: 'javascript' as const, program: patch, input: '1' },
    { op: 'run' as const, lang: 'javascript' as const, program: probe, input: '2' },
    { op: 'run' as const, lang: 'javascript' as const, program: patch, input: '3' },
    { op: 'check' as const, lang: 'javascript' as const, program: probe, input: '4' },
  ];
  const results = await ex.batch([...once, ...once]);
  results.forEach((r, i) => {
    const x = (i % 4) + 1;
    if (i % 2) {
      assert.ok(r.ok && 'output' in r, `${i}: ${JSON.stringify(r)}`);
      assert.equal(r.output, `[${x},"y",{"a":null,"b":[${x}]}]`, `request ${i}`);
    } else assert.ok(!r.ok && r.kind === 'runtime', `${i}: ${JSON.stringify(r)}`);
  });
});

test('javascript: intrinsics without a global name are frozen too, and the clock and randomness stay fixed', async () => {
  // One sandbox, so every program runs in the same realm. Each attack reaches an intrinsic past the name
  // policy; it fails (or, for a sloppy-mode global write, silently does nothing), and the probe after it
  // must answer what a fresh realm answers.
  const one = await createExecutor({ workers: 1, langs: ['javascript'], limits: { timeoutMs: 1000 } });
  const F = "x['constr' + 'uctor']['constr' + 'uctor']";
  const pairs: [string, string, string][] = [
    // [attack, probe, what the probe must answer]
    [
      'Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({ done: true }); return 1;',
      'return [...[1, 2]];',
      '[1,2]',
    ],
    [
      'Object.getPrototypeOf(function* () {}).prototype.next = null; return 1;',
      'function* g() { yield 1; yield 2; }\nreturn [...g()];',
      '[1,2]',
    ],
    [
      'Object.getPrototypeOf(Int8Array.prototype).fill = null; return 1;',
      'return Array.from(new Int8Array(2).fill(3));',
      '[3,3]',
    ],
    ["Object.getPrototypeOf('').trim = () => 'patched'; return 1;", "return ' a '.trim();", '"a"'],
    [
      'Object.getPrototypeOf(new Map().entries()).next = null; return 1;',
      'return [...new Map([[1, 2]])];',
      '[[1,2]]',
    ],
    [`${F}('leak = 1')(); return 1;`, 'return typeof leak;', '"undefined"'],
    [`${F}('Math.x = 1')(); return 1;`, 'return Object.keys(Math).length;', '0'],
  ];
  try {
    for (const [attack, probe, want] of pairs) {
      const a = await one.run('javascript', js(attack), '1');
      assert.ok(a.ok ? a.output === '1' : a.kind === 'runtime', `${attack}: ${JSON.stringify(a)}`);
      const p = await one.run('javascript', js(probe), '1');
      assert.ok(p.ok && p.output === want, `after ${attack}: ${JSON.stringify(p)}`);
    }
    // The generator restarts for every run, whatever earlier runs drew, and the real Date constructor
    // reached through an instance reads the stopped clock too.
    const draw = js(`return ${F}('return [Math.random(), Math.random()]')();`);
    const first = await one.run('javascript', draw, '1');
    await one.run('javascript', js(`${F}('for (let i = 0; i < 5; i++) Math.random()')(); return 1;`), '1');
    const again = await one.check('javascript', draw, '1');
    assert.ok(first.ok && again.ok && first.output === again.output, `${JSON.stringify([first, again])}`);
    const clock = await one.run(
      'javascript',
      js(`return ${F}('return new Date()')()['constr' + 'uctor'].now();`),
      '1',
    );
    assert.ok(clock.ok && clock.output === '0', JSON.stringify(clock));
  } finally {
    await one.close();
  }
});

test('javascript: programs run as strict code, and own properties may shadow frozen ones', async () => {
  const undeclared = await ex.run('javascript', js('y = x; return y;'), '1');
  assert.ok(!undeclared.ok && /ReferenceError/.test(undeclared.message), JSON.stringify(undeclared));
  // Assigning a property that a frozen prototype also has defines it on the object (as in a fresh realm).
  const shadow = await ex.run(
    'javascript',
    js(
      "const e = new Error('m'); e.name = 'Custom'; const o = {}; o.toString = () => 'o'; return [String(e), String(o), ({}).toString()];",
    ),
    '1',
  );
  assert.ok(shadow.ok && shadow.output === '["Custom: m","o","[object Object]"]', JSON.stringify(shadow));
});

test('python: a patched module or class does not leak into the next program', async () => {
  const patch = py(
    'import math, collections\nmath.pi = 3\nmath.gcd = None\ncollections.Counter.most_common = None\nreturn math.pi',
  );
  const probe = py(
    'import math, collections\nreturn (round(math.pi, 2), math.gcd(4, 6), collections.Counter(x).most_common(1))',
  );
  // Send both to every sandbox several times, so the probe runs after the patch in the same interpreter.
  const reqs = Array.from({ length: 8 }, (_, i) =>
    i % 2
      ? { op: 'run' as const, lang: 'python' as const, program: probe, input: "'aab'" }
      : { op: 'run' as const, lang: 'python' as const, program: patch, input: '1' },
  );
  const results = await ex.batch(reqs);
  results.forEach((r, i) => {
    assert.ok(r.ok && 'output' in r, JSON.stringify(r));
    assert.equal(r.output, i % 2 ? "(3.14, 2, [('a', 2)])" : '3');
  });
});

test('python: wrapped classes, ABC registrations and the decimal context do not leak', async () => {
  const patch = py(
    [
      'import functools, collections, collections.abc, decimal',
      'def g():',
      '    pass',
      'functools.update_wrapper(collections.Counter, g, updated=())',
      'collections.abc.Sequence.register(int)',
      'decimal.getcontext().prec = 3',
      'return 1',
    ].join('\n'),
  );
  const probe = py(
    [
      'import collections, collections.abc, decimal',
      'return (repr(collections.Counter("ab")), isinstance(1, collections.abc.Sequence), str(decimal.Decimal(1) / decimal.Decimal(7)))',
    ].join('\n'),
  );
  const reqs = Array.from({ length: 8 }, (_, i) => ({
    op: 'run' as const,
    lang: 'python' as const,
    program: i % 2 ? probe : patch,
    input: '1',
  }));
  const results = await ex.batch(reqs);
  results.forEach((r, i) => {
    assert.ok(r.ok && 'output' in r, JSON.stringify(r));
    if (i % 2)
      assert.equal(r.output, `("Counter({'a': 1, 'b': 1})", False, '0.1428571428571428571428571429')`);
  });
});

test('python: a compiled program is reused, its state is not (same text, check runs, changed inputs)', async () => {
  // The sandbox compiles a program text once and keeps the code; each run must still start from a
  // fresh namespace, fresh default arguments, fresh input objects and put-back shared modules.
  const counter = [
    'import math',
    'seen = []',
    'def f(xs, acc=[]):',
    '    acc.append(1)',
    '    seen.append(1)',
    '    xs.append(len(xs))',
    '    math.pi = 3',
    '    return (len(acc), len(seen), xs)',
  ].join('\n');
  const probe = py('import math\nreturn round(math.pi, 2)');
  const once = [
    { op: 'check' as const, lang: 'python' as const, program: counter, input: '[7]' },
    { op: 'run' as const, lang: 'python' as const, program: counter, input: '[7]' },
    { op: 'run' as const, lang: 'python' as const, program: probe, input: '1' },
    { op: 'check' as const, lang: 'python' as const, program: counter, input: '[7, 8]', runs: 3 },
    { op: 'run' as const, lang: 'python' as const, program: probe, input: '1' },
  ];
  const want = ['(1, 1, [7, 1])', '(1, 1, [7, 1])', '3.14', '(1, 1, [7, 8, 2])', '3.14'];
  // Repeated, so every sandbox sees the same texts again after the pool splits the batch.
  const results = await ex.batch([...once, ...once, ...once]);
  results.forEach((r, i) => {
    assert.ok(r.ok && 'output' in r, `${i}: ${JSON.stringify(r)}`);
    assert.equal(r.output, want[i % want.length], `request ${i}`);
  });
});

// The Python-level policy is one layer; the process confinement must hold even for code that gets past
// it. Run probes as the sandbox's own entry script under exactly the sandbox's command line.
test('the sandbox process itself cannot write, read host files, spawn, start workers or connect', async () => {
  const server = createServer((s) => {
    connections++;
    s.destroy();
  });
  let connections = 0;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `
import fs from 'node:fs';
import net from 'node:net';
const out = {};
const attempt = async (name, fn) => { try { await fn(); out[name] = 'ALLOWED'; } catch (e) { out[name] = e.code || e.message; } };
await attempt('write', () => fs.writeFileSync(${JSON.stringify(sentinel)}, 'x'));
await attempt('read', () => fs.readFileSync(${JSON.stringify(secret)}, 'utf8'));
await attempt('spawn', async () => (await import('node:child_process')).execSync('id'));
await attempt('worker', async () => { const { Worker } = await import('node:worker_threads'); new Worker('1', { eval: true }); });
await attempt('connect', () => new Promise((ok, fail) => { const s = net.connect(${port}, '127.0.0.1', () => { s.destroy(); ok(); }); s.on('error', fail); setTimeout(() => fail(new Error('no connection')), 1500); }));
out.env = Object.keys(process.env).join(',');
console.log(JSON.stringify(out));
`,
  );
  const cmd = sandboxCommand(probe, [probe]);
  const r = spawnSync(cmd.file, cmd.args, { env: {}, encoding: 'utf8', timeout: 20_000 });
  server.close();
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, string>;
  for (const k of ['write', 'read', 'spawn', 'worker', 'connect']) {
    assert.ok(out[k] && out[k] !== 'ALLOWED', `${k} must be refused, got ${out[k]} (stderr: ${r.stderr})`);
  }
  assert.equal(out.env, '', 'the sandbox sees no environment variables');
  assert.equal(connections, 0, 'no connection reached the host');
  assert.equal(existsSync(sentinel), false);
});
