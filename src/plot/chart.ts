// Line charts of a run's metrics as one PNG: a grid of panels, each with its series, axes, ticks and a
// legend, drawn with the project's own PNG encoder (no native or browser dependency).
import { type IterationMetrics, TASK_TYPES, type TaskTypeName } from '../selfplay/metrics.js';
import { drawText } from './font.js';
import { Canvas } from './png.js';

type RGB = [number, number, number];
const COLORS: RGB[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [148, 103, 189],
];

export interface Series {
  label: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Fixed y range; default: from the data. */
  yRange?: [number, number];
}

const PANEL_W = 420;
const PANEL_H = 260;
const PAD = { left: 56, right: 14, top: 30, bottom: 34 };

function drawPanel(cv: Canvas, ox: number, oy: number, p: Panel): void {
  const ink = (x: number, y: number) => cv.set(x, y, [40, 40, 40]);
  drawText(ink, p.title, ox + PAD.left, oy + 8, 2);
  const all = p.series.flatMap((s) => s.points);
  const xs = all.map((q) => q[0]);
  const ys = all.map((q) => q[1]);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, 1);
  let [y0, y1] = p.yRange ?? [Math.min(...ys, 0), Math.max(...ys, 0.01)];
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  const w = PANEL_W - PAD.left - PAD.right;
  const h = PANEL_H - PAD.top - PAD.bottom;
  const px = (x: number) => ox + PAD.left + ((x - x0) / (x1 - x0 || 1)) * w;
  const py = (y: number) => oy + PAD.top + h - ((y - y0) / (y1 - y0)) * h;
  // Axes, grid and ticks.
  for (let k = 0; k <= 4; k++) {
    const yv = y0 + ((y1 - y0) * k) / 4;
    cv.line(ox + PAD.left, py(yv), ox + PAD.left + w, py(yv), [225, 225, 225], 1);
    const label = Math.abs(y1 - y0) >= 10 ? yv.toFixed(0) : yv.toFixed(2);
    drawText(ink, label, ox + 4, py(yv) - 5, 2);
    const xv = x0 + ((x1 - x0) * k) / 4;
    drawText(ink, xv.toFixed(0), px(xv) - 6, oy + PAD.top + h + 8, 2);
  }
  cv.line(ox + PAD.left, oy + PAD.top, ox + PAD.left, oy + PAD.top + h, [40, 40, 40], 1);
  cv.line(ox + PAD.left, oy + PAD.top + h, ox + PAD.left + w, oy + PAD.top + h, [40, 40, 40], 1);
  drawText(ink, 'ITERATION', ox + PAD.left + w - 72, oy + PAD.top + h + 20, 2);
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as RGB;
    for (let k = 1; k < s.points.length; k++) {
      const [ax, ay] = s.points[k - 1] as [number, number];
      const [bx, by] = s.points[k] as [number, number];
      cv.line(px(ax), py(ay), px(bx), py(by), color, 2);
    }
    if (s.points.length === 1) {
      const [ax, ay] = s.points[0] as [number, number];
      cv.line(px(ax) - 2, py(ay), px(ax) + 2, py(ay), color, 4);
    }
    const ly = oy + PAD.top + 4 + i * 14;
    cv.line(ox + PAD.left + 8, ly + 4, ox + PAD.left + 22, ly + 4, color, 3);
    drawText((x, y) => cv.set(x, y, color), s.label, ox + PAD.left + 28, ly, 2);
  });
}

/** Panels side by side, two per row. */
export function renderPanels(panels: readonly Panel[]): Buffer {
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const cv = new Canvas(cols * PANEL_W, rows * PANEL_H);
  for (const [i, p] of panels.entries())
    drawPanel(cv, (i % cols) * PANEL_W, Math.floor(i / cols) * PANEL_H, p);
  return cv.encode();
}

/** Moving average over `k` iterations, so noisy per-iteration rates read as trends. */
function smooth(points: [number, number][], k: number): [number, number][] {
  return points.map(([x], i) => {
    const win = points.slice(Math.max(0, i - k + 1), i + 1);
    return [x, win.reduce((s, q) => s + q[1], 0) / win.length];
  });
}

export function metricsPanels(records: readonly IterationMetrics[], window = 5): Panel[] {
  const types = TASK_TYPES;
  const per = (f: (m: IterationMetrics, t: TaskTypeName) => number | undefined): Series[] =>
    types.map((t) => ({
      label: t,
      points: smooth(
        records.filter((m) => m.types[t]).map((m) => [m.iteration, f(m, t) ?? 0] as [number, number]),
        window,
      ),
    }));
  const evals = records.filter((m) => m.eval);
  const heldout: Series[] = [...types, 'mean'].map((t) => ({
    label: t,
    points: evals.map((m) => [m.iteration, (m.eval as Record<string, number>)[t] ?? 0] as [number, number]),
  }));
  return [
    { title: `solve rate (mean of ${window})`, series: per((m, t) => m.types[t]?.solveRate), yRange: [0, 1] },
    {
      title: `valid proposals (mean of ${window})`,
      series: per((m, t) => m.types[t]?.validRate),
      yRange: [0, 1],
    },
    { title: `proposer reward (mean of ${window})`, series: per((m, t) => m.types[t]?.proposerReward) },
    { title: 'held-out accuracy', series: heldout, yRange: [0, 1] },
  ];
}
