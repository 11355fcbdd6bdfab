// The layer table holds for src/, and the check finds what breaks it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkLayers, declaredLayers } from '../scripts/check-layers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('every import in src/ points down the layer table', () => {
  const layers = declaredLayers(root);
  assert.deepEqual(checkLayers(join(root, 'src'), layers), []);
});

test('the check names upward, unlisted and outside imports, and allows downward ones', () => {
  const src = mkdtempSync(join(tmpdir(), 'azr-layers-'));
  try {
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), text);
    };
    put('low/a.ts', "import { b } from './b.js';\nimport type { X } from '../high/x.js';\n");
    put('low/b.ts', "export const b = 1;\nexport { y } from '../high/y.js';\n");
    put('high/x.ts', "import { b } from '../low/b.js';\nimport { readFileSync } from 'node:fs';\n");
    put('high/y.ts', "const z = await import('../stray/z.js');\nimport '../../outside.js';\n");
    put('stray/z.ts', 'export {};\n');
    const found = checkLayers(src, ['low', 'high']).map((v) => `${v.file}:${v.line} ${v.why}`);
    assert.deepEqual(found.sort(), [
      "high/y.ts:1 folder 'stray' is not in the layer table",
      'high/y.ts:2 imports from outside src/',
      "low/a.ts:2 'low' may not import from 'high', a layer above it",
      "low/b.ts:2 'low' may not import from 'high', a layer above it",
    ]);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
});
