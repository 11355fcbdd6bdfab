// Line charts of a run's metrics as one PNG: a grid of panels, each with its series, axes, round-number
// ticks and a legend, drawn with the project's own PNG encoder and bitmap font (no native or browser
// dependency, so `azr plot` works anywhere Node does).
import type { FinalEval, IterationMetrics } from '../run/metrics.js';
import { TASK_TYPES } from '../tasks/types.js';
import { drawText, textWidth } from './font.js';
import { Canvas, type RGB } from './png.js';

export const SERIES_COLORS: readonly RGB[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [148, 103, 189],
  [255, 127, 14],
];
const INK: RGB = [40, 40, 40];
const GRID: RGB = [228, 228, 228];

export interface Series {
  label: string;
  points: [number, number][];
  /** The unsmoothed points, drawn faintly behind the line. */
  raw?: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Fixed y range; default: from the data, widened to round ticks. */
  yRange?: [number, number];
  /** Mark every point (for sparse series such as evaluations). */
  markers?: boolean;
}

export const PANEL_W = 420;
export const PANEL_H = 260;
// The title and a one-line legend sit above the plot area, so the legend never hides a line.
const PAD = { left: 56, right: 16, top: 46, bottom: 36 };
const FONT = 2;

/** Round tick positions (1, 2 or 5 times a power of ten) covering [lo, hi], about `n` of them. */
export function niceTicks(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k * step);
  return out;
}

function tickLabel(v: number, step: number): string {
  const decimals = Math.max(0, Math.min(4, -Math.floor(Math.log10(step) + 1e-9)));
  return (Math.abs(v) < step * 1e-9 ? 0 : v).toFixed(decimals);
}

/** Where a panel's data lands on the canvas: the mapping from data to pixel coordinates. */
export interface PanelGeometry {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** Plot area in canvas pixels. */
  left: number;
  top: number;
  width: number;
  height: number;
  px(x: number): number;
  py(y: number): number;
}

/** The geometry of panel `p` drawn with its top-left corner at (ox, oy). */
export function panelGeometry(p: Panel, ox: number, oy: number): PanelGeometry {
  const all = p.series.flatMap((s) => [...s.points, ...(s.raw ?? [])]).filter((q) => Number.isFinite(q[1]));
  let x0 = all.length ? Math.min(...all.map((q) => q[0])) : 0;
  let x1 = all.length ? Math.max(...all.map((q) => q[0])) : 1;
  if (x1 <= x0) {
    x0 -= 1;
    x1 += 1;
  }
  let y0: number;
  let y1: number;
  if (p.yRange) [y0, y1] = p.yRange;
  else {
    const ys = all.map((q) => q[1]);
    y0 = Math.min(0, ...ys);
    y1 = Math.max(...ys, y0 + 1e-9);
    if (y1 - y0 < 1e-9) y1 = y0 + 1;
    const t = niceTicks(y0, y1, 4);
    const step = t.length > 1 ? (t[1] as number) - (t[0] as number) : 1;
    y0 = Math.floor(y0 / step + 1e-9) * step;
    y1 = Math.ceil(y1 / step - 1e-9) * step;
  }
  const left = ox + PAD.left;
  const top = oy + PAD.top;
  const width = PANEL_W - PAD.left - PAD.right;
  const height = PANEL_H - PAD.top - PAD.bottom;
  return {
    x0,
    x1,
    y0,
    y1,
    left,
    top,
    width,
    height,
    px: (x) => Math.round(left + ((x - x0) / (x1 - x0)) * width),
    py: (y) => Math.round(top + height - ((y - y0) / (y1 - y0)) * height),
  };
}

/** A colour mixed toward white, for the faint unsmoothed line. */
const tint = (c: RGB, k: number): RGB => [
  Math.round(c[0] + (255 - c[0]) * k),
  Math.round(c[1] + (255 - c[1]) * k),
  Math.round(c[2] + (255 - c[2]) * k),
];

function drawPanel(cv: Canvas, ox: number, oy: number, p: Panel): void {
  const g = panelGeometry(p, ox, oy);
  const ink = (x: number, y: number) => cv.set(x, y, INK);
  drawText(ink, p.title, ox + 10, oy + 8, FONT);
  const yt = niceTicks(g.y0, g.y1, 4);
  const yStep = yt.length > 1 ? (yt[1] as number) - (yt[0] as number) : 1;
  for (const v of yt) {
    cv.line(g.left + 1, g.py(v), g.left + g.width, g.py(v), GRID, 1);
    const label = tickLabel(v, yStep);
    drawText(ink, label, g.left - 6 - textWidth(label, FONT), g.py(v) - 4, FONT);
  }
  const xt = niceTicks(g.x0, g.x1, 5).filter((v) => Number.isInteger(v));
  for (const v of xt) {
    cv.line(g.px(v), g.top + g.height, g.px(v), g.top + g.height + 3, INK, 1);
    const label = String(v);
    drawText(ink, label, g.px(v) - textWidth(label, FONT) / 2, g.top + g.height + 7, FONT);
  }
  cv.line(g.left, g.top, g.left, g.top + g.height, INK, 1);
  cv.line(g.left, g.top + g.height, g.left + g.width, g.top + g.height, INK, 1);
  drawText(ink, 'ITERATION', g.left + g.width - textWidth('ITERATION', FONT), g.top + g.height + 20, FONT);
  if (p.series.every((s) => s.points.length === 0)) {
    drawText(
      ink,
      'NO DATA',
      g.left + g.width / 2 - textWidth('NO DATA', FONT) / 2,
      g.top + g.height / 2,
      FONT,
    );
  }
  const path = (pts: [number, number][], color: RGB, width: number) => {
    const ok = pts.filter((q) => Number.isFinite(q[1]));
    for (let k = 1; k < ok.length; k++) {
      const [ax, ay] = ok[k - 1] as [number, number];
      const [bx, by] = ok[k] as [number, number];
      cv.line(g.px(ax), g.py(ay), g.px(bx), g.py(by), color, width);
    }
  };
  // Faint raw lines first, so every smoothed line stays on top.
  p.series.forEach((s, i) => {
    if (s.raw) path(s.raw, tint(SERIES_COLORS[i % SERIES_COLORS.length] as RGB, 0.7), 1);
  });
  let lx = ox + 10;
  p.series.forEach((s, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length] as RGB;
    path(s.points, color, 2);
    if (p.markers || s.points.length === 1)
      for (const [x, y] of s.points)
        if (Number.isFinite(y)) cv.fillRect(g.px(x) - 2, g.py(y) - 2, 5, 5, color);
    cv.line(lx, oy + 29, lx + 14, oy + 29, color, 3);
    drawText((x, y) => cv.set(x, y, color), s.label, lx + 18, oy + 25, FONT);
    lx += 18 + textWidth(s.label, FONT) + 14;
  });
}

/** Panels in a grid, two per row. */
export function renderPanels(panels: readonly Panel[], cols = 2): Buffer {
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const cv = new Canvas(cols * PANEL_W, rows * PANEL_H);
  for (const [i, p] of panels.entries())
    drawPanel(cv, (i % cols) * PANEL_W, Math.floor(i / cols) * PANEL_H, p);
  return cv.encode();
}

/** Trailing moving average over `k` points, so noisy per-iteration rates read as trends. */
export function movingAverage(points: readonly [number, number][], k: number): [number, number][] {
  return points.map(([x], i) => {
    const win = points.slice(Math.max(0, i - k + 1), i + 1);
    return [x, win.reduce((s, q) => s + q[1], 0) / win.length];
  });
}

/**
 * The results panels: solve rate, valid proposals and proposer reward per task type (moving average over
 * `window` iterations, the raw values faint behind), held-out accuracy where evaluations ran, and the share
 * of distinct programs among the valid proposals and in the buffer's last 500 tasks.
 */
export function metricsPanels(
  records: readonly IterationMetrics[],
  window = 5,
  finalEval?: FinalEval,
): Panel[] {
  const types = TASK_TYPES.filter((t) => records.some((m) => m.types[t]));
  // Iterations without the figure (an older run's, or a distinct share with no valid proposal) are gaps.
  const per = (
    f: (m: NonNullable<IterationMetrics['types'][(typeof TASK_TYPES)[number]]>) => number | undefined,
  ): Series[] =>
    types.map((t) => {
      const raw = records.flatMap((m) => {
        const x = m.types[t];
        const y = x ? f(x) : undefined;
        return y !== undefined ? [[m.iteration, y] as [number, number]] : [];
      });
      return window > 1 ? { label: t, points: movingAverage(raw, window), raw } : { label: t, points: raw };
    });
  const evals = records.filter((m) => m.eval);
  const heldout: Series[] = (['deduction', 'abduction', 'induction', 'mean'] as const).map((t) => ({
    label: t,
    points: [
      ...evals.map((m) => [m.iteration, m.eval?.[t] ?? 0] as [number, number]),
      // Measured after its iteration, so it sits just past the evaluation before it.
      ...(finalEval ? [[finalEval.afterIteration + 1, finalEval.eval[t]] as [number, number]] : []),
    ],
  }));
  const avg = window > 1 ? ` (MEAN OF ${window})` : '';
  return [
    { title: `solve rate${avg}`, series: per((x) => x.solveRate), yRange: [0, 1] },
    { title: `valid proposals${avg}`, series: per((x) => x.validRate), yRange: [0, 1] },
    { title: `proposer reward${avg}`, series: per((x) => x.proposerReward) },
    { title: 'held-out accuracy', series: heldout, yRange: [0, 1], markers: true },
    { title: `distinct programs / valid${avg}`, series: per((x) => x.distinctShare), yRange: [0, 1] },
    {
      title: `distinct in buffer, last 500${avg}`,
      series: per((x) => x.bufferDistinctShare),
      yRange: [0, 1],
    },
  ];
}

/** The results figure of a run: `metricsPanels` drawn as one PNG. */
export function renderMetricsPlots(
  records: readonly IterationMetrics[],
  window = 5,
  finalEval?: FinalEval,
): Buffer {
  return renderPanels(metricsPanels(records, window, finalEval));
}
