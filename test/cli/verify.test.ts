// `azr verify --cases FILE`: the held-out set's right answers are correct and wrong ones wrong, through
// the loop's own verification; and since the cases share one sandbox per language, a case that reaches
// the runtime (through frames, or past the name checks to the serialiser) cannot make the next case's
// wrong answer right.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTaskFile, type TaskRecord } from '../../src/tasks/index.js';
import { escaped, py } from '../executor/attack.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', '..', 'src', 'cli', 'main.js');
const heldout = readTaskFile(join(here, '..', '..', '..', 'eval', 'heldout.jsonl'));
const dir = mkdtempSync(join(tmpdir(), 'azr-verify-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function verify(cases: unknown[], ...flags: string[]) {
  const file = join(dir, `cases-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, cases.map((c) => `${JSON.stringify(c)}\n`).join(''));
  const r = spawnSync(process.execPath, [MAIN, 'verify', '--cases', file, ...flags], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, stderr: r.stderr, lines };
}

/** The right answer of a held-out record, as the solver's parsed answer. */
const rightAnswer = (r: TaskRecord) =>
  r.type === 'deduction' ? r.output : r.type === 'abduction' ? r.input : r.program;

const wrongAnswer = (r: TaskRecord) =>
  r.type === 'deduction'
    ? '12345'
    : r.type === 'abduction'
      ? '12345'
      : r.lang === 'python'
        ? 'def f(a):\n    return 12345'
        : 'function f(a) { return 12345; }';

test('the held-out tasks: right answers correct, wrong answers wrong, in both languages', () => {
  const sample = heldout.filter((_, i) => i % 3 === 0 || i % 7 === 0);
  const cases = sample.flatMap((task) => [
    { task, answer: rightAnswer(task) },
    { task, answer: wrongAnswer(task) },
  ]);
  const { status, stderr, lines } = verify(cases);
  assert.equal(status, 0, stderr);
  const summary = lines.pop();
  assert.deepEqual(summary, { cases: cases.length, correct: sample.length });
  lines.forEach((l, i) => {
    assert.equal(l.case, i + 1);
    assert.equal(l.correct, i % 2 === 0, JSON.stringify(l));
  });
  assert.ok(new Set(lines.map((l) => `${l.lang}/${l.type}`)).size === 6, 'every language and task type');
});

test('a case that reaches the runtime cannot make a later wrong answer right (one shared sandbox)', () => {
  const induction: TaskRecord = {
    lang: 'python',
    type: 'induction',
    program: py('return x + 1'),
    input: '1',
    output: '2',
    message: 'adds one',
    shown: [{ input: '1', output: '2' }],
    hidden: [
      { input: '6', output: '7' },
      { input: '10', output: '11' },
    ],
  };
  const deduction: TaskRecord = {
    lang: 'python',
    type: 'deduction',
    program: py('return x + 1'),
    input: '1',
    output: '2',
  };
  const honestWrong = { task: induction, answer: py('return 7') };
  const honestRight = { task: induction, answer: py('return x + 1') };
  const cases = [
    // Through frames: a generator's frame, then up to the runtime's globals.
    {
      task: induction,
      answer: escaped(
        "def g():\n    yield 1\ngen = g()\nfr = attr(attr(gen, 'gi_frame'), 'f_back')\nfr.f_globals['_value_text'] = lambda v, l: '7'\nreturn 7",
      ),
    },
    honestWrong,
    { task: deduction, answer: '3' },
    // Past the name checks to the runtime's serialiser, and to its op table.
    { task: induction, answer: escaped("runtime['_value_text'] = lambda v, l: '7'\nreturn x + 1") },
    honestWrong,
    { task: induction, answer: escaped("runtime['OPS']['run'] = runtime['OPS']['literal']\nreturn x + 1") },
    honestWrong,
    // An object equal to everything.
    { task: induction, answer: py('class E:\n    def __eq__(self, o):\n        return True\nreturn E()') },
    honestWrong,
    { task: deduction, answer: '3' },
    honestRight,
    { task: deduction, answer: '2' },
  ];
  const { status, stderr, lines } = verify(cases);
  assert.equal(status, 0, stderr);
  const summary = lines.pop();
  assert.deepEqual(summary, { cases: cases.length, correct: 2 });
  assert.deepEqual(
    lines.map((l) => l.correct),
    [false, false, false, false, false, false, false, false, false, false, true, true],
  );
  assert.equal(lines[0]?.kind, 'banned', JSON.stringify(lines[0]));
  assert.equal(lines[3]?.kind, 'banned', JSON.stringify(lines[3]));
  assert.equal(lines[7]?.kind, 'not_a_value', JSON.stringify(lines[7]));
  assert.equal(lines[1]?.kind, undefined, 'an honest wrong answer runs: it is wrong, not refused');
});

test('usage and file errors', () => {
  const none = spawnSync(process.execPath, [MAIN, 'verify'], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--cases FILE is required/);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ task: { lang: 'python' }, answer: '1' })}\n`);
  const r = spawnSync(process.execPath, [MAIN, 'verify', '--cases', bad], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.jsonl:1: task: not a task/);
});
