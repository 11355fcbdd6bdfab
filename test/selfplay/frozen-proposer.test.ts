// The control arm (issue 33's F): `azr train --frozen-proposer --seed-tasks FILE` proposes nothing and
// trains the solver on the seed tasks alone: no proposer sample, no new task in the buffers, and solver
// attempts on the seeds every iteration. Without seeds it refuses to start.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readMetricsFile } from '../../src/run/metrics.js';
import { identityTask, toTaskRecord } from '../../src/tasks/index.js';
import type { Task } from '../../src/tasks/types.js';
import { azr } from './azr-process.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-frozen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const readLines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

test('a frozen proposer trains the solver on the seed tasks and adds none', async () => {
  const seeds: Task[] = [
    ...[2, 3, 4].map((k) => ({
      type: 'deduction' as const,
      lang: 'python' as const,
      program: `def f(a):\n    return a * ${k}`,
      input: '5',
      output: String(5 * k),
    })),
    ...[1, 7].map((k) => ({
      type: 'abduction' as const,
      lang: 'python' as const,
      program: `def f(a):\n    return a + ${k}`,
      input: '2',
      output: String(2 + k),
    })),
  ];
  const file = join(dir, 'seeds.jsonl');
  writeFileSync(file, seeds.map((t) => `${JSON.stringify(toTaskRecord(t))}\n`).join(''));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ selfplay: { taskTypes: ['deduction', 'abduction'] }, samplesPerIteration: 50 }),
  );
  const out = join(dir, 'run');
  const common = ['train', '--preset', 'tiny', '--config', config, '--iterations', '2', '--seed', '5'];
  const run = await azr([...common, '--frozen-proposer', '--seed-tasks', file, '--out', out]).done;
  assert.equal(run.code, 0, run.err);

  const programs = new Set([...seeds, identityTask('deduction', 'python')].map((t) => t.program));
  const samples = readLines(join(out, 'samples.jsonl'));
  assert.ok(samples.length > 0);
  for (const s of samples) {
    assert.equal(s.role, 'solver', 'a proposer sample was written');
    assert.ok(programs.has(s.program as string), `a task that is not a seed: ${JSON.stringify(s.program)}`);
  }
  for (const type of ['deduction', 'abduction']) {
    const held = readLines(join(out, 'buffers', `${type}.jsonl`)).map((r) => r.program as string);
    assert.equal(held.length, 1 + seeds.filter((t) => t.type === type).length, `${type}: the buffer grew`);
  }
  const metrics = readMetricsFile(join(out, 'metrics.jsonl')).records.filter((m) => m.iteration >= 1);
  assert.equal(metrics.length, 2);
  for (const m of metrics)
    for (const type of ['deduction', 'abduction'] as const) {
      assert.equal(m.types[type]?.proposerTokens, 0);
      assert.ok((m.types[type]?.solverTokens ?? 0) > 0);
    }

  const refused = await azr([...common, '--frozen-proposer', '--out', join(dir, 'none')]).done;
  assert.equal(refused.code, 2);
  assert.match(refused.err, /frozen proposer .* --seed-tasks FILE or --seed-factor S/);
});
