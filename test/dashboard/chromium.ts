// Where a Chromium binary is: $CHROMIUM_PATH, then the usual names on PATH (Debian's package installs
// `chromium`), then the usual absolute paths. Undefined when there is none.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findChromium(): string | undefined {
  const names = ['chromium', 'chromium-browser', 'google-chrome'];
  const candidates = [
    process.env.CHROMIUM_PATH,
    ...(process.env.PATH ?? '').split(delimiter).flatMap((d) => (d ? names.map((n) => join(d, n)) : [])),
    ...names.map((n) => `/usr/bin/${n}`),
  ];
  return candidates.find((p): p is string => !!p && existsSync(p));
}
