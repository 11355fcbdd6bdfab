// The dashboard page's script: polls the server's JSON endpoints and redraws the plots and the table of
// recent tasks. Every plot is an <svg data-plot=ID data-title=TITLE> whose lines are
// <polyline class="series" data-label=... data-points=N>, so tests and scripts can read what is drawn.
// Plain browser JavaScript with no build step; the server inlines it into page.html.

// biome-ignore lint/suspicious/noRedundantUseStrict: the page runs this as a classic inline script, where the directive counts
'use strict';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const TYPES = ['deduction', 'abduction', 'induction'];
// A plot's size and its left, right, top and bottom margins, in SVG units.
const W = 400;
const H = 190;
const ML = 46;
const MR = 10;
const MT = 24;
const MB = 22;
const params = new URLSearchParams(location.search);
const POLL_MS = Number(params.get('poll') || 3000);
let metrics = [];
let generation = null; // the server's metrics generation: it changes when the file was truncated
let lastSamples = '';
const drawn = {}; // plot id -> what is drawn there, for the hover cursor
let polls = 0;

function esc(s) {
  return String(s == null ? '' : s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}
function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
// Round tick positions (1, 2 or 5 times a power of ten) covering [lo, hi].
function ticks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n,
    p = 10 ** Math.floor(Math.log10(raw)),
    f = raw / p;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
function smooth(points, k) {
  if (k <= 1) return points;
  let sum = 0;
  return points.map((p, i) => {
    sum += p[1];
    if (i >= k) sum -= points[i - k][1];
    return [p[0], sum / Math.min(i + 1, k)];
  });
}
function typesPresent() {
  return TYPES.filter((t) => metrics.some((m) => m.types[t]));
}
function perType(field) {
  return typesPresent().map((t) => ({
    label: t,
    points: metrics.filter((m) => m.types[t]).map((m) => [m.iteration, m.types[t][field]]),
  }));
}
function perRole(f) {
  return ['proposer', 'solver'].map((role) => ({
    label: role,
    points: metrics.map((m) => {
      const ts = Object.values(m.types);
      return [m.iteration, ts.reduce((s, t) => s + f(t, role), 0) / Math.max(1, ts.length)];
    }),
  }));
}
function rejections() {
  const totals = {};
  for (const m of metrics)
    for (const t of Object.values(m.types))
      for (const [r, n] of Object.entries(t.rejections)) totals[r] = (totals[r] || 0) + n;
  const top = Object.keys(totals)
    .sort((a, b) => totals[b] - totals[a])
    .slice(0, 5);
  return top.map((r) => ({
    label: r,
    points: metrics.map((m) => [
      m.iteration,
      Object.values(m.types).reduce((s, t) => s + (t.rejections[r] || 0), 0),
    ]),
  }));
}
function evals() {
  const ev = metrics.filter((m) => m.eval);
  return TYPES.concat(['mean']).map((t) => ({ label: t, points: ev.map((m) => [m.iteration, m.eval[t]]) }));
}
const PLOTS = [
  { id: 'solve', title: 'solve rate', y: [0, 1], series: () => perType('solveRate') },
  { id: 'proposer-reward', title: 'proposer reward', series: () => perType('proposerReward') },
  { id: 'solver-reward', title: 'solver reward', series: () => perType('solverReward') },
  {
    id: 'learnability',
    title: 'proposer reward (valid proposals)',
    series: () => perType('validProposerReward'),
  },
  { id: 'valid', title: 'valid proposals', y: [0, 1], series: () => perType('validRate') },
  { id: 'duplicate', title: 'duplicate proposals', y: [0, 1], series: () => perType('duplicateRate') },
  {
    id: 'copy',
    title: 'copied proposals (a program shown or known)',
    y: [0, 1],
    series: () => perType('copyRate'),
  },
  { id: 'program-length', title: 'program length (chars)', series: () => perType('programChars') },
  {
    id: 'diversity',
    title: 'diversity (distinct programs / proposals)',
    y: [0, 1],
    series: () => perType('diversity'),
  },
  {
    id: 'distinct',
    title: 'distinct programs / valid proposals',
    y: [0, 1],
    series: () => perType('distinctShare'),
  },
  {
    id: 'buffer-distinct',
    title: 'distinct programs in the buffer (last 500)',
    y: [0, 1],
    series: () => perType('bufferDistinctShare'),
  },
  { id: 'buffer', title: 'buffer size (tasks)', series: () => perType('bufferSize') },
  {
    id: 'proposer-tokens',
    title: 'proposer completion length (tokens)',
    series: () => perType('proposerTokens'),
  },
  { id: 'solver-tokens', title: 'solver completion length (tokens)', series: () => perType('solverTokens') },
  {
    id: 'format-errors',
    title: 'format errors by role',
    y: [0, 1],
    series: () => perRole((t, r) => (r === 'proposer' ? t.proposerFormatErrors : t.solverFormatErrors)),
  },
  { id: 'rejections', title: 'rejected proposals by reason (all types)', series: rejections },
  {
    id: 'loss',
    title: 'loss',
    series: () => [{ label: 'loss', points: metrics.map((m) => [m.iteration, m.loss]) }],
  },
  {
    id: 'grad-norm',
    title: 'gradient norm',
    series: () => [{ label: 'grad norm', points: metrics.map((m) => [m.iteration, m.gradNorm]) }],
  },
  {
    id: 'throughput',
    title: 'throughput (per second)',
    series: () => [
      { label: 'tokens/s', points: metrics.map((m) => [m.iteration, m.tokensPerS]) },
      { label: 'execs/s', points: metrics.map((m) => [m.iteration, m.execsPerS]) },
    ],
  },
  { id: 'eval', title: 'held-out accuracy', y: [0, 1], markers: true, raw: true, series: evals },
];

function plotSvg(p, series, k) {
  const pts = series.flatMap((s) => s.points).filter((q) => Number.isFinite(q[1]));
  let svg =
    '<svg viewBox="0 0 ' + W + ' ' + H + '" data-plot="' + p.id + '" data-title="' + esc(p.title) + '">';
  if (!pts.length) {
    drawn[p.id] = null;
    return (
      svg +
      '<text class="empty" x="' +
      W / 2 +
      '" y="' +
      H / 2 +
      '" text-anchor="middle">' +
      (p.id === 'eval' ? 'no evaluation yet' : 'no data yet') +
      '</text></svg>'
    );
  }
  let x0 = Math.min.apply(
      null,
      pts.map((q) => q[0]),
    ),
    x1 = Math.max.apply(
      null,
      pts.map((q) => q[0]),
    );
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  let y0, y1;
  if (p.y) {
    y0 = p.y[0];
    y1 = p.y[1];
  } else {
    y0 = Math.min(
      0,
      Math.min.apply(
        null,
        pts.map((q) => q[1]),
      ),
    );
    y1 = Math.max.apply(
      null,
      pts.map((q) => q[1]),
    );
    if (y1 <= y0) y1 = y0 + 1;
    const yt = ticks(y0, y1, 4),
      st = yt.length > 1 ? yt[1] - yt[0] : 1;
    y0 = Math.floor(y0 / st + 1e-9) * st;
    y1 = Math.ceil(y1 / st - 1e-9) * st;
  }
  const px = (x) => ML + ((x - x0) / (x1 - x0)) * (W - ML - MR);
  const py = (y) => H - MB - ((y - y0) / (y1 - y0)) * (H - MB - MT);
  const yt = ticks(y0, y1, 4);
  // As many decimals as the tick step needs: 0.25 steps read 0.25, 10 steps read 10.
  const dec =
    yt.length > 1 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(yt[1] - yt[0] + 1e-12) + 1e-9))) : 2;
  for (const t of yt) {
    svg +=
      '<line class="grid-line" x1="' +
      ML +
      '" x2="' +
      (W - MR) +
      '" y1="' +
      py(t).toFixed(1) +
      '" y2="' +
      py(t).toFixed(1) +
      '"/>';
    svg +=
      '<text class="tick" x="' +
      (ML - 4) +
      '" y="' +
      (py(t) + 3).toFixed(1) +
      '" text-anchor="end">' +
      (Math.abs(t) >= 1e5 ? fmt(t) : t.toFixed(dec)) +
      '</text>';
  }
  for (const t of ticks(x0, x1, 5).filter((v) => Number.isInteger(v))) {
    svg +=
      '<line class="axis" x1="' +
      px(t).toFixed(1) +
      '" x2="' +
      px(t).toFixed(1) +
      '" y1="' +
      (H - MB) +
      '" y2="' +
      (H - MB + 3) +
      '"/>';
    svg +=
      '<text class="tick" x="' +
      px(t).toFixed(1) +
      '" y="' +
      (H - MB + 13) +
      '" text-anchor="middle">' +
      t +
      '</text>';
  }
  svg +=
    '<line class="axis" x1="' + ML + '" x2="' + (W - MR) + '" y1="' + (H - MB) + '" y2="' + (H - MB) + '"/>';
  svg += '<line class="axis" x1="' + ML + '" x2="' + ML + '" y1="' + MT + '" y2="' + (H - MB) + '"/>';
  const shown = [];
  let lx = ML;
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const raw = s.points.filter((q) => Number.isFinite(q[1]));
    const line = p.raw ? raw : smooth(raw, k);
    shown.push({ label: s.label, color: c, points: line });
    const coords = (ps) => ps.map((q) => px(q[0]).toFixed(1) + ',' + py(q[1]).toFixed(1)).join(' ');
    if (line !== raw && raw.length)
      svg +=
        '<polyline class="raw" fill="none" stroke="' +
        c +
        '" stroke-width="1" points="' +
        coords(raw) +
        '"/>';
    if (line.length)
      svg +=
        '<polyline class="series" data-label="' +
        esc(s.label) +
        '" data-points="' +
        line.length +
        '" fill="none" stroke="' +
        c +
        '" stroke-width="1.6" points="' +
        coords(line) +
        '"/>';
    if (p.markers || line.length === 1)
      for (const q of line)
        svg +=
          '<circle class="marker" r="2.5" fill="' +
          c +
          '" cx="' +
          px(q[0]).toFixed(1) +
          '" cy="' +
          py(q[1]).toFixed(1) +
          '"/>';
    svg +=
      '<rect x="' +
      lx +
      '" y="7" width="10" height="3" fill="' +
      c +
      '"/><text class="legend" x="' +
      (lx + 13) +
      '" y="12" fill="' +
      c +
      '">' +
      esc(s.label) +
      '</text>';
    lx += 20 + 6.2 * String(s.label).length;
  });
  svg += '<line class="cursor" x1="0" x2="0" y1="' + MT + '" y2="' + (H - MB) + '" visibility="hidden"/>';
  drawn[p.id] = { series: shown, x0: x0, x1: x1, px: px };
  return svg + '</svg>';
}

function render() {
  const k = Number(document.getElementById('smooth').value);
  document.getElementById('plots').innerHTML = PLOTS.map(
    (p) =>
      '<div class="panel"><h2>' +
      esc(p.title) +
      (k > 1 && !p.raw ? ' <span style="color:#999;font-weight:400">(mean of ' + k + ')</span>' : '') +
      '</h2>' +
      plotSvg(p, p.series(), k) +
      '</div>',
  ).join('');
  document.body.dataset.iterations = String(metrics.length);
  const last = metrics[metrics.length - 1];
  if (!last) {
    document.getElementById('status').textContent =
      'waiting for the first iteration… (this page updates by itself)';
    return;
  }
  const types = typesPresent();
  const ev = metrics.filter((m) => m.eval).pop();
  document.getElementById('status').textContent =
    'iteration ' +
    last.iteration +
    ' · ' +
    (last.timeS / 60).toFixed(1) +
    ' min · ' +
    Math.round(last.tokensPerS) +
    ' tok/s · ' +
    Math.round(last.execsPerS) +
    ' exec/s · solve ' +
    types.map((t) => t.slice(0, 3) + ' ' + Math.round(100 * last.types[t].solveRate) + '%').join(' ') +
    ' · buffers ' +
    types.map((t) => last.types[t].bufferSize).join('/') +
    (ev ? ' · held-out mean ' + Math.round(100 * ev.eval.mean) + '% (it ' + ev.iteration + ')' : '');
}

function renderTasks(samples) {
  const role = document.getElementById('role').value,
    type = document.getElementById('type').value;
  const rows = samples
    .slice()
    .reverse()
    .filter((s) => (!role || s.role === role) && (!type || s.type === type));
  document.getElementById('tasks').innerHTML = rows
    .map((s) => {
      const text = String(s.completion || '');
      const first = (text.split('\n').find((l) => l.trim() && !/^\s*\x60{3}/.test(l)) || '').slice(0, 40);
      return (
        '<tr class="task" data-role="' +
        s.role +
        '"><td>' +
        s.iteration +
        '</td><td>' +
        esc(s.type) +
        '</td><td>' +
        esc(s.role) +
        '</td><td>' +
        esc(s.lang) +
        '</td><td><pre>' +
        esc(s.program) +
        '</pre></td><td><pre>' +
        esc(s.input) +
        '</pre></td><td><pre>' +
        esc(s.output) +
        '</pre></td><td><details><summary>' +
        esc(first || '(empty)') +
        '</summary><pre>' +
        esc(text) +
        '</pre></details></td><td>' +
        fmt(s.reward) +
        '</td><td class="' +
        (s.ok
          ? 'ok">' + (s.role === 'solver' ? 'correct' : 'valid')
          : 'bad"' +
            (s.detail ? ' title="' + esc(s.detail) + '"' : '') +
            '>' +
            esc(s.reason || (s.role === 'solver' ? 'wrong' : 'invalid'))) +
        '</td></tr>'
      );
    })
    .join('');
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function loadRun() {
  const run = await getJson('/api/run');
  document.getElementById('title').textContent = 'absolute-zero · ' + run.dir;
  document.title = run.dir + ' · absolute-zero';
  const c = run.config;
  if (c && typeof c === 'object') {
    const bits = [];
    if (c.seed !== undefined) bits.push('seed ' + c.seed);
    if (c.lang) bits.push(c.lang);
    if (c.model?.preset) bits.push('model ' + c.model.preset);
    if (c.selfplay?.taskTypes) bits.push(c.selfplay.taskTypes.join(', '));
    if (c.minutes) bits.push(c.minutes + ' min budget');
    if (c.iterations) bits.push(c.iterations + ' iterations');
    document.getElementById('config').textContent = bits.join(' · ');
  }
}

let busy = false;
async function poll() {
  if (busy) return;
  busy = true;
  const errors = [];
  try {
    if (polls++ % 10 === 0) await loadRun().catch((e) => errors.push('run: ' + e.message));
    const since = metrics.length ? metrics[metrics.length - 1].iteration : 0;
    let m = await getJson('/api/metrics?since=' + since);
    if (generation !== null && m.generation !== generation) {
      // The file was truncated (a resumed run redoes an iteration): start over.
      metrics = [];
      m = await getJson('/api/metrics?since=0');
    }
    const changed = m.records.length > 0 || generation !== m.generation || polls === 1;
    generation = m.generation;
    metrics = metrics.concat(m.records);
    if (m.error) errors.push(m.error);
    if (changed) render();
    const s = await getJson('/api/samples?limit=60');
    if (s.error) errors.push(s.error);
    const key = JSON.stringify(s.samples);
    if (key !== lastSamples) {
      lastSamples = key;
      renderTasks(s.samples);
    }
  } catch (e) {
    errors.push('cannot reach the dashboard server: ' + e.message);
  } finally {
    busy = false;
    document.getElementById('error').textContent = errors.join('\n');
  }
}

document.getElementById('smooth').addEventListener('change', render);
for (const id of ['role', 'type'])
  document.getElementById(id).addEventListener('change', () => renderTasks(JSON.parse(lastSamples || '[]')));

// Hover: a dashed cursor at the nearest iteration and the series' values there.
const tip = document.getElementById('tip');
document.getElementById('plots').addEventListener('mousemove', (ev) => {
  const svg = ev.target.closest?.('svg');
  const d = svg && drawn[svg.dataset.plot];
  if (!d) {
    tip.style.display = 'none';
    return;
  }
  const box = svg.getBoundingClientRect();
  const vx = ((ev.clientX - box.left) / box.width) * W;
  const x = d.x0 + ((vx - ML) / (W - ML - MR)) * (d.x1 - d.x0);
  let best = null;
  for (const s of d.series)
    for (const q of s.points) if (best === null || Math.abs(q[0] - x) < Math.abs(best - x)) best = q[0];
  if (best === null) return;
  const cur = svg.querySelector('.cursor');
  cur.setAttribute('x1', d.px(best));
  cur.setAttribute('x2', d.px(best));
  cur.setAttribute('visibility', 'visible');
  tip.innerHTML =
    '<b>iteration ' +
    best +
    '</b>' +
    d.series
      .map((s) => {
        const q = s.points.find((p) => p[0] === best);
        return q ? '<br><span style="color:' + s.color + '">' + esc(s.label) + '</span> ' + fmt(q[1]) : '';
      })
      .join('');
  tip.style.display = 'block';
  tip.style.left = ev.clientX + 14 + 'px';
  tip.style.top = ev.clientY + 10 + 'px';
});
document.getElementById('plots').addEventListener('mouseleave', () => {
  tip.style.display = 'none';
  for (const c of document.querySelectorAll('.cursor')) c.setAttribute('visibility', 'hidden');
});

poll();
setInterval(poll, POLL_MS);
