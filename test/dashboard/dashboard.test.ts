// The dashboard in a real headless Chromium: plots drawn from a run directory's metrics, the table of
// recent tasks, and live updates as the run appends lines. Saves a screenshot to dist/test-output/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDashboard } from '../../src/dashboard/server.js';
import { appendMetrics, type IterationMetrics } from '../../src/selfplay/metrics.js';
import { RunDir } from '../../src/selfplay/rundir.js';
import { appendJsonl } from '../../src/util/jsonl.js';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output');

function record(iteration: number): IterationMetrics {
  const t = (k: number) => ({
    solveRate: Math.min(1, 0.1 * iteration + k * 0.05),
    solverReward: 0,
    proposerReward: 0.1 * k,
    validRate: 0.5,
    duplicateRate: 0.1,
    learnability: 0.2,
    rejections: { runtime: 3 },
    programChars: 40 + iteration,
    diversity: 0.8,
    bufferSize: iteration * 4,
    proposerTokens: 60,
    solverTokens: 12,
    proposerFormatErrors: 0,
    solverFormatErrors: 0,
  });
  const r: IterationMetrics = {
    version: 1,
    iteration,
    timeS: iteration * 10,
    iterationS: 10,
    types: { deduction: t(0), abduction: t(1), induction: t(2) },
    loss: -0.1 * iteration,
    gradNorm: 1,
    learningRate: 1e-3,
    tokensPerS: 1000,
    execsPerS: 2000,
    phases: { sample: 5, execute: 1, update: 4 },
  };
  if (iteration % 3 === 1) r.eval = { deduction: 0.1, abduction: 0.2, induction: 0, mean: 0.1 };
  return r;
}

test('the dashboard plots a run, lists its tasks, and follows new iterations', {
  skip: chromiumPath ? false : 'no Chromium binary (CI installs it)',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-dash-'));
  const run = new RunDir(dir);
  run.create();
  for (let i = 1; i <= 6; i++) appendMetrics(run.metricsPath, record(i));
  appendJsonl(run.samplesPath, [
    {
      iteration: 6,
      type: 'deduction',
      role: 'proposer',
      lang: 'python',
      prompt: 'p',
      completion: 'c',
      reward: 0.5,
      ok: true,
      program: 'def f(x):\n    return x * 2',
      input: '3',
      output: '6',
    },
    {
      iteration: 6,
      type: 'abduction',
      role: 'solver',
      lang: 'python',
      prompt: 'p',
      completion: '<b>x</b>',
      reward: -0.5,
      ok: false,
    },
  ]);
  const { server, url } = await startDashboard(dir);
  const browser = await chromium.launch({ executablePath: chromiumPath as string, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${url}?poll=200`);
    await page.waitForSelector('svg[data-title="solve rate"] polyline');
    const solve = await page.$$eval('svg[data-title="solve rate"] polyline.series', (ls) =>
      ls.map((l) => [l.getAttribute('data-label'), Number(l.getAttribute('data-points'))]),
    );
    assert.deepEqual(solve, [
      ['deduction', 6],
      ['abduction', 6],
      ['induction', 6],
    ]);
    for (const title of [
      'proposer reward',
      'valid proposals',
      'duplicate proposals',
      'program length (chars)',
      'diversity',
      'solver completion tokens',
      'held-out accuracy',
    ]) {
      assert.ok((await page.$$(`svg[data-title="${title}"] polyline.series`)).length > 0, title);
    }
    const rows = await page.$$eval('tr.task', (rs) => rs.map((r) => r.textContent ?? ''));
    assert.equal(rows.length, 2);
    assert.ok(rows.some((r) => r.includes('return x * 2')));
    assert.ok((await page.$('tr.task b')) === null, 'model text is escaped, not rendered as HTML');
    // Live: the run writes iteration 7; the page picks it up without a reload.
    appendMetrics(run.metricsPath, record(7));
    await page.waitForSelector('#status:has-text("iteration 7")');
    const after = await page.$eval('svg[data-title="solve rate"] polyline.series', (l) =>
      Number(l.getAttribute('data-points')),
    );
    assert.equal(after, 7);
    mkdirSync(outDir, { recursive: true });
    const shot = join(outDir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard server answers JSON errors for unknown paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-dash-'));
  const { server, url } = await startDashboard(dir);
  try {
    const r = await fetch(`${url}nope`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: 'not found' });
    assert.deepEqual(
      await (await fetch(`${url}api/metrics`)).json(),
      [],
      'a run without metrics yet is empty, not an error',
    );
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
