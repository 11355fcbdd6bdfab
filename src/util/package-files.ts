// Files the package ships as they are (the Python sandbox's runtime, the dashboard's page) live in the
// source tree beside the TypeScript that uses them and are read from there at run time. tsc copies
// nothing but its own output into dist/, and reading them from src/ keeps a single copy that no missed
// copy step can leave stale, whether the code runs compiled (dist/src/...) or from src/ itself.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function nearestPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or above it`);
  }
}

/** The package's root: the nearest directory above this module that holds a package.json. */
export const PACKAGE_ROOT = nearestPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The absolute path of a file of the package, given by its path from the package root. */
export function packageFile(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}
