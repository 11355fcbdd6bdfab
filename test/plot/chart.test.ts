// Charts: series land on the pixels the panel geometry gives, the results figure has its four panels, and
// `azr plot` writes a decodable file or says plainly why not.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { plotCommand } from '../../src/cli/plot.js';
import {
  metricsPanels,
  movingAverage,
  niceTicks,
  PANEL_H,
  PANEL_W,
  type Panel,
  panelGeometry,
  renderMetricsPlots,
  renderPanels,
  SERIES_COLORS,
} from '../../src/plot/chart.js';
import { metricsRecord, writeRun } from '../dashboard/fixture.js';
import { decodePng } from './decode.js';

const isColor = (p: readonly number[], c: readonly number[]) =>
  p[0] === c[0] && p[1] === c[1] && p[2] === c[2];

test('niceTicks picks round steps that cover the range', () => {
  const round = (vs: number[]) => vs.map((v) => Number(v.toFixed(9)));
  assert.deepEqual(round(niceTicks(0, 1, 4)), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(round(niceTicks(0, 158, 5)), [0, 50, 100, 150]);
  assert.deepEqual(round(niceTicks(-0.5, 0.1, 4)), [-0.5, -0.4, -0.3, -0.2, -0.1, 0, 0.1]);
  assert.deepEqual(niceTicks(3, 3, 4), [3]);
});

test('movingAverage is a trailing mean', () => {
  assert.deepEqual(
    movingAverage(
      [
        [1, 0],
        [2, 1],
        [3, 1],
        [4, 0],
      ],
      2,
    ),
    [
      [1, 0],
      [2, 0.5],
      [3, 1],
      [4, 0.5],
    ],
  );
});

test('a plotted line passes through the pixels of its points and between them', () => {
  const panel: Panel = {
    title: 'test',
    series: [
      {
        label: 'a',
        points: [
          [0, 0.1],
          [10, 0.9],
          [20, 0.5],
        ],
      },
    ],
    yRange: [0, 1],
  };
  const png = decodePng(renderPanels([panel], 1));
  assert.deepEqual([png.width, png.height], [PANEL_W, PANEL_H]);
  const g = panelGeometry(panel, 0, 0);
  const blue = SERIES_COLORS[0] as readonly number[];
  for (const [x, y] of [
    [0, 0.1],
    [5, 0.5], // halfway along the first segment
    [10, 0.9],
    [15, 0.7],
    [20, 0.5],
  ] as const) {
    const near = [-1, 0, 1].some((d) => isColor(png.at(g.px(x), g.py(y) + d), blue));
    assert.ok(near, `series pixel at (${x}, ${y}) -> (${g.px(x)}, ${g.py(y)})`);
  }
  // And not where the line is not: the top-left of the plot area (y = 1 at x = 0) stays background.
  assert.ok(!isColor(png.at(g.px(2), g.py(0.95)), blue));
  // Axis through the plot area's left edge.
  assert.deepEqual(png.at(g.left, g.top + 10).slice(0, 3), [40, 40, 40]);
});

test('renderMetricsPlots draws the six results panels and marks each evaluation', () => {
  const records = Array.from({ length: 9 }, (_, i) => metricsRecord(i + 1));
  const panels = metricsPanels(records, 3);
  assert.deepEqual(
    panels.map((p) => [p.title, p.series.map((s) => `${s.label}:${s.points.length}`).join(' ')]),
    [
      ['solve rate (MEAN OF 3)', 'deduction:9 abduction:9 induction:9'],
      ['valid proposals (MEAN OF 3)', 'deduction:9 abduction:9 induction:9'],
      ['proposer reward (MEAN OF 3)', 'deduction:9 abduction:9 induction:9'],
      ['held-out accuracy', 'deduction:3 abduction:3 induction:3 mean:3'],
      ['distinct programs / valid (MEAN OF 3)', 'deduction:9 abduction:9 induction:9'],
      ['distinct in buffer, last 500 (MEAN OF 3)', 'deduction:9 abduction:9 induction:9'],
    ],
  );
  // A run made before the distinct shares existed leaves those panels empty.
  const older = records.map((m) => ({
    ...m,
    types: Object.fromEntries(
      Object.entries(m.types).map(([t, { distinctShare: _, bufferDistinctShare: __, ...x }]) => [t, x]),
    ),
  }));
  assert.deepEqual(
    metricsPanels(older, 3)
      .slice(4)
      .map((p) => p.series.map((s) => s.points.length)),
    [
      [0, 0, 0],
      [0, 0, 0],
    ],
  );
  const png = decodePng(renderMetricsPlots(records, 3));
  assert.deepEqual([png.width, png.height], [2 * PANEL_W, 3 * PANEL_H]);
  // Held-out panel (bottom right): the mean series (drawn last, purple) is marked at iterations 1, 5, 9.
  const heldout = panels[3] as Panel;
  const g = panelGeometry(heldout, PANEL_W, PANEL_H);
  const purple = SERIES_COLORS[3] as readonly number[];
  for (const r of records.filter((m) => m.eval)) {
    assert.ok(
      isColor(png.at(g.px(r.iteration), g.py(r.eval?.mean ?? 0)), purple),
      `eval marker at ${r.iteration}`,
    );
  }
  // Solve-rate panel (top left): the smoothed deduction line ends at the mean of the last three.
  const solve = panels[0] as Panel;
  const gs = panelGeometry(solve, 0, 0);
  const last = records.slice(-3).reduce((s, m) => s + (m.types.deduction?.solveRate ?? 0), 0) / 3;
  const blue = SERIES_COLORS[0] as readonly number[];
  assert.ok([-1, 0, 1].some((d) => isColor(png.at(gs.px(9), gs.py(last) + d), blue)));
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    return { code: await plotCommand(argv), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

test('azr plot writes the figure of a run, and refuses plainly when it cannot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-plot-'));
  try {
    writeRun(join(dir, 'run'), 6);
    const file = join(dir, 'curves.png');
    const ok = await run([join(dir, 'run'), '--out', file, '--window', '2']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /wrote .*curves\.png \(6 iterations, 2 evaluations\)/);
    assert.equal(decodePng(readFileSync(file)).width, 2 * PANEL_W);

    const empty = await run([dir, '--out', join(dir, 'x.png')]);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /no metrics in .* yet/);
    assert.ok(!existsSync(join(dir, 'x.png')));

    assert.equal((await run([join(dir, 'run')])).code, 2);
    assert.match((await run([join(dir, 'run'), '--out', 'a.jpg'])).err, /--out writes a PNG/);
    assert.match(
      (await run([join(dir, 'run'), '--out', file, '--window', '0'])).err,
      /--window takes a whole number/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
