import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTrainArgs } from '../../src/cli/train.js';
import { ConfigError, PRESETS, resolveConfig, validateConfig } from '../../src/run/config.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-config-'));

test('every preset is a valid config', () => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    assert.doesNotThrow(() => validateConfig(preset, name), name);
  }
});

test('a YAML file overrides the preset field by field', () => {
  const file = join(dir, 'small.yaml');
  writeFileSync(file, 'seed: 7\nselfplay:\n  proposerBatch: 3\n');
  const c = resolveConfig({ preset: 'tiny', file });
  assert.equal(c.seed, 7);
  assert.equal(c.selfplay.proposerBatch, 3);
  assert.equal(
    c.selfplay.solverBatch,
    PRESETS.tiny.selfplay.solverBatch,
    'untouched fields keep the preset value',
  );
});

test('a wrong field is a readable error naming the field', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ selfplay: { proposerBatch: -1 }, sampling: { temperature: 'hot' } }));
  assert.throws(
    () => resolveConfig({ file }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /selfplay\.proposerBatch/.test(e.message) &&
      /sampling\.temperature/.test(e.message) &&
      e.message.includes(file),
  );
});

test('partial credit is a share in [0, 1], and a config from before it resumes without it', () => {
  const file = join(dir, 'credit.json');
  writeFileSync(file, JSON.stringify({ selfplay: { partialCredit: 1.5 } }));
  assert.throws(
    () => resolveConfig({ preset: 'tiny', file }),
    (e: unknown) => e instanceof ConfigError && /selfplay\.partialCredit/.test(e.message),
  );
  const old = structuredClone(PRESETS.tiny) as { selfplay: Record<string, unknown> };
  delete old.selfplay.partialCredit;
  assert.equal(validateConfig(old, 'old run').selfplay.partialCredit, 0);
});

test('an unknown field is refused rather than silently ignored', () => {
  const file = join(dir, 'typo.json');
  writeFileSync(file, JSON.stringify({ selfplay: { proposerBatchh: 4 } }));
  assert.throws(() => resolveConfig({ file }), /proposerBatchh|Unrecognized key/);
});

test('a config file that does not parse says so', () => {
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, 'seed: [1, 2\n');
  assert.throws(() => resolveConfig({ file }), /does not parse/);
});

test('a run without any budget is refused', () => {
  assert.throws(() => validateConfig({ ...PRESETS.default, iterations: null, minutes: null }), /must end/);
});

test('train flags: one budget on the command line replaces the preset budget', () => {
  const inv = parseTrainArgs([
    '--preset',
    'default',
    '--iterations',
    '5',
    '--seed',
    '3',
    '--lang',
    'javascript',
  ]);
  assert.equal(inv.config.iterations, 5);
  assert.equal(inv.config.minutes, null);
  assert.equal(inv.config.seed, 3);
  assert.equal(inv.config.lang, 'javascript');
  assert.equal(inv.resume, false);
});

test('train flags: bad values are usage errors', () => {
  assert.throws(() => parseTrainArgs(['--iterations', 'ten']), /--iterations takes a whole number/);
  assert.throws(() => parseTrainArgs(['--lang', 'cobol']), /--lang takes python or javascript/);
  assert.throws(() => parseTrainArgs(['--preset', 'huge']), /unknown preset 'huge'/);
  assert.throws(() => parseTrainArgs(['--frobnicate']), /Unknown option/);
  // A dash-led value: the error says how to pass it, on one line.
  assert.throws(
    () => parseTrainArgs(['--seed', '-1']),
    (e: unknown) =>
      e instanceof Error &&
      /ambiguous/.test(e.message) &&
      /--seed=-XYZ/.test(e.message) &&
      !e.message.includes('\n'),
  );
  assert.throws(() => parseTrainArgs(['--resume', dir, '--seed', '2']), /cannot be combined with --resume/);
  assert.throws(() => parseTrainArgs(['--resume', join(dir, 'nope')]), /no config.json/);
});

test('PPO clipping needs sampling at temperature 1 and top-p 1; a config from before the field resumes without it', () => {
  assert.throws(
    () => validateConfig({ ...PRESETS.default, sampling: { ...PRESETS.default.sampling, temperature: 0.7 } }),
    (e: unknown) => e instanceof ConfigError && /optimizer\.clipEpsilon/.test(e.message),
  );
  const off = { ...PRESETS.default.optimizer, clipEpsilon: null };
  const c = validateConfig({
    ...PRESETS.default,
    optimizer: off,
    sampling: { ...PRESETS.default.sampling, topP: 0.9 },
  });
  assert.equal(c.optimizer.clipEpsilon, null);
  // An older run's config.json has neither field: it keeps the update it started with.
  const { trainUnderMask: _m, clipEpsilon: _c, ...older } = PRESETS.default.optimizer;
  const resumed = validateConfig({ ...PRESETS.default, optimizer: older });
  assert.equal(resumed.optimizer.trainUnderMask, false);
  assert.equal(resumed.optimizer.clipEpsilon, null);
  assert.equal(PRESETS.default.optimizer.trainUnderMask, true);
});
