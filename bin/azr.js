#!/usr/bin/env node
// The `azr` command: runs the compiled CLI in dist/. `npm install` builds nothing here (.npmrc sets
// ignore-scripts), so on a fresh clone the first `npx azr` compiles the TypeScript once; later runs use
// dist/ as `npm run build`, `npm start` or `npm test` last left it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('azr: compiling the TypeScript into dist/ (once, after a fresh install)\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
  const built = spawnSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });
  if (built.status !== 0) {
    process.stderr.write('azr: the TypeScript did not compile (npm run build shows why)\n');
    process.exit(built.status ?? 1);
  }
}
await import(main.href);
