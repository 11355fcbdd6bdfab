// Skeletons: a program's normal form with its constants blanked, so near-copies (another number, another
// string) share one, while names of variables, attributes and builtins are kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distinctCount, distinctShare, skeletonOf } from '../../src/tasks/index.js';

test('skeletonOf blanks numbers and strings, and only them', () => {
  assert.equal(skeletonOf('def f(v0):\n    return v0 * 2 + 3.5e-3'), 'def f(v0):\n    return v0 * 0 + 0');
  assert.equal(
    skeletonOf('def f(v0):\n    return v0 * 3 + 1'),
    skeletonOf('def f(v0):\n    return v0 * 2 + 7'),
  );
  assert.equal(
    skeletonOf("def f(v0, v1):\n    return v0[::-1] + 'ab\\'c' + \"x\""),
    "def f(v0, v1):\n    return v0[::-0] + '' + ''",
  );
  // Digits inside names (v10, the normal form's own) and after a dot (an attribute) are not constants.
  assert.equal(skeletonOf('def f(v10):\n    return v10.x2'), 'def f(v10):\n    return v10.x2');
  assert.equal(
    skeletonOf('function f(v0){return v0.length*12+"q";}'),
    "function f(v0){return v0.length*0+'';}",
  );
  assert.notEqual(skeletonOf('def f(v0):\n    return len(v0)'), skeletonOf('def f(v0):\n    return sum(v0)'));
});

test('distinct shares count a program with no normal form as its own', () => {
  assert.equal(distinctCount(['a', 'a', 'b', undefined, undefined]), 4);
  assert.equal(distinctShare(['a', 'a', 'b', 'b']), 0.5);
  assert.equal(distinctShare([]), undefined);
});
