// The layer check: every import inside src/ points down the table in src/layers.json (or stays in its own
// folder). Run by CI (`npm run check:layers`) and by test/layers.test.ts; exits 1 naming each import that
// points up a layer, into a folder the table does not list, or out of src/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LayerViolation {
  file: string;
  line: number;
  specifier: string;
  why: string;
}

// Static imports and re-exports (`from '...'`, across lines too), side-effect imports and dynamic import().
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Check the tree under `srcDir` against `layers` (folder names, lowest first). */
export function checkLayers(srcDir: string, layers: readonly string[]): LayerViolation[] {
  const rank = new Map(layers.map((name, i) => [name, i]));
  const folderOf = (path: string) => relative(srcDir, path).split(sep)[0] ?? '';
  const out: LayerViolation[] = [];
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const from = folderOf(file);
    const fromRank = rank.get(from);
    for (const m of text.matchAll(IMPORT)) {
      const specifier = m[1] as string;
      if (!specifier.startsWith('.')) continue; // packages and node: builtins
      const line = text.slice(0, m.index).split('\n').length;
      const target = resolve(dirname(file), specifier);
      const where = { file: relative(srcDir, file), line, specifier };
      if (relative(srcDir, target).startsWith('..')) {
        out.push({ ...where, why: 'imports from outside src/' });
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      const toRank = rank.get(to);
      if (fromRank === undefined || toRank === undefined) {
        const missing = fromRank === undefined ? from : to;
        out.push({ ...where, why: `folder '${missing}' is not in the layer table` });
      } else if (toRank > fromRank) {
        out.push({ ...where, why: `'${from}' may not import from '${to}', a layer above it` });
      }
    }
  }
  return out;
}

/** The table in src/layers.json of the checkout this file was compiled from. */
export function declaredLayers(root: string): string[] {
  const table = JSON.parse(readFileSync(join(root, 'src', 'layers.json'), 'utf8')) as { layers: string[] };
  return table.layers;
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && resolve(process.argv[1]) === self) {
  // dist/scripts/check-layers.js -> the checkout's root
  const root = resolve(dirname(self), '..', '..');
  const problems = checkLayers(join(root, 'src'), declaredLayers(root));
  for (const p of problems) process.stderr.write(`src/${p.file}:${p.line}: ${p.specifier}: ${p.why}\n`);
  if (problems.length) {
    process.stderr.write(
      `check-layers: ${problems.length} import(s) against the layer table in src/layers.json\n`,
    );
    process.exit(1);
  }
  process.stdout.write('check-layers: every import in src/ points down the layer table\n');
}
