import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { appendJsonl, readJsonl, truncateJsonl } from '../../src/util/jsonl.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-jsonl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('records round-trip and a missing file reads as empty', () => {
  const file = join(dir, 'a.jsonl');
  assert.deepEqual(readJsonl(file).records, []);
  appendJsonl(file, [{ a: 1 }, { a: 'x\ny' }]);
  appendJsonl(file, [{ a: [1, 2] }], true);
  const r = readJsonl(file);
  assert.deepEqual(r.records, [{ a: 1 }, { a: 'x\ny' }, { a: [1, 2] }]);
  assert.equal(r.torn, false);
});

test('a torn last line (kill -9 mid-write) is ignored by readers and cut by truncate', () => {
  const file = join(dir, 'b.jsonl');
  appendJsonl(file, [{ iteration: 1 }, { iteration: 2 }]);
  appendFileSync(file, '{"iteration": 3, "val');
  const r = readJsonl(file);
  assert.deepEqual(r.records, [{ iteration: 1 }, { iteration: 2 }]);
  assert.equal(r.torn, true);
  const kept = truncateJsonl<{ iteration: number }>(file, () => true);
  assert.equal(kept.length, 2);
  assert.equal(readFileSync(file, 'utf8'), '{"iteration":1}\n{"iteration":2}\n');
});

test('truncate drops the records of uncommitted iterations', () => {
  const file = join(dir, 'c.jsonl');
  appendJsonl(
    file,
    [1, 1, 2, 3, 3].map((iteration) => ({ iteration })),
  );
  truncateJsonl<{ iteration: number }>(file, (r) => r.iteration <= 2);
  assert.deepEqual(
    readJsonl<{ iteration: number }>(file).records.map((r) => r.iteration),
    [1, 1, 2],
  );
});

test('a corrupt line is reported with file and line number', () => {
  const file = join(dir, 'd.jsonl');
  writeFileSync(file, '{"ok":1}\nnot json\n');
  assert.throws(() => readJsonl(file), /d\.jsonl:2: not JSON/);
  assert.throws(
    () =>
      readJsonl(file, (v) => {
        throw new Error(`bad ${JSON.stringify(v)}`);
      }),
    /d\.jsonl:1: bad/,
  );
});
