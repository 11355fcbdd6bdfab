// `azr train --init BASE`: self-play starts from a pretrained base's weights with a fresh optimizer, and the
// run's config.json records the base and its SHA-256. A base of another shape is refused with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTrainArgs } from '../../src/cli/train.js';
import { constraintFor } from '../../src/grammar/index.js';
import { readSafetensors } from '../../src/model/checkpoint.js';
import { initBuiltinPolicy, modelConfigFor } from '../../src/policy/builtin.js';
import { PRESETS } from '../../src/run/config.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-train-init-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const azr = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

const corpus = join(dir, 'corpus');
mkdirSync(corpus);
for (let i = 0; i < 12; i++)
  writeFileSync(join(corpus, `m${i}.py`), `def f(a):\n    return a + ${i}\n`.repeat(8));

/** A few pretraining steps of the tiny model at `context`. */
function pretrain(out: string, context: number): void {
  const r = azr([
    ...['pretrain', '--corpus', corpus, '--model', 'tiny', '--context', String(context)],
    ...['--batch', '2', '--steps', '3', '--warmup', '1', '--eval-every', '3', '--out', out, '--threads', '1'],
  ]);
  assert.equal(r.status, 0, r.stderr);
}

test('a base of the run’s shape starts self-play: its weights, zero moments, step 0, recorded with its hash', async () => {
  const base = join(dir, 'base');
  pretrain(base, PRESETS.tiny.model.contextLength);
  const baseFile = join(base, 'model.safetensors');
  const sha = createHash('sha256').update(readFileSync(baseFile)).digest('hex');

  const inv = parseTrainArgs(['--preset', 'tiny', '--init', base, '--out', join(dir, 'run')]);
  assert.equal(inv.config.model.init, base);
  assert.equal(inv.config.model.initSha256, sha);
  assert.equal(parseTrainArgs(['--preset', 'tiny', '--init', 'none']).config.model.init, null);

  // The policy starts with the base's weights and nothing of its optimizer.
  const c = inv.config;
  const policy = await initBuiltinPolicy(
    base,
    modelConfigFor(c.model.preset, c.model.contextLength),
    { seed: c.seed, optimizer: c.optimizer },
    { threads: 1, constraints: constraintFor },
  );
  const saved = join(dir, 'start');
  await policy.save(saved);
  await policy.close();
  const want = readSafetensors(baseFile);
  const got = readSafetensors(join(saved, 'model.safetensors'));
  assert.equal(got.metadata.step, '0');
  let weights = 0;
  for (const [name, t] of got.tensors) {
    if (name.startsWith('adam.')) {
      assert.ok(
        t.data.every((x) => x === 0),
        `${name} starts at zero`,
      );
      continue;
    }
    assert.deepEqual(t.data, want.tensors.get(name)?.data, name);
    weights++;
  }
  assert.ok(weights > 0);

  // The whole command: one iteration from the base, and the record in config.json.
  const run = join(dir, 'run');
  const r = azr(['train', '--preset', 'tiny', '--init', base, '--iterations', '1', '--out', run]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`base ${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const recorded = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  assert.deepEqual([recorded.model.init, recorded.model.initSha256], [base, sha]);
});

test('a base of another shape, or a missing one, is refused with the reason', () => {
  const other = join(dir, 'other');
  pretrain(other, 64);
  const r = azr([
    'train',
    '--preset',
    'tiny',
    '--init',
    other,
    '--iterations',
    '1',
    '--out',
    join(dir, 'bad'),
  ]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /the base model is .*contextLength.*64.*the run's model is/);
  const missing = azr(['train', '--preset', 'tiny', '--init', join(dir, 'nowhere'), '--out', join(dir, 'x')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--init .*nowhere: no .*model\.safetensors/);
});
