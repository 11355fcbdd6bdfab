// The dashboard's HTTP endpoints without a browser: JSON shapes, query checks, and the page's
// self-containment (no external URL in it).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { startDashboard } from '../../src/dashboard/server.js';
import { appendMetrics } from '../../src/run/metrics.js';
import { packageFile } from '../../src/util/package-files.js';
import { metricsRecord, writeRun } from './fixture.js';

async function withRun(iterations: number, f: (url: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'azr-dash-'));
  if (iterations > 0) writeRun(dir, iterations);
  const dash = await startDashboard(dir);
  try {
    await f(dash.url, dir);
  } finally {
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('metrics since N, the last samples, and the run config', async () => {
  await withRun(5, async (url, dir) => {
    const m = (await (await fetch(`${url}api/metrics?since=3`)).json()) as {
      records: { iteration: number }[];
      generation: number;
      error: string | null;
    };
    assert.deepEqual(
      m.records.map((r) => r.iteration),
      [4, 5],
    );
    assert.equal(m.error, null);
    const s = (await (await fetch(`${url}api/samples?limit=4`)).json()) as {
      samples: { iteration: number; type: string }[];
    };
    assert.deepEqual(
      s.samples.map((x) => `${x.iteration}${x.type.slice(0, 3)}`),
      ['4ind', '5ded', '5abd', '5ind'],
    );
    const r = (await (await fetch(`${url}api/run`)).json()) as {
      dir: string;
      config: { seed: number };
      state: null;
    };
    assert.equal(r.dir, basename(dir));
    assert.equal(r.config.seed, 7);
    assert.equal(r.state, null);
  });
});

test('a truncated metrics file bumps the generation and reads again from the start', async () => {
  await withRun(4, async (url, dir) => {
    const get = async () =>
      (await (await fetch(`${url}api/metrics`)).json()) as {
        records: { iteration: number }[];
        generation: number;
      };
    const before = await get();
    assert.equal(before.records.length, 4);
    writeFileSync(join(dir, 'metrics.jsonl'), '');
    appendMetrics(join(dir, 'metrics.jsonl'), metricsRecord(1));
    const after = await get();
    assert.equal(after.records.length, 1);
    assert.ok(after.generation > before.generation);
  });
});

test('bad queries, unknown paths and other methods are JSON errors', async () => {
  await withRun(0, async (url) => {
    const since = await fetch(`${url}api/metrics?since=-1`);
    assert.equal(since.status, 400);
    assert.match(((await since.json()) as { error: string }).error, /since takes a whole number/);
    assert.equal((await fetch(`${url}api/samples?limit=0`)).status, 400);
    const nope = await fetch(`${url}nope`);
    assert.equal(nope.status, 404);
    assert.deepEqual(await nope.json(), { error: 'no such page: /nope' });
    assert.equal((await fetch(url, { method: 'POST', body: 'x' })).status, 405);
    const empty = (await (await fetch(`${url}api/metrics`)).json()) as { records: unknown[] };
    assert.deepEqual(empty.records, [], 'a run without metrics yet is empty, not an error');
  });
});

test('the page is self-contained and forbids loading anything from elsewhere', async () => {
  await withRun(0, async (url) => {
    const r = await fetch(url);
    const html = await r.text();
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)=/i);
    assert.match(html, /<svg|createElement|plotSvg/);
  });
});

test('the page served is page.html with page.css and page.js inline where it links them', async () => {
  const source = (name: string) => readFileSync(packageFile('src', 'dashboard', name), 'utf8');
  await withRun(0, async (url) => {
    const html = await (await fetch(url)).text();
    assert.ok(html.includes(`<style>\n${source('page.css')}</style>`), 'page.css inline');
    assert.ok(html.includes(`<script>\n${source('page.js')}</script>`), 'page.js inline');
    assert.doesNotMatch(html, /(href|src)=["']?page\./, 'no tag left that links them');
    const [before, after] = source('page.html').split('<link rel="stylesheet" href="page.css">');
    assert.ok(html.startsWith(before as string), 'page.html up to the style');
    assert.ok(html.endsWith((after as string).split('<script src="page.js"></script>')[1] as string));
  });
});
