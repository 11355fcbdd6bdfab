// `azr dashboard RUN_DIR`: serve the live dashboard of a run until Ctrl-C.
//
// A run directory without metrics yet is served anyway (the page says it is waiting and fills in as the
// run writes), so the dashboard can be started next to `azr train --out DIR` before its first iteration.
// A directory that does not exist is an error: that is almost always a typo.
import { existsSync, statSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const DEFAULT_DASHBOARD_PORT = 8080;

export const dashboardUsage = `usage: azr dashboard RUN_DIR [--port N] [--host ADDR]
  Serves a live page of the run's metrics and recent tasks until Ctrl-C.
  --port N      port to listen on (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)
  --host ADDR   address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)
  A run without metrics yet is fine: the page waits for the first iteration.
`;

export async function dashboardCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(dashboardUsage);
    return 0;
  }
  let dir: string;
  let port: number;
  let host: string;
  try {
    const p = parseFlags(argv, { port: { type: 'string' }, host: { type: 'string' } }, true);
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`);
    if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
    port = intFlag(p.values, 'port', 0, 65535) ?? DEFAULT_DASHBOARD_PORT;
    host = stringFlag(p.values, 'host') ?? '127.0.0.1';
  } catch (e) {
    process.stderr.write(`azr dashboard: ${(e as Error).message}\n${dashboardUsage}`);
    return 2;
  }
  const { startDashboard } = await import('../dashboard/server.js');
  const { RunDir } = await import('../run/rundir.js');
  let dashboard: Awaited<ReturnType<typeof startDashboard>>;
  try {
    dashboard = await startDashboard(dir, { port, host });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${port} is in use (try --port 0 for a free one)`
        : err.code === 'EADDRNOTAVAIL'
          ? `cannot listen on ${host}: no such address here`
          : err.message;
    process.stderr.write(`azr dashboard: ${why}\n`);
    return 1;
  }
  const waiting = existsSync(new RunDir(dir).metricsPath)
    ? ''
    : ' (no iterations yet: the page fills in as the run writes)';
  process.stdout.write(`dashboard of ${dir} at ${dashboard.url}${waiting}\nCtrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await dashboard.close();
  return 0;
}
