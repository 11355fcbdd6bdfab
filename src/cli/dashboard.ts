// `azr dashboard RUN_DIR`: serve the live dashboard of a run on localhost until Ctrl-C.
import { existsSync } from 'node:fs';
import { intFlag, parseFlags, UsageError } from './args.js';

export const dashboardUsage =
  'usage: azr dashboard RUN_DIR [--port N]   (serves on 127.0.0.1; port 0 picks a free one)\n';

export async function dashboardCommand(argv: string[]): Promise<number> {
  let dir: string;
  let port: number;
  try {
    const p = parseFlags(argv, { port: { type: 'string' } }, true);
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`);
    port = intFlag(p.values, 'port', 0, 65535) ?? 8080;
  } catch (e) {
    process.stderr.write(`azr dashboard: ${(e as Error).message}\n${dashboardUsage}`);
    return 2;
  }
  const { startDashboard } = await import('../dashboard/server.js');
  const { url } = await startDashboard(dir, { port });
  process.stdout.write(`dashboard of ${dir} at ${url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  return 0;
}
