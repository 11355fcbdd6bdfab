// The main job end to end through the real CLI: two iterations on the tiny preset, a run killed with
// SIGKILL and resumed (compared with an uninterrupted run of the same seed), and config errors.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readMetricsFile } from '../../src/run/metrics.js';
import { RunDir } from '../../src/run/rundir.js';
import { readTaskFile } from '../../src/tasks/index.js';
import { azr } from './azr-process.js';

const readMetrics = (file: string) => readMetricsFile(file).records;

const root = mkdtempSync(join(tmpdir(), 'azr-e2e-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** The fields of a metrics record that must not depend on timing. */
const deterministic = (dir: string) =>
  readMetrics(new RunDir(dir).metricsPath).map((m) => ({
    iteration: m.iteration,
    loss: m.loss,
    types: Object.fromEntries(
      Object.entries(m.types).map(([t, x]) => [
        t,
        [x.solveRate, x.validRate, x.bufferSize, x.proposerReward, x.rejections],
      ]),
    ),
  }));

test('azr train runs two iterations of the tiny preset and writes the whole run directory', async () => {
  const dir = join(root, 'two');
  const { code, out, err } = await azr([
    'train',
    '--preset',
    'tiny',
    '--out',
    dir,
    '--iterations',
    '2',
    '--seed',
    '3',
  ]).done;
  assert.equal(code, 0, err);
  assert.match(out, /it +1 .*solve ded/);
  assert.match(out, /stopped \(iterations\) after iteration 2/);
  const run = new RunDir(dir);
  const metrics = readMetrics(run.metricsPath);
  assert.deepEqual(
    metrics.map((m) => m.iteration),
    [1, 2],
  );
  for (const m of metrics) {
    assert.deepEqual(Object.keys(m.types).sort(), ['abduction', 'deduction', 'induction']);
    assert.ok(m.tokensPerS > 0 && m.execsPerS > 0);
    assert.ok(Number.isFinite(m.loss));
  }
  const state = run.readState();
  assert.equal(state?.iteration, 2);
  assert.ok(state?.checkpoint && existsSync(join(run.checkpointPath(state.checkpoint), 'model.safetensors')));
  for (const t of ['deduction', 'abduction', 'induction']) {
    const tasks = readTaskFile(run.bufferPath(t));
    assert.equal(tasks[0]?.program, 'def f(a):\n    return a', 'each buffer starts with the identity seed');
    assert.equal(tasks.length, state?.bufferSizes[t]);
  }
  assert.ok(readFileSync(run.samplesPath, 'utf8').trim().split('\n').length >= 6);
  // A second start into the same directory is refused rather than overwriting the run.
  const again = await azr(['train', '--preset', 'tiny', '--out', dir, '--iterations', '1']).done;
  assert.equal(again.code, 2);
  assert.match(again.err, /already holds a run; continue it with --resume/);
});

test('with partial credit, a wrong answer is paid by its closeness: the solver reward adds up from the metrics', async () => {
  const dir = join(root, 'credit');
  const file = join(root, 'credit.json');
  writeFileSync(file, JSON.stringify({ experimental: { partialCredit: 0.5, proposerPartialCredit: 0.5 } }));
  const args = ['train', '--preset', 'tiny', '--config', file, '--out', dir, '--iterations', '1'];
  const { code, err } = await azr([...args, '--seed', '5']).done;
  assert.equal(code, 0, err);
  const [m] = readMetrics(new RunDir(dir).metricsPath);
  for (const [type, x] of Object.entries(m?.types ?? {})) {
    assert.equal(x.solverFormatErrors, 0, 'constrained decoding: every answer parses');
    const closeness = x.closeness;
    assert.ok(closeness !== undefined && closeness >= 0 && closeness <= 1, `${type}: ${closeness}`);
    // Right answers score 1, wrong ones -0.5 + 0.5 * closeness (closeness is the mean over wrong ones).
    const expected = x.solveRate + (1 - x.solveRate) * (-0.5 + 0.5 * closeness);
    assert.ok(Math.abs(x.solverReward - expected) < 1e-9, `${type}: ${x.solverReward} vs ${expected}`);
  }
  assert.ok(
    Object.values(m?.types ?? {}).some((x) => (x.closeness ?? 0) > 0),
    'some wrong answer came partly close',
  );
  // A valid proposal scores its learnability or its rollouts' closeness: never below 0, at most 1.
  for (const [type, x] of Object.entries(m?.types ?? {}))
    assert.ok(x.validProposerReward >= 0 && x.validProposerReward <= 1, `${type}: ${x.validProposerReward}`);
});

test('a run killed with SIGKILL resumes exactly where it stopped: same numbers as an uninterrupted run', async () => {
  const straight = join(root, 'straight');
  const killed = join(root, 'killed');
  const args = ['--preset', 'tiny', '--iterations', '5', '--seed', '11'];
  const s = await azr(['train', ...args, '--out', straight]).done;
  assert.equal(s.code, 0, s.err);

  const first = azr(['train', ...args, '--out', killed]);
  const run = new RunDir(killed);
  // Kill as soon as two iterations are committed (mid-way through the third, most likely). The wait is
  // generous: on a loaded machine the tiny preset's first iterations can take tens of seconds.
  for (let i = 0; i < 3000 && (run.readState()?.iteration ?? 0) < 2; i++)
    await new Promise((r) => setTimeout(r, 100));
  first.child.kill('SIGKILL');
  const k = await first.done;
  assert.equal(k.code, null, 'killed, not finished');
  const at = run.readState()?.iteration ?? 0;
  assert.ok(at >= 2 && at < 5, `killed after iteration ${at}`);

  const resumed = await azr(['train', '--resume', killed]).done;
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, new RegExp(`resuming at iteration ${at}`));
  assert.deepEqual(deterministic(killed), deterministic(straight));
  for (const t of ['deduction', 'abduction', 'induction']) {
    assert.deepEqual(
      readTaskFile(run.bufferPath(t)),
      readTaskFile(new RunDir(straight).bufferPath(t)),
      `${t} buffer`,
    );
  }
});

test('config errors are reported with the field and exit code 2', async () => {
  const bad = join(root, 'bad.yaml');
  writeFileSync(bad, 'selfplay:\n  proposerBatch: -3\nsampling:\n  temperature: hot\n');
  const r = await azr(['train', '--config', bad, '--out', join(root, 'never')]).done;
  assert.equal(r.code, 2);
  assert.match(r.err, /selfplay\.proposerBatch/);
  assert.match(r.err, /sampling\.temperature/);
  assert.equal(existsSync(join(root, 'never')), false, 'nothing is created for a bad config');
  const flags = await azr(['train', '--iterations', 'many']).done;
  assert.equal(flags.code, 2);
  assert.match(flags.err, /--iterations takes a whole number/);
  const resumeMissing = await azr(['train', '--resume', join(root, 'nope')]).done;
  assert.equal(resumeMissing.code, 2);
  assert.match(resumeMissing.err, /no config\.json there/);
});
