// Issue 34: verdicts no program can change. Answers and proposed programs that try to be judged equal to
// everything are refused as not values; a program that tampers with the runtime retires its sandbox; and
// in one worker (every request below shares one interpreter) an honest wrong answer after any of them is
// still wrong, an honest right answer still right.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Task } from '../../src/tasks/types.js';
import { verifySolutions } from '../../src/tasks/verify.js';
import { escaped, py } from './attack.js';

const ex = await createExecutor({ workers: 1, langs: ['python', 'javascript'], limits: { timeoutMs: 3000 } });
test.after(() => ex.close());

const honest = [
  // [answer program, hidden input, expected output, right?]
  [py('return x + 1'), '1', '7', false],
  [py('return x + 1'), '6', '7', true],
  [py('return [x] * 3'), "'a'", "['a', 'a', 'a']", true],
  [py('return {x: 1.0}'), "'k'", "{'k': 1}", true],
  [py('return x % 2 == 0'), '4', '1', false], // a bool equals only a bool
] as const;

async function honestStillHonest(after: string): Promise<void> {
  for (const [program, input, expected, right] of honest) {
    const r = await ex.matches('python', program, input, expected);
    assert.ok(r.ok, `${after}: ${JSON.stringify(r)}`);
    assert.equal(r.ok && r.equal, right, `${after}: f(${input}) against ${expected}`);
  }
  const e = await ex.equal('python', '1', '2');
  assert.ok(e.ok && !e.equal, `${after}: equal('1', '2') gave ${JSON.stringify(e)}`);
}

// Objects that claim to equal anything, or look like a value they are not.
const impostors: [string, string][] = [
  ['__eq__ always true', 'class E:\n    def __eq__(self, o):\n        return True\nreturn E()'],
  ['int subclass', 'class I(int):\n    def __eq__(self, o):\n        return True\nreturn I(3)'],
  ['float subclass', 'class F(float):\n    def __eq__(self, o):\n        return True\nreturn F(3)'],
  ['str subclass', "class S(str):\n    def __eq__(self, o):\n        return True\nreturn S('a')"],
  ['list subclass', 'class L(list):\n    def __eq__(self, o):\n        return True\nreturn L([1])'],
  ['tuple subclass', 'class T(tuple):\n    def __eq__(self, o):\n        return True\nreturn T((1,))'],
  ['dict subclass', 'class M(dict):\n    def __eq__(self, o):\n        return True\nreturn M(a=1)'],
  ['set subclass', 'class Z(set):\n    def __eq__(self, o):\n        return True\nreturn Z({1})'],
  ['frozenset subclass', 'class Z(frozenset):\n    def __eq__(self, o):\n        return True\nreturn Z({1})'],
  ['repr that looks right', "class R:\n    def __repr__(self):\n        return '[1, 2, 3]'\nreturn R()"],
  ['inside a list', 'class E:\n    def __eq__(self, o):\n        return True\nreturn [1, E()]'],
  [
    'as a dict key',
    'class K:\n    def __hash__(self):\n        return 1\n    def __eq__(self, o):\n        return True\nreturn {K(): 1}',
  ],
  [
    'as a set member',
    'class K:\n    def __hash__(self):\n        return 1\n    def __eq__(self, o):\n        return True\nreturn {K()}',
  ],
  [
    'Sequence ABC user class',
    'import collections.abc\nclass Q(collections.abc.Sequence):\n    def __len__(self):\n        return 3\n    def __getitem__(self, i):\n        if i >= 3:\n            raise IndexError\n        return i\n    def __eq__(self, o):\n        return True\nreturn Q()',
  ],
  [
    'Mapping ABC user class',
    "import collections.abc\nclass Q(collections.abc.Mapping):\n    def __len__(self):\n        return 1\n    def __iter__(self):\n        return iter(['a'])\n    def __getitem__(self, k):\n        return 1\n    def __eq__(self, o):\n        return True\nreturn Q()",
  ],
  ['namedtuple', "import collections\nP = collections.namedtuple('P', 'a b')\nreturn P(1, 2)"],
  ['Counter', "import collections\nreturn collections.Counter('aab')"],
  ['a value that contains itself', 'a = [1]\na.append(a)\nreturn a'],
];

test('objects that equal everything are not values: refused as induction answers and as proposals', async () => {
  const expected = ['[1, 2, 3]', '3', "'a'", "{'a': 1}", '(1,)', '{1}'];
  for (const [name, body] of impostors) {
    const program = py(body);
    for (const want of expected) {
      const r = await ex.matches('python', program, '5', want);
      assert.ok(!r.ok && r.kind === 'not_a_value', `${name} against ${want}: ${JSON.stringify(r)}`);
    }
    const proposal = await ex.check('python', program, '5');
    assert.ok(
      !proposal.ok && proposal.kind === 'not_a_value',
      `${name} proposed: ${JSON.stringify(proposal)}`,
    );
  }
  await honestStillHonest('after the impostors');
  // Through the verification the loop uses: an induction answer built on any of them is wrong.
  const task: Task = {
    type: 'induction',
    lang: 'python',
    program: py('return x * 2'),
    input: '1',
    output: '2',
    message: 'doubles',
    shown: [{ input: '1', output: '2' }],
    hidden: [
      { input: '5', output: '10' },
      { input: "'a'", output: "'aa'" },
    ],
  };
  const verdicts = await verifySolutions(ex, [
    ...impostors.map(([, body]) => ({ task, answer: py(body) })),
    { task, answer: py('return x + x') },
  ]);
  assert.deepEqual(verdicts, [...impostors.map(() => false), true]);
});

test('javascript still refuses the same shapes: objects come back as their canonical text', async () => {
  const r = await ex.matches(
    'javascript',
    'function f(x) { return { valueOf() { return 1; }, toString() { return "[1,2,3]"; } }; }',
    '5',
    '[1, 2, 3]',
  );
  assert.ok(!(r.ok && r.equal), JSON.stringify(r));
});

// Programs that reach the runtime. Each one is refused or retires its sandbox; none changes a verdict.
const tampering: [string, string][] = [
  // Frames: the route of the report (a generator's frame, then f_back to the runtime's frames).
  [
    'frames through a generator',
    escaped(
      "def g():\n    yield 1\ngen = g()\nfr = attr(attr(gen, 'gi_frame'), 'f_back')\nfr.f_globals['_value_text'] = lambda v, l: '7'\nreturn 1",
    ),
  ],
  [
    'frames through a traceback',
    escaped(
      "try:\n    1 / 0\nexcept Exception as e:\n    fr = attr(attr(e, D('traceback')), 'tb_frame')\nreturn 1",
    ),
  ],
  ['the runtime serialiser replaced', escaped("runtime['_value_text'] = lambda v, l: '7'\nreturn 1")],
  ['the op table changed in place', escaped("runtime['OPS']['run'] = runtime['OPS']['literal']\nreturn 1")],
  ['a builtin replaced', escaped("attr(bi, D('dict'))['repr'] = lambda v: '7'\nreturn 1")],
  ['a module swapped in sys.modules', escaped("sys.modules['json'] = sys.modules['math']\nreturn 1")],
  [
    "a runtime function's code replaced",
    escaped(
      "setattr = attr(bi, D('dict'))['setattr']\nsetattr(runtime['_plain'], D('code'), attr(lambda v, a, b: None, D('code')))\nreturn 1",
    ),
  ],
  ['a trace function', escaped('sys.settrace(lambda *a: None)\nreturn 1')],
  ['a heap walk', escaped("return len(imp('gc').get_objects())")],
  [
    'a finalizer that tampers later',
    escaped(
      "class Bomb:\n    def __del__(self):\n        runtime['_value_text'] = lambda v, l: '7'\nb = Bomb()\nb.me = b\nreturn 1",
    ),
  ],
];

test('a program that reaches the runtime is refused or retires its sandbox; later verdicts in the same worker stay right', async () => {
  for (const [name, program] of tampering) {
    const r = await ex.run('python', program, '1');
    assert.ok(
      !r.ok || (r.ok && r.output === '1'),
      `${name}: expected a refusal (or a harmless value), got ${JSON.stringify(r)}`,
    );
    if (!r.ok) assert.equal(r.kind, 'banned', `${name}: ${r.message}`);
    // A garbage collection in a later request may run what it left: allocate, then judge honestly.
    await ex.run('python', py('return len([[i] for i in range(5000)])'), '1');
    await honestStillHonest(`after ${name}`);
  }
});
