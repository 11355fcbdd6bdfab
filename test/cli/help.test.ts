// Every command `azr --help` lists answers `azr COMMAND --help` with its usage on stdout and exit code 0,
// so a user can discover each command's flags the same way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const azr = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('azr COMMAND --help prints that command’s usage and exits 0, for every listed command', () => {
  const top = azr('--help');
  assert.equal(top.status, 0);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string);
  assert.ok(commands.length >= 9, `commands listed: ${commands.join(', ')}`);
  for (const command of commands) {
    const r = azr(command, '--help');
    assert.equal(r.status, 0, `azr ${command} --help exited ${r.status}: ${r.stderr}`);
    assert.match(
      r.stdout,
      new RegExp(`usage: azr ${command}\\b`),
      `azr ${command} --help printed: ${r.stdout}`,
    );
  }
});

test('an unknown command is refused with the command list and exit code 2', () => {
  const r = azr('frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.match(r.stderr, /usage: azr <command>/);
});
