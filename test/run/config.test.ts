import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTrainArgs } from '../../src/cli/train.js';
import {
  ConfigError,
  migrateConfig,
  PRESETS,
  readRunConfig,
  resolveConfig,
  validateConfig,
} from '../../src/run/config.js';

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

test('partial credit is a share in [0, 1]; a field in its version-1 place says where it moved', () => {
  const file = join(dir, 'credit.json');
  writeFileSync(file, JSON.stringify({ experimental: { partialCredit: 1.5 } }));
  assert.throws(
    () => resolveConfig({ preset: 'tiny', file }),
    (e: unknown) => e instanceof ConfigError && /experimental\.partialCredit/.test(e.message),
  );
  writeFileSync(file, JSON.stringify({ selfplay: { partialCredit: 0.5, promptStyle: 'reference' } }));
  assert.throws(
    () => resolveConfig({ preset: 'tiny', file }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message.includes('selfplay.partialCredit is now experimental.partialCredit') &&
      e.message.includes('selfplay.promptStyle is now answers.promptStyle'),
  );
});

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures');

test('a run directory written by the previous release (config version 1) resumes with the same settings', () => {
  const run = join(dir, 'v1-run');
  mkdirSync(run);
  // The config.json that `azr train --preset tiny --iterations 3 --seed 7` wrote before version 2.
  copyFileSync(join(fixtures, 'config-v1-tiny-seed7.json'), join(run, 'config.json'));
  const inv = parseTrainArgs(['--resume', run]);
  // That release did not compare programs: its proposals' copies stay allowed.
  assert.deepEqual(inv.config, {
    ...PRESETS.tiny,
    seed: 7,
    iterations: 3,
    minutes: null,
    validation: { ...PRESETS.tiny.validation, copies: 'allowed' },
  });
  assert.deepEqual(readRunConfig(join(run, 'config.json')), inv.config);
  // Fields a version-1 file from before they existed lacks take the values that run used.
  const older = JSON.parse(readFileSync(join(fixtures, 'config-v1-tiny-seed7.json'), 'utf8'));
  delete older.optimizer.trainUnderMask;
  delete older.optimizer.clipEpsilon;
  delete older.selfplay.matchArity;
  delete older.selfplay.partialCredit;
  older.selfplay.proposerZeroAsPenalty = true;
  const c = validateConfig(migrateConfig(older));
  assert.equal(c.optimizer.trainUnderMask, false);
  assert.equal(c.optimizer.clipEpsilon, null);
  assert.equal(c.answers.matchArity, false);
  assert.equal(c.experimental.partialCredit, 0);
  assert.equal(c.experimental.proposerUnlearnableReward, -0.5);
  // A current config passes through unchanged.
  assert.equal(migrateConfig(PRESETS.default), PRESETS.default);
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

test('PPO clipping needs sampling at temperature 1 and top-p 1', () => {
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
  assert.equal(PRESETS.default.optimizer.trainUnderMask, true);
});

test('validation.copies: new runs reject copies; a version-2 config.json from before the field allows them', () => {
  assert.equal(PRESETS.default.validation.copies, 'invalid');
  const run = join(dir, 'v2-no-copies');
  mkdirSync(run);
  const { copies: _, ...validation } = PRESETS.default.validation;
  writeFileSync(join(run, 'config.json'), JSON.stringify({ ...PRESETS.default, validation }));
  assert.deepEqual(readRunConfig(join(run, 'config.json')), {
    ...PRESETS.default,
    validation: { ...validation, copies: 'allowed' },
  });
  assert.throws(
    () => resolveConfig({ overrides: { validation: { copies: 'sometimes' as never } } }),
    (e: unknown) => e instanceof ConfigError && /validation\.copies/.test(e.message),
  );
});

test('backend: a version-2 config.json from before the backend block resumes on the built-in model', () => {
  const run = join(dir, 'v2-no-backend');
  mkdirSync(run);
  const { backend: _, ...older } = { ...PRESETS.tiny, seed: 5 };
  writeFileSync(join(run, 'config.json'), JSON.stringify(older));
  assert.deepEqual(readRunConfig(join(run, 'config.json')).backend, { kind: 'builtin' });
  const v1 = JSON.parse(readFileSync(join(fixtures, 'config-v1-tiny-seed7.json'), 'utf8'));
  assert.deepEqual(validateConfig(migrateConfig(v1)).backend, { kind: 'builtin' });
});

test('backend: --backend tinker flags become the backend block, with defaults for what they leave out', () => {
  const inv = parseTrainArgs([
    ...['--preset', 'tiny', '--backend', 'tinker', '--tinker-url', 'http://127.0.0.1:8000'],
    ...['--base-model', 'Qwen/Qwen3-4B', '--tokenizer', '/tmp/tok', '--lora-rank', '8'],
  ]);
  assert.deepEqual(inv.config.backend, {
    kind: 'tinker',
    url: 'http://127.0.0.1:8000',
    baseModel: 'Qwen/Qwen3-4B',
    tokenizer: '/tmp/tok',
    loraRank: 8,
    loraSeed: null,
    apiKeyEnv: 'TINKER_API_KEY',
    reduction: 'sum',
    init: null,
  });
  // A config file can hold the block; flags override it field by field.
  const file = join(dir, 'tinker.yaml');
  writeFileSync(
    file,
    'backend:\n  kind: tinker\n  url: http://127.0.0.1:9\n  baseModel: m\n  tokenizer: t\n  reduction: sequenceMean\n',
  );
  const c = parseTrainArgs(['--config', file, '--lora-rank', '4']).config.backend;
  assert.equal(c.kind === 'tinker' && c.reduction, 'sequenceMean');
  assert.equal(c.kind === 'tinker' && c.loraRank, 4);
});

test('backend: a tinker backend without its server, model or tokenizer is refused, naming the flags', () => {
  assert.throws(
    () => parseTrainArgs(['--backend', 'tinker', '--tinker-url', 'http://127.0.0.1:8000']),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message.includes('backend.baseModel (--base-model NAME)') &&
      e.message.includes('backend.tokenizer (--tokenizer DIR)') &&
      !e.message.includes('backend.url'),
  );
  assert.throws(() => parseTrainArgs(['--backend', 'remote']), /--backend takes builtin or tinker/);
  assert.throws(
    () => parseTrainArgs(['--backend', 'builtin', '--lora-rank', '8']),
    /--lora-rank belongs to --backend tinker/,
  );
  assert.throws(
    () =>
      parseTrainArgs([
        ...['--backend', 'tinker', '--tinker-url', 'not a url', '--base-model', 'm', '--tokenizer', 't'],
      ]),
    /backend\.url/,
  );
});

test('backend: --resume keeps the run backend and refuses backend flags', () => {
  const run = join(dir, 'tinker-run');
  mkdirSync(run);
  const config = parseTrainArgs([
    ...['--preset', 'tiny', '--backend', 'tinker', '--tinker-url', 'http://127.0.0.1:8000'],
    ...['--base-model', 'm', '--tokenizer', 't', '--reduction', 'sequenceMean'],
  ]).config;
  writeFileSync(join(run, 'config.json'), JSON.stringify(config));
  assert.deepEqual(parseTrainArgs(['--resume', run, '--iterations', '9']).config.backend, config.backend);
  assert.throws(
    () => parseTrainArgs(['--resume', run, '--tinker-url', 'http://127.0.0.1:1']),
    /--tinker-url cannot be combined with --resume \(a resumed run keeps its own config and backend\)/,
  );
});
