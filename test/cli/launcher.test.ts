// bin/azr.js, the `azr` command: it runs the compiled CLI with its arguments and exit code, and compiles
// dist/ first when it is missing (a fresh install builds nothing: .npmrc sets ignore-scripts) or older
// than a source file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageFile } from '../../src/util/package-files.js';

const LAUNCHER = packageFile('bin', 'azr.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('package.json names bin/azr.js as azr, and the file is executable', () => {
  const pkg = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(pkg.bin.azr, 'bin/azr.js');
  assert.ok((statSync(LAUNCHER).mode & 0o111) !== 0, 'bin/azr.js is not executable');
});

test('the launcher runs the compiled CLI with its arguments and exit code', () => {
  const help = spawnSync(process.execPath, [LAUNCHER, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: azr <command>/);
  assert.equal(help.stderr, '');
  const unknown = spawnSync(process.execPath, [LAUNCHER, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

test('without dist/ the launcher compiles once, then runs; a failed compile stops it', () => {
  // A package of the launcher's shape: bin/azr.js, a tsconfig and one source file, this package's
  // node_modules (for tsc and the Node types).
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  mkdirSync(join(pkg, 'src', 'cli'), { recursive: true });
  copyFileSync(LAUNCHER, join(pkg, 'bin', 'azr.js'));
  symlinkSync(packageFile('node_modules'), join(pkg, 'node_modules'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'launcher-probe', type: 'module' }));
  writeFileSync(
    join(pkg, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        target: 'ES2022',
        types: ['node'],
        outDir: 'dist',
        rootDir: '.',
      },
      include: ['src/**/*.ts'],
    }),
  );
  const main = join(pkg, 'src', 'cli', 'main.ts');
  writeFileSync(main, "process.stdout.write('ran ' + JSON.stringify(process.argv.slice(2)));\n");
  const run = () => spawnSync(process.execPath, [join(pkg, 'bin', 'azr.js'), 'a', 'b'], { encoding: 'utf8' });

  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /compiling the TypeScript into dist\//);
  assert.equal(first.stdout, 'ran ["a","b"]');
  assert.ok(existsSync(join(pkg, 'dist', 'src', 'cli', 'main.js')));
  const second = run();
  assert.equal(second.stderr, '', 'a second run does not compile again');
  assert.equal(second.stdout, 'ran ["a","b"]');

  // A source newer than dist/ (a pull, an edit) is compiled before the run.
  writeFileSync(main, "process.stdout.write('changed');\n");
  const later = new Date(Date.now() + 2000);
  utimesSync(main, later, later);
  const changed = run();
  assert.equal(changed.status, 0, changed.stderr);
  assert.match(changed.stderr, /sources changed since the last build/);
  assert.equal(changed.stdout, 'changed');

  rmSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(main, 'const n: number = "not a number";\n');
  const broken = run();
  assert.notEqual(broken.status, 0);
  assert.match(broken.stderr, /did not compile/);
  assert.doesNotMatch(broken.stdout, /^ran/, 'the CLI does not run after a failed compile');
});
