import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const cli = new URL('../src/cli/main.js', import.meta.url).pathname;

test('azr with an unknown command exits 2 and says why', () => {
  const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('azr exec prints one JSON result and exits 0 whatever the program did; 2 for bad usage', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, 'exec', ...args], { encoding: 'utf8' });
  const ok = run('--lang', 'python', '--code', 'def f(a, b):\n    return a * b', '--input', "3, 'ab'");
  assert.equal(ok.status, 0, ok.stderr);
  const okJson = JSON.parse(ok.stdout);
  assert.equal(okJson.status, 'ok');
  assert.equal(okJson.output, "'ababab'");
  const bad = run(
    '--lang',
    'javascript',
    '--code',
    'function f(x) { return x.y.z; }',
    '--input',
    '1',
    '--check',
  );
  assert.equal(bad.status, 0);
  const badJson = JSON.parse(bad.stdout);
  assert.equal(badJson.status, 'error');
  assert.equal(badJson.kind, 'runtime');
  assert.equal(typeof badJson.timeMs, 'number');
  assert.equal(run('--lang', 'cobol', '--code', 'x', '--input', '1').status, 2);
  assert.equal(run('--lang', 'python', '--input', '1').status, 2);
});
