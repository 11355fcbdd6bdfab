// The host's reading of Python literals and its equality, against CPython: test/fixtures/python-values.json
// is written by scripts/python-values-reference.py (Python's own repr, ast.literal_eval and ==, with the
// project's bool rule applied by tagging bools before comparing).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  jsonValue,
  type PyValue,
  pythonEqual,
  readPythonValue,
  Unreadable,
} from '../../src/executor/python/value.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(
  readFileSync(join(here, '..', '..', '..', 'test', 'fixtures', 'python-values.json'), 'utf8'),
) as {
  entries: { text: string; source: 'repr' | 'spelling'; literal: boolean; repr?: string; json?: unknown }[];
  equal: number[][];
};

/** The value, or undefined where the reader hands the spelling to the sandbox. */
function read(text: string): PyValue | undefined {
  try {
    return readPythonValue(text);
  } catch (e) {
    if (e instanceof Unreadable) return undefined;
    throw e;
  }
}

test('every repr CPython writes for a plain value is read; other spellings are read or handed on', () => {
  for (const e of fixture.entries) {
    const v = read(e.text);
    if (e.source === 'repr') assert.ok(v, `${e.text} must be readable`);
    if (e.repr !== undefined && !/j\)?$/.test(e.repr))
      assert.ok(read(e.repr), `repr ${e.repr} must be readable`);
  }
  const handed = fixture.entries.filter((e) => read(e.text) === undefined).map((e) => e.text);
  assert.ok(handed.length >= 4 && handed.length <= 8, `handed to the sandbox: ${handed.join(' ')}`);
});

test('equality agrees with Python == under the project rules on every pair read', () => {
  const values = fixture.entries.map((e) => read(e.text));
  let compared = 0;
  values.forEach((a, i) => {
    values.forEach((b, j) => {
      if (!a || !b) return;
      compared++;
      const want = fixture.equal[i]?.[j] === 1;
      const ea = fixture.entries[i]?.text;
      const eb = fixture.entries[j]?.text;
      assert.equal(pythonEqual(a, b), want, `${ea} == ${eb}`);
    });
  });
  assert.ok(compared > 8000, `${compared} pairs`);
});

test('the JSON value is what ExecSuccess.value carried before: plain JSON data or nothing', () => {
  for (const e of fixture.entries) {
    const v = read(e.text);
    if (!v) continue;
    assert.deepEqual(jsonValue(v), e.json, e.text);
  }
});

test('text that is not a literal is refused, not guessed', () => {
  for (const text of [
    '',
    'x',
    'f(1)',
    '1 +',
    '[1, 2',
    "{'a' 1}",
    'None None',
    "'unterminated",
    '__import__("os")',
    '(1, 2))',
  ])
    assert.throws(() => readPythonValue(text), Unreadable, text);
});
