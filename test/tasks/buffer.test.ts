import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  identityTask,
  readTaskFile,
  sampleWithoutReplacement,
  type Task,
  TaskBuffer,
  toTaskRecord,
} from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-buffer-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const task = (n: number): Task => ({
  type: 'deduction',
  lang: 'python',
  program: `def f(x):\n    return x + ${n}`,
  input: '1',
  output: String(1 + n),
});
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

test('a new buffer holds only the identity task, in each language and type', () => {
  for (const lang of ['python', 'javascript'] as const) {
    for (const type of ['deduction', 'abduction', 'induction'] as const) {
      const file = join(dir, `seed-${lang}-${type}.jsonl`);
      const b = TaskBuffer.open(file, type, lang);
      assert.equal(b.size, 1);
      assert.deepEqual(b.all()[0], identityTask(type, lang));
      assert.equal(lines(file).length, 1, 'the seed is on disk too');
      assert.equal(TaskBuffer.open(file, type, lang).size, 1, 'reopening does not seed again');
    }
  }
  assert.equal(identityTask('deduction', 'python').program, 'def f(a):\n    return a');
  assert.equal(identityTask('deduction', 'javascript').input, '"Hello World"');
});

test('persistence: appends, dedup, torn-line recovery, truncation to a committed size', () => {
  const file = join(dir, 'deduction.jsonl');
  const b = TaskBuffer.open(file, 'deduction', 'python');
  assert.equal(b.addAll([task(1), task(2), task(1)], 1), 2, 'a batch cannot add a task twice');
  assert.equal(b.add(task(3), 2), true);
  assert.equal(
    b.add({ ...task(3), program: `${task(3).program}  # same\n` }, 2),
    false,
    'cosmetic variants are duplicates',
  );
  assert.equal(b.has(task(2)), true);
  assert.equal(b.size, 4);
  assert.throws(() => b.add({ ...task(4), type: 'abduction' }, 3), /abduction task cannot go into/);
  // A kill mid-write leaves a torn last line: ignored on open and cut from the file.
  appendFileSync(file, '{"lang":"python","type":"dedu');
  const reopened = TaskBuffer.open(file, 'deduction', 'python');
  assert.equal(reopened.size, 4);
  assert.deepEqual(reopened.all(), b.all());
  assert.ok(readFileSync(file, 'utf8').endsWith('}\n'), 'torn tail cut from the file');
  reopened.add(task(5), 3);
  assert.equal(lines(file).length, 5, 'appending after recovery starts on a fresh line');
  // Resume after an uncommitted iteration: keep the first 3 records only, on disk as well.
  const committed = TaskBuffer.open(file, 'deduction', 'python', 3);
  assert.equal(committed.size, 3);
  assert.equal(lines(file).length, 3);
  assert.equal(committed.has(task(3)), false);
  assert.equal(TaskBuffer.open(file, 'deduction', 'python').size, 3);
  assert.equal(TaskBuffer.open(file, 'deduction', 'python', 99).size, 3, 'keep beyond the end keeps all');
  assert.throws(() => TaskBuffer.open(file, 'deduction', 'python', -1), RangeError);
  // Records remember their iteration.
  assert.deepEqual(
    committed.toRecords().map((r) => r.iteration),
    [0, 1, 1],
  );
});

test('a record of another language or type is a readable error naming the line', () => {
  const file = join(dir, 'mixed.jsonl');
  writeFileSync(
    file,
    [toTaskRecord(task(1)), toTaskRecord({ ...task(2), lang: 'javascript' })]
      .map((r) => `${JSON.stringify(r)}\n`)
      .join(''),
  );
  assert.throws(
    () => TaskBuffer.open(file, 'deduction', 'python'),
    /mixed\.jsonl:2: a javascript deduction task in the python deduction buffer/,
  );
  writeFileSync(file, '{"not": "a task"}\n');
  assert.throws(() => TaskBuffer.open(file, 'deduction', 'python'), /mixed\.jsonl:1: not a task/);
});

test('drawing references is a function of the seed, without repeats, at most the whole pool', () => {
  const file = join(dir, 'sample.jsonl');
  const b = TaskBuffer.open(file, 'deduction', 'python');
  b.addAll([1, 2, 3, 4, 5, 6, 7].map(task), 1);
  const d = sampleWithoutReplacement(new Rng(9), b.all(), 6).map((t) => t.program);
  assert.equal(new Set(d).size, 6);
  assert.deepEqual(
    d,
    sampleWithoutReplacement(new Rng(9), TaskBuffer.open(file, 'deduction', 'python').all(), 6).map(
      (t) => t.program,
    ),
    'a reopened buffer holds its tasks in the same order, so the same seed draws the same tasks',
  );
  assert.equal(sampleWithoutReplacement(new Rng(1), b.all(), 100).length, 8, 'at most the whole buffer');
  // Without replacement over any pool: every item equally likely to be drawn.
  const counts = new Map<number, number>();
  const rng = new Rng(3);
  for (let i = 0; i < 4000; i++) {
    const pick = sampleWithoutReplacement(rng, [0, 1, 2, 3, 4], 2);
    assert.notEqual(pick[0], pick[1]);
    for (const x of pick) counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  for (const x of [0, 1, 2, 3, 4])
    assert.ok(Math.abs((counts.get(x) ?? 0) - 1600) < 150, `${x}: ${counts.get(x)}`);
  assert.deepEqual(sampleWithoutReplacement(rng, [], 3), []);
});

test('export: the buffer as a dataset file that reads back', () => {
  const b = TaskBuffer.open(join(dir, 'export-src.jsonl'), 'induction', 'javascript');
  const out = join(dir, 'export.jsonl');
  b.exportTo(out);
  const back = readTaskFile(out);
  assert.deepEqual(back, b.toRecords());
  assert.equal(back[0]?.type, 'induction');
  assert.deepEqual(back[0]?.hidden, identityTask('induction', 'javascript').hidden);
});

test('a process killed with SIGKILL while appending loses nothing it finished writing', async () => {
  const file = join(dir, 'killed.jsonl');
  const moduleUrl = new URL('../../src/tasks/index.js', import.meta.url).href;
  const child = `
    import { TaskBuffer } from ${JSON.stringify(moduleUrl)};
    const b = TaskBuffer.open(${JSON.stringify(file)}, 'deduction', 'python');
    for (let i = 0; ; i++) {
      const batch = Array.from({ length: 5 }, (_, k) => ({
        type: 'deduction', lang: 'python', program: 'def f(x):\\n    return x * ' + (i * 5 + k), input: '1', output: '0',
      }));
      b.addAll(batch, i + 1);
      process.stdout.write(i + '\\n');
    }
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let reported = -1;
  await new Promise<void>((resolve) => {
    let text = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const done = text.split('\n').filter((l) => l !== '');
      reported = Number(done[done.length - 1]);
      if (reported >= 200 && !proc.killed) proc.kill('SIGKILL');
    });
    proc.on('exit', () => resolve());
  });
  assert.ok(reported >= 200);
  const b = TaskBuffer.open(file, 'deduction', 'python');
  // The seed plus every batch the child reported as written (it may have finished a few more).
  assert.ok(b.size >= 1 + 5 * (reported + 1), `${b.size} records, ${reported + 1} batches reported`);
  assert.equal((b.size - 1) % 5, 0, 'a batch is one write: all of it or none of it');
  assert.equal(lines(file).length, b.size);
  assert.ok(readFileSync(file, 'utf8').endsWith('\n'));
});
