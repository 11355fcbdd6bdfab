import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  fromTaskRecord,
  identityTask,
  readTaskFile,
  type Task,
  toTaskRecord,
  writeTaskFile,
} from '../../src/tasks/index.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-dataset-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the held-out set reads: 174 tasks, both languages, all three types, induction with hidden pairs', () => {
  const heldout = readTaskFile(join(root, 'eval', 'heldout.jsonl'));
  assert.equal(heldout.length, 174);
  for (const lang of ['python', 'javascript'])
    for (const type of ['deduction', 'abduction', 'induction'])
      assert.equal(heldout.filter((t) => t.lang === lang && t.type === type).length, 29, `${lang} ${type}`);
  const ind = heldout.filter((t) => t.type === 'induction');
  assert.ok(ind.every((t) => (t.hidden?.length ?? 0) > 0 && (t.shown?.length ?? 0) > 0 && t.message));
  assert.ok(heldout.every((t) => t.id && t.difficulty !== undefined));
  // Records become tasks and back without change.
  for (const r of heldout) assert.deepEqual(toTaskRecord(fromTaskRecord(r)), r);
});

test('round trip: tasks with unicode and every optional field', () => {
  const tasks: Task[] = [
    identityTask('induction', 'javascript'),
    {
      ...identityTask('deduction', 'python'),
      input: "'h\u00e9llo \u{1F600}'",
      output: "'\u4e16'",
      id: 'u1',
      difficulty: 3,
    },
  ];
  const file = join(dir, 'round.jsonl');
  const recs = tasks.map((t, i) => toTaskRecord(t, { iteration: i, solveRate: 0.25 }));
  writeTaskFile(file, recs);
  assert.deepEqual(readTaskFile(file), recs);
  assert.deepEqual(readTaskFile(file).map(fromTaskRecord), tasks);
  assert.deepEqual(readFileSync(file, 'utf8').split('\n').length, 3, 'one line a task, newline-terminated');
});

test('bad files give errors that name the line', () => {
  const file = join(dir, 'bad.jsonl');
  const good = JSON.stringify(toTaskRecord(identityTask('deduction', 'python')));
  const cases: [string, RegExp][] = [
    [
      `${good}\n{"lang": "cobol", "type": "deduction", "program": "x", "input": "", "output": ""}\n`,
      /bad\.jsonl:2: not a task: lang/,
    ],
    [`${good}\n\n{oops\n${good}\n`, /bad\.jsonl:3: not JSON/],
    [
      `{"lang": "python", "type": "induction", "program": "p", "input": "1", "output": "1"}\n`,
      /bad\.jsonl:1: not a task: .*induction task needs/,
    ],
    [
      `{"lang": "python", "type": "deduction", "program": "p", "input": "1"}\n`,
      /bad\.jsonl:1: not a task: output/,
    ],
    [
      `{"lang": "python", "type": "deduction", "program": "p", "input": "1", "output": "1", "extra": 1}\n`,
      /bad\.jsonl:1: not a task: .*extra/,
    ],
    [
      `${JSON.stringify({ ...JSON.parse(good), id: 'a' })}\n${JSON.stringify({ ...JSON.parse(good), id: 'a' })}\n`,
      /id 'a' is used by record 1 and record 2/,
    ],
    [
      `${good}\n{"lang": "python", "type": "deduction", "program": "", "input": "1", "output": "1"}`,
      /bad\.jsonl:2: not a task: program/,
    ],
  ];
  for (const [text, want] of cases) {
    writeFileSync(file, text);
    assert.throws(() => readTaskFile(file), want, text.slice(0, 60));
  }
  assert.throws(() => writeTaskFile(file, [{ lang: 'python' } as never]), /record 1: not a task/);
});

test('a last line without its newline is read when complete, ignored when torn', () => {
  const file = join(dir, 'tail.jsonl');
  const good = JSON.stringify(toTaskRecord(identityTask('abduction', 'python')));
  writeFileSync(file, `${good}\n${good}`);
  assert.equal(readTaskFile(file).length, 2, 'a hand-written file without a final newline');
  writeFileSync(file, good);
  appendFileSync(file, `\n${good.slice(0, 20)}`);
  assert.equal(readTaskFile(file).length, 1, 'a write cut short');
  assert.throws(() => readTaskFile(join(dir, 'missing.jsonl')), /missing\.jsonl: no such task file/);
});
