// The dashboard server: node:http on localhost, serving the page and JSON endpoints that follow the run
// directory's files as the run appends to them, so the page stays live while training writes.
//
//   GET /                      the page (self-contained: inline script and style, nothing external)
//   GET /api/metrics?since=N   {records, generation, error}: metrics records with iteration > N
//   GET /api/samples?limit=N   {samples, error}: the last N sample lines (1..500, default 50)
//   GET /api/run               {dir, config, state}: the run's config.json and state.json, or null
//
// `generation` changes when the metrics file was truncated (a resumed run drops an uncommitted
// iteration); a client that sees it change drops what it has and asks again from since=0.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, resolve } from 'node:path';
import { type IterationMetrics, parseMetrics, parseSample } from '../run/metrics.js';
import { RunDir } from '../run/rundir.js';
import { JsonlFollower, readTail } from './follow.js';
import { dashboardPage } from './page.js';

export interface DashboardOptions {
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1 (this machine only). */
  host?: string;
}

export interface Dashboard {
  server: Server;
  url: string;
  close(): Promise<void>;
}

// The page may run only its own inline script and talk only to this server.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

class BadRequest extends Error {}

function queryInt(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new BadRequest(`${name} takes a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return Number(raw);
}

function readJsonOrNull(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null; // not written yet, or mid-rename: the page shows what it has
  }
}

/** The request handler, separate from listening so it is plain to read. */
function handler(run: RunDir, page: string): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = new JsonlFollower<IterationMetrics>(run.metricsPath, parseMetrics);
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'content-security-policy': CSP,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (value: unknown, status = 200) => send(status, 'application/json', JSON.stringify(value));
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return json({ error: `${req.method} not allowed` }, 405);
    try {
      switch (url.pathname) {
        case '/':
          return send(200, 'text/html; charset=utf-8', page);
        case '/api/metrics': {
          const since = queryInt(url, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
          const m = metrics.read();
          return json({
            records: m.records.filter((r) => r.iteration > since),
            generation: m.generation,
            error: m.error,
          });
        }
        case '/api/samples': {
          const limit = queryInt(url, 'limit', 50, 1, 500);
          try {
            return json({ samples: readTail(run.samplesPath, limit, parseSample), error: null });
          } catch (e) {
            return json({ samples: [], error: (e as Error).message });
          }
        }
        case '/api/run':
          return json({
            dir: basename(resolve(run.root)),
            config: readJsonOrNull(run.configPath),
            state: readJsonOrNull(run.statePath),
          });
        default:
          return json({ error: `no such page: ${url.pathname}` }, 404);
      }
    } catch (e) {
      if (e instanceof BadRequest) return json({ error: e.message }, 400);
      return json({ error: (e as Error).message }, 500);
    }
  };
}

/** Serve the dashboard of the run in `dir`. Resolves once listening; `url` is the page's address. */
export async function startDashboard(dir: string, opts: DashboardOptions = {}): Promise<Dashboard> {
  const server = createServer(handler(new RunDir(dir), dashboardPage()));
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as { port: number }).port;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    server,
    url: `http://${shown}:${port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
