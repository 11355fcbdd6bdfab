// The golden run: `azr train --preset tiny --iterations 3 --seed 7` must write the same metrics (timing and
// memory fields aside), samples and buffers as the recorded run in test/fixtures/golden-tiny-seed7.json.
// Refactors of the loop must not change what a seeded run does; a change that means to (a new metric, a
// different random stream) regenerates the file with AZR_UPDATE_GOLDEN=1 and says why in its commit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'src', 'cli', 'main.js');
// The fixture lives in the source tree, not in dist/.
const fixture = join(here, '..', '..', '..', 'test', 'fixtures', 'golden-tiny-seed7.json');

/** Fields that measure the machine, not the run. */
const MACHINE_FIELDS = ['timeS', 'iterationS', 'tokensPerS', 'execsPerS', 'phases', 'rssMb'];

const readLines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

function runRecord(dir: string) {
  const metrics = readLines(join(dir, 'metrics.jsonl')).map((r) => {
    for (const f of MACHINE_FIELDS) delete r[f];
    return r;
  });
  const buffers = Object.fromEntries(
    ['deduction', 'abduction', 'induction'].map((t) => [t, readLines(join(dir, 'buffers', `${t}.jsonl`))]),
  );
  return { metrics, samples: readLines(join(dir, 'samples.jsonl')), buffers };
}

/**
 * Deep equality where numbers may differ by float32 rounding (a sum taken in another order, on another CPU
 * or in other chunks: the loss is a sum of terms of size ~1 that cancels to ~1e-8, so its noise is absolute,
 * not relative) but nothing else may: every text, rate and count must match. The path of the first
 * difference is in the message.
 */
function assertSame(got: unknown, want: unknown, path = '$'): void {
  if (typeof want === 'number' && typeof got === 'number') {
    const tol = 1e-6 * Math.max(1, Math.abs(want), Math.abs(got));
    assert.ok(Math.abs(got - want) <= tol, `${path}: got ${got}, golden ${want}`);
    return;
  }
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: got ${JSON.stringify(got)}, golden an array`);
    assert.equal(got.length, want.length, `${path}: length`);
    for (const [i, w] of want.entries()) assertSame(got[i], w, `${path}[${i}]`);
    return;
  }
  if (want !== null && typeof want === 'object') {
    assert.ok(got !== null && typeof got === 'object', `${path}: got ${JSON.stringify(got)}`);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${path}: keys`);
    for (const [k, w] of Object.entries(want))
      assertSame((got as Record<string, unknown>)[k], w, `${path}.${k}`);
    return;
  }
  assert.equal(got, want, path);
}

test('a seeded tiny run writes the golden metrics, samples and buffers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-golden-'));
  try {
    const r = spawnSync(
      process.execPath,
      [cli, 'train', '--preset', 'tiny', '--iterations', '3', '--seed', '7', '--out', join(dir, 'run')],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = runRecord(join(dir, 'run'));
    if (process.env.AZR_UPDATE_GOLDEN === '1') writeFileSync(fixture, `${JSON.stringify(got, null, 1)}\n`);
    assertSame(got, JSON.parse(readFileSync(fixture, 'utf8')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
