// The dashboard server: node:http on localhost, the page plus two JSON endpoints that re-read the run
// directory on every request, so the page follows a run that is still writing.
import { createServer, type Server } from 'node:http';
import { readMetrics, readSamples } from '../selfplay/metrics.js';
import { RunDir } from '../selfplay/rundir.js';
import { DASHBOARD_HTML } from './page.js';

export interface DashboardOptions {
  port?: number;
  host?: string;
}

export async function startDashboard(
  dir: string,
  opts: DashboardOptions = {},
): Promise<{ server: Server; url: string }> {
  const run = new RunDir(dir);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (value: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(value));
    };
    try {
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(DASHBOARD_HTML);
      } else if (url.pathname === '/api/metrics') {
        const since = Number(url.searchParams.get('since') ?? 0);
        json(readMetrics(run.metricsPath).filter((m) => m.iteration > since));
      } else if (url.pathname === '/api/samples') {
        const limit = Math.max(1, Math.min(500, Number(url.searchParams.get('limit') ?? 50)));
        json(readSamples(run.samplesPath).slice(-limit));
      } else json({ error: 'not found' }, 404);
    } catch (e) {
      json({ error: (e as Error).message }, 500);
    }
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://${host}:${port}/` };
}
