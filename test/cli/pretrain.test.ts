// `azr pretrain` as a user runs it: plain progress lines without a terminal, and a run killed with
// SIGKILL at an arbitrary moment resumes to the same losses and weights as a run never stopped.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parsePretrainArgs } from '../../src/cli/pretrain.js';
import { readSafetensors } from '../../src/model/checkpoint.js';
import { readPretrainState } from '../../src/model/pretrain.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-pretrain-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const corpus = join(dir, 'corpus');
mkdirSync(corpus);
for (let i = 0; i < 30; i++) {
  const body = Array.from({ length: 6 }, (_, j) => `def h${j}(a):\n    return a * ${i + j} + ${j}\n`).join(
    '\n',
  );
  writeFileSync(join(corpus, `f${i}.py`), `# file ${i}\n${body}`);
}

const common = (out: string) => [
  main,
  'pretrain',
  '--corpus',
  corpus,
  '--model',
  'tiny',
  '--context',
  '32',
  '--batch',
  '4',
  '--steps',
  '40',
  '--warmup',
  '2',
  '--save-every',
  '3',
  '--eval-every',
  '20',
  '--val-tokens',
  '128',
  '--val-fraction',
  '0.1',
  '--log-every',
  '1',
  '--threads',
  '1',
  '--out',
  out,
];

const stepLosses = (out: string) =>
  readFileSync(join(out, 'pretrain.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"kind":"step"'))
    .map((l) => (JSON.parse(l) as { step: number; loss: number }).loss);

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? null : code)));

test('SIGKILL mid-run, then --resume: the same losses and weights as an uninterrupted run', async () => {
  const whole = join(dir, 'whole');
  const w = spawnSync(process.execPath, common(whole), { encoding: 'utf8' });
  assert.equal(w.status, 0, w.stderr);
  // Without a terminal: one plain line per step report and per validation, no carriage returns.
  assert.match(w.stdout, /^corpus: .*: \d+ training documents/m);
  assert.match(w.stdout, /^validation at step 0: \d+\.\d+ bits per byte/m);
  assert.match(w.stdout, /^step 7\/40 \| loss \d+\.\d+ \(\d+\.\d+ bpb\) \| lr .* tok\/s .*ETA/m);
  assert.match(w.stdout, /^validation at step 40: /m);
  assert.match(w.stdout, /^done at step 40 .*validation \d+\.\d+ -> \d+\.\d+ bits per byte/m);
  assert.ok(!w.stdout.includes('\r'));
  const want = stepLosses(whole);
  assert.equal(want.length, 40);

  const killed = join(dir, 'killed');
  const child = spawn(process.execPath, common(killed), { stdio: 'ignore' });
  const done = exited(child);
  // Kill once a few steps past the first periodic checkpoint are in the log: a moment that usually falls
  // between two checkpoints, so the resume must drop logged steps and redo them.
  const log = join(killed, 'pretrain.jsonl');
  const target = 8 + Math.floor(Math.random() * 8);
  for (;;) {
    if (existsSync(log) && stepLosses(killed).length >= target) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  assert.equal(await done, null, 'the child was killed, not finished');
  const at = readPretrainState(killed);
  assert.ok(at && at.tokens < 40 * 4 * 32, 'the checkpoint is mid-run');
  const r = spawnSync(
    process.execPath,
    [main, 'pretrain', '--resume', killed, '--threads', '1', '--log-every', '1'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(stepLosses(killed), want);
  const a = readSafetensors(join(whole, 'model.safetensors')).tensors;
  const b = readSafetensors(join(killed, 'model.safetensors')).tensors;
  assert.equal(a.size, b.size);
  for (const [name, t] of a) assert.deepEqual(b.get(name)?.data, t.data, name);
  // The directory is a checkpoint of the built-in policy: config.json describes it as `azr train` does.
  const config = JSON.parse(readFileSync(join(killed, 'config.json'), 'utf8'));
  assert.equal(config.step, 40);
  assert.equal(config.model.contextLength, 32);
});

test('flags: a resumed run keeps its settings; bad values are usage errors', () => {
  assert.throws(
    () => parsePretrainArgs(['--resume', 'x', '--model', 'tiny']),
    /cannot be combined with --resume/,
  );
  assert.throws(
    () => parsePretrainArgs(['--model', 'huge']),
    /--model takes one of tiny, small, medium, large/,
  );
  assert.throws(() => parsePretrainArgs(['--val-fraction', '1']), /--val-fraction/);
  const fresh = parsePretrainArgs(['--minutes', '5', '--out', 'o']);
  assert.ok('fresh' in fresh.start);
  assert.equal(fresh.start.fresh.steps, null, 'a time budget alone sets no step budget');
  assert.equal(fresh.start.fresh.preset, 'small');
  assert.equal(fresh.start.fresh.context, 512);
  const epoch = parsePretrainArgs([]);
  assert.ok('fresh' in epoch.start && epoch.start.fresh.steps === 'epoch');
  assert.deepEqual(parsePretrainArgs(['--resume', 'x', '--steps', '9']).start, { resume: true, steps: 9 });
  const bad = spawnSync(process.execPath, [main, 'pretrain', '--resume', join(dir, 'nothing-here')], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no pretraining checkpoint there/);
});
