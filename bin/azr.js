#!/usr/bin/env node
// The `azr` command: runs the compiled CLI in dist/. `npm install` builds nothing here (.npmrc sets
// ignore-scripts), so on a fresh clone the first `npx azr` compiles the TypeScript once, and so does the
// first one after a source file changed (a `git pull`): dist/ never runs older than src/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
const src = fileURLToPath(new URL('../src', import.meta.url));

/** The newest modification time of a .ts file under `dir` (a few hundred files: milliseconds). */
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const built = existsSync(main) ? statSync(main).mtimeMs : -1;
if (built < 0 || (existsSync(src) && newestSource(src) > built)) {
  process.stderr.write(
    built < 0
      ? 'azr: compiling the TypeScript into dist/ (once, after a fresh install)\n'
      : 'azr: the sources changed since the last build; compiling them into dist/\n',
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
  const compiled = spawnSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });
  if (compiled.status !== 0) {
    process.stderr.write('azr: the TypeScript did not compile (npm run build shows why)\n');
    process.exit(compiled.status ?? 1);
  }
}
await import(main.href);
