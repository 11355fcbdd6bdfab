import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeInput, normalizeProgram, taskKey } from '../../src/tasks/index.js';

test('python: comments, blank lines, spacing and indentation width do not change the key', () => {
  const a = 'def f(x):\n    y = x + 1\n    for i in range(3):\n        y = y * 2\n    return y';
  const same = [
    'def f(x):  # doubles\n\n    y=x+1\n    for i in range( 3 ):\n        y = y*2   \n    return y\n',
    'def f(x):\n  y = x + 1\n  for i in range(3):\n    y = y * 2\n  return y',
    'def f(x):\r\n\ty = x + 1\r\n\tfor i in range(3):\r\n\t\ty = y * 2\r\n\treturn y',
    'def f(x):\n    y = x + \\\n        1\n    for i in range(3):\n        y = y * 2\n    return y',
  ];
  for (const b of same) assert.equal(normalizeProgram('python', b), normalizeProgram('python', a), b);
  assert.equal(taskKey('python', a, '1'), taskKey('python', same[0] as string, ' 1 '));
});

test('python: real differences keep different keys', () => {
  const key = (p: string) => normalizeProgram('python', p);
  const a = 'def f(x):\n    y = x\n    for i in range(3):\n        y = y * 2\n    return y';
  const dedented = 'def f(x):\n    y = x\n    for i in range(3):\n        y = y * 2\n        return y';
  assert.notEqual(key(a), key(dedented), 'moving a line into the loop changes the program');
  assert.notEqual(key("def f(x):\n    return x + 'a b'"), key("def f(x):\n    return x + 'ab'"));
  assert.notEqual(key("def f(x):\n    return '#' + x"), key("def f(x):\n    return ''"), '# inside a string');
  assert.equal(key("def f(x):\n    return '#' + x  # c"), "def f(x):\n return'#'+x");
  assert.notEqual(key('def f(x):\n    return not x'), key('def f(x):\n    return notx'));
  assert.notEqual(key('def f(x):\n    return x\n'), key('def f(y):\n    return y\n'));
  // Triple-quoted strings keep their inner lines and spaces.
  assert.equal(
    key('def f(x):\n    s = """a  #b\n  c"""\n    return s'),
    'def f(x):\n s="""a  #b\n  c"""\n return s',
  );
  // String prefixes and escaped quotes.
  assert.equal(
    key("def f(x):\n    return r'\\'  #' + f\"{x} \"  # c"),
    "def f(x):\n return r'\\'  #'+f\"{x} \"",
  );
});

test('javascript: comments and spacing go, strings and templates stay', () => {
  const key = (p: string) => normalizeProgram('javascript', p);
  const a = 'function f(x) {\n  return x + 1;\n}';
  assert.equal(key('function f( x ){ // c\n    return x+1; /* d\n e */\n}\n'), key(a));
  assert.equal(
    key(`function f(x) {\n  return "a // b" + \`c /* \${x} */\`;\n}`),
    `function f(x){\nreturn"a // b"+\`c /* \${x} */\`;\n}`,
  );
  assert.notEqual(key('function f(x) {\n  return "a b";\n}'), key('function f(x) {\n  return "ab";\n}'));
});

test('inputs: spacing outside literals is cosmetic, inside it is not', () => {
  assert.equal(normalizeInput('python', "[1, 2], 'a b'"), normalizeInput('python', "[1,2],'a b'"));
  assert.equal(normalizeInput('python', "{'k': [1,\n 2]}"), "{'k':[1,2]}");
  assert.notEqual(normalizeInput('python', "'a b'"), normalizeInput('python', "'ab'"));
  assert.equal(normalizeInput('javascript', '{ "a" : 1 }'), '{"a":1}');
  // Lists of inputs (induction) are keyed element by element.
  assert.notEqual(taskKey('python', 'p', ["'a', 'b'"]), taskKey('python', 'p', ["'a'", "'b'"]));
  assert.equal(taskKey('python', 'p', ['1', '2']), taskKey('python', 'p', [' 1', '2 ']));
  assert.notEqual(taskKey('python', 'p', '1'), taskKey('javascript', 'p', '1'));
});
