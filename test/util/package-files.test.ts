// Files the code reads at run time from the source tree are found from the compiled module, and the
// package ships them: `npm pack` (without its build script) lists each one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PACKAGE_ROOT, packageFile } from '../../src/util/package-files.js';

const SHIPPED = [
  'src/executor/python/runtime.py',
  'src/dashboard/page.html',
  'src/dashboard/page.css',
  'src/dashboard/page.js',
];

test('the package root is the directory of our package.json, and its files are found from there', () => {
  const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { name: string };
  assert.equal(pkg.name, 'absolute-zero');
  assert.ok(!/[\\/]dist$/.test(PACKAGE_ROOT), PACKAGE_ROOT);
  for (const file of SHIPPED) assert.ok(existsSync(packageFile(...file.split('/'))), file);
});

test('npm pack ships every file read at run time', { timeout: 120_000 }, () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const packed = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path));
  for (const file of SHIPPED) assert.ok(packed.has(file), `${file} is not in the package`);
});
