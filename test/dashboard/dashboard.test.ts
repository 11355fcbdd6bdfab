// The dashboard in a real headless Chromium: plots drawn from a run directory's metrics with the right
// series and points, the table of recent tasks, live updates as the run appends, a resumed run's
// truncation, a bad line reported on the page, and nothing loaded from anywhere but the server.
// Saves a screenshot to dist/test-output/dashboard.png.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startDashboard } from '../../src/dashboard/server.js';
import { appendMetrics } from '../../src/run/metrics.js';
import { appendSamples } from '../selfplay/samples.js';
import { findChromium } from './chromium.js';
import { metricsRecord, samples, writeRun } from './fixture.js';

const chromiumPath = findChromium();
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output');

/** Label and point count of each line drawn in one plot. */
function seriesOf(page: Page, plot: string): Promise<[string, number][]> {
  return page.$$eval(`svg[data-plot="${plot}"] polyline.series`, (ls) =>
    ls.map(
      (l) => [l.getAttribute('data-label') ?? '', Number(l.getAttribute('data-points'))] as [string, number],
    ),
  );
}

const TYPES3 = (n: number): [string, number][] => [
  ['deduction', n],
  ['abduction', n],
  ['induction', n],
];

test('the dashboard plots a run, lists its tasks, follows new iterations and a resumed run', {
  skip: chromiumPath ? false : 'no Chromium binary found (CI installs Debian chromium)',
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-dash-'));
  const run = writeRun(dir, 8);
  const dash = await startDashboard(dir);
  const browser = await chromium.launch({ executablePath: chromiumPath as string, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(dash.url)) foreign.push(r.url());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${dash.url}?poll=150`);
    await page.waitForSelector('body[data-iterations="8"]');

    // Every plot, with one line per task type (or role, reason, ...) and one point per iteration.
    for (const plot of [
      'solve',
      'proposer-reward',
      'solver-reward',
      'learnability',
      'valid',
      'duplicate',
      'copy',
      'program-length',
      'diversity',
      'distinct',
      'buffer-distinct',
      'buffer',
      'proposer-tokens',
      'solver-tokens',
    ]) {
      assert.deepEqual(await seriesOf(page, plot), TYPES3(8), plot);
    }
    assert.deepEqual(await seriesOf(page, 'format-errors'), [
      ['proposer', 8],
      ['solver', 8],
    ]);
    // Rejection reasons, most frequent first: runtime (every type, 45 in all), too_few_inputs (3 an
    // iteration in induction), format:no_answer (1 an iteration in two types).
    assert.deepEqual(await seriesOf(page, 'rejections'), [
      ['runtime', 8],
      ['too_few_inputs', 8],
      ['format:no_answer', 8],
    ]);
    assert.deepEqual(await seriesOf(page, 'loss'), [['loss', 8]]);
    assert.deepEqual(await seriesOf(page, 'throughput'), [
      ['tokens/s', 8],
      ['execs/s', 8],
    ]);
    // Evaluations ran before iterations 1 and 5: two points per series, each marked.
    assert.deepEqual(await seriesOf(page, 'eval'), [...TYPES3(2), ['mean', 2]]);
    assert.equal((await page.$$('svg[data-plot="eval"] circle.marker')).length, 8);

    // The solve-rate line goes through the values: y = 168 - rate * 144 in the 0..1 panel.
    const dedPoints: string = await page.$eval(
      'svg[data-plot="solve"] polyline.series',
      (l) => l.getAttribute('points') ?? '',
    );
    const ys = dedPoints.split(' ').map((p) => Number(p.split(',')[1]));
    const want = Array.from(
      { length: 8 },
      (_, i) => 168 - (metricsRecord(i + 1).types.deduction?.solveRate ?? 0) * 144,
    );
    assert.deepEqual(
      ys.map((y) => y.toFixed(1)),
      want.map((y) => y.toFixed(1)),
    );

    // Header and status from config.json and the last record.
    assert.match((await page.textContent('#config')) ?? '', /seed 7 · python · model tiny/);
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^iteration 8 · 2\.7 min · 1380 tok\/s · 1560 exec\/s · solve ded/,
    );

    // The task table: newest first, the model's text escaped, not rendered.
    await page.waitForSelector('tr.task');
    const rows = await page.$$eval('tr.task', (rs) => rs.map((r) => r.textContent ?? ''));
    assert.equal(rows.length, 24);
    assert.match(rows[0] ?? '', /^8induction/);
    assert.ok(rows.some((r) => r.includes('return x * 8') && r.includes('valid')));
    assert.equal(await page.$('#tasks b'), null, 'model text is escaped, not HTML');
    assert.ok(rows.some((r) => r.includes('<b>bold</b> 4')));
    // A rejection's detail is the verdict's tooltip.
    assert.equal(
      await page.getAttribute('tr.task td.bad[title]', 'title'),
      '1 valid distinct inputs, need 2',
    );
    await page.selectOption('#role', 'solver');
    assert.deepEqual(
      [...new Set(await page.$$eval('tr.task', (rs) => rs.map((r) => r.getAttribute('data-role'))))],
      ['solver'],
    );
    await page.selectOption('#role', '');

    // Hovering a plot shows the values at the nearest iteration.
    const box = await page.$eval('svg[data-plot="solve"]', (s) => {
      const b = s.getBoundingClientRect();
      return { x: b.x, y: b.y, w: b.width, h: b.height };
    });
    await page.mouse.move(box.x + box.w - 12, box.y + box.h / 2);
    assert.match((await page.textContent('#tip')) ?? '', /iteration 8deduction/);

    // Live: the run writes iteration 9; the page picks it up without a reload.
    appendSamples(run.samplesPath, samples(9));
    appendMetrics(run.metricsPath, metricsRecord(9));
    await page.waitForSelector('body[data-iterations="9"]');
    assert.deepEqual(await seriesOf(page, 'solve'), TYPES3(9));
    assert.deepEqual(await seriesOf(page, 'eval'), [...TYPES3(3), ['mean', 3]]);
    await page.waitForFunction("document.querySelector('tr.task')?.textContent.startsWith('9induction')");

    mkdirSync(outDir, { recursive: true });
    const shot = join(outDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);

    // Resume: the run truncates the file back to iteration 6 and redoes 7 with other numbers.
    writeFileSync(run.metricsPath, '');
    for (let i = 1; i <= 6; i++) appendMetrics(run.metricsPath, metricsRecord(i));
    appendMetrics(run.metricsPath, metricsRecord(7, 0.5));
    await page.waitForSelector('body[data-iterations="7"]');
    assert.deepEqual(await seriesOf(page, 'solve'), TYPES3(7));
    assert.match((await page.textContent('#status')) ?? '', /^iteration 7 /);

    // A corrupt line is reported on the page; what came before it stays drawn.
    appendFileSync(run.metricsPath, '{"version":1,"iteration":8,"oops"\n');
    await page.waitForSelector('#error:has-text("metrics.jsonl:8: not JSON")');
    assert.equal(await page.getAttribute('body', 'data-iterations'), '7');

    assert.deepEqual(foreign, [], 'the page loads nothing from elsewhere');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard of a run with no iterations yet waits, then draws the first one', {
  skip: chromiumPath ? false : 'no Chromium binary found (CI installs Debian chromium)',
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-dash-'));
  const dash = await startDashboard(dir);
  const browser = await chromium.launch({ executablePath: chromiumPath as string, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${dash.url}?poll=150`);
    await page.waitForSelector('#status:has-text("waiting for the first iteration")');
    assert.match((await page.textContent('svg[data-plot="solve"]')) ?? '', /no data yet/);
    const run = writeRun(dir, 1);
    assert.ok(existsSync(run.metricsPath));
    await page.waitForSelector('body[data-iterations="1"]');
    assert.deepEqual(await seriesOf(page, 'solve'), TYPES3(1));
    assert.equal((await page.$$('svg[data-plot="solve"] circle.marker')).length, 3, 'a lone point is marked');
  } finally {
    await browser.close();
    await dash.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
