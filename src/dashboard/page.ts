// The dashboard page: one self-contained HTML document (inline script and SVG, no external assets) that
// polls the server's JSON endpoints and redraws its plots and the table of recent tasks.
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>absolute-zero</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; } #status { color: #666; margin-bottom: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.panel { border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
.panel h2 { font-size: 13px; margin: 0 0 4px; }
svg { width: 100%; height: 180px; }
table { border-collapse: collapse; width: 100%; margin-top: 16px; font-size: 12px; }
td, th { border-bottom: 1px solid #eee; padding: 4px; text-align: left; vertical-align: top; }
pre { margin: 0; white-space: pre-wrap; font-size: 11px; }
.ok { color: #2a2; } .bad { color: #c22; }
</style></head>
<body>
<h1>absolute-zero self-play</h1>
<div id="status">loading…</div>
<div class="grid" id="plots"></div>
<table><thead><tr><th>it</th><th>type</th><th>role</th><th>program</th><th>input</th><th>output</th><th>ok</th></tr></thead>
<tbody id="tasks"></tbody></table>
<script>
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const TYPES = ['deduction', 'abduction', 'induction'];
const PLOTS = [
  ['solve rate', (m, t) => m.types[t] && m.types[t].solveRate],
  ['proposer reward', (m, t) => m.types[t] && m.types[t].proposerReward],
  ['valid proposals', (m, t) => m.types[t] && m.types[t].validRate],
  ['duplicate proposals', (m, t) => m.types[t] && m.types[t].duplicateRate],
  ['program length (chars)', (m, t) => m.types[t] && m.types[t].programChars],
  ['diversity', (m, t) => m.types[t] && m.types[t].diversity],
  ['solver completion tokens', (m, t) => m.types[t] && m.types[t].solverTokens],
  ['proposer completion tokens', (m, t) => m.types[t] && m.types[t].proposerTokens],
];
let metrics = [];
function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
function plot(title, series) {
  const W = 380, H = 170, L = 40, B = 20;
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs, 1), x1 = Math.max(...xs, 2), y0 = Math.min(...ys, 0), y1 = Math.max(...ys, 0.01);
  const px = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - 8), py = (y) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - B - 8);
  let svg = '<svg viewBox="0 0 ' + W + ' ' + H + '" data-title="' + esc(title) + '">';
  svg += '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + W + '" y2="' + (H - B) + '" stroke="#999"/>';
  svg += '<text x="2" y="12" font-size="10">' + y1.toFixed(2) + '</text><text x="2" y="' + (H - B) + '" font-size="10">' + y0.toFixed(2) + '</text>';
  svg += '<text x="' + (W - 30) + '" y="' + (H - 4) + '" font-size="10">it ' + x1 + '</text>';
  series.forEach((s, i) => {
    if (!s.points.length) return;
    svg += '<polyline class="series" data-label="' + esc(s.label) + '" data-points="' + s.points.length + '" fill="none" stroke="' + COLORS[i] + '" stroke-width="1.5" points="' + s.points.map((p) => px(p[0]).toFixed(1) + ',' + py(p[1]).toFixed(1)).join(' ') + '"/>';
    svg += '<text x="' + (L + 6 + i * 80) + '" y="12" font-size="10" fill="' + COLORS[i] + '">' + esc(s.label) + '</text>';
  });
  return '<div class="panel"><h2>' + esc(title) + '</h2>' + svg + '</svg></div>';
}
function render() {
  const html = PLOTS.map(([title, f]) => plot(title, TYPES.map((t) => ({ label: t, points: metrics.filter((m) => f(m, t) !== undefined).map((m) => [m.iteration, f(m, t)]) }))));
  html.push(plot('loss', [{ label: 'loss', points: metrics.map((m) => [m.iteration, m.loss]) }]));
  const ev = metrics.filter((m) => m.eval);
  html.push(plot('held-out accuracy', [...TYPES, 'mean'].map((t) => ({ label: t, points: ev.map((m) => [m.iteration, m.eval[t]]) }))));
  document.getElementById('plots').innerHTML = html.join('');
  const last = metrics[metrics.length - 1];
  document.getElementById('status').textContent = last
    ? 'iteration ' + last.iteration + ' · ' + (last.timeS / 60).toFixed(1) + ' min · ' + Math.round(last.tokensPerS) + ' tok/s · ' + Math.round(last.execsPerS) + ' exec/s'
    : 'waiting for the first iteration…';
}
let polling = false;
async function poll() {
  if (polling) return; // a slow answer must not let two polls append the same records
  polling = true;
  try {
    const since = metrics.length ? metrics[metrics.length - 1].iteration : 0;
    const fresh = (await (await fetch('/api/metrics?since=' + since)).json()).filter((m) => m.iteration > since);
    if (fresh.length) { metrics = metrics.concat(fresh); render(); }
    const samples = await (await fetch('/api/samples?limit=30')).json();
    document.getElementById('tasks').innerHTML = samples.reverse().map((s) =>
      '<tr class="task"><td>' + s.iteration + '</td><td>' + s.type + '</td><td>' + s.role + '</td><td><pre>' + esc(s.program ?? s.completion) + '</pre></td><td><pre>' + esc(s.input) + '</pre></td><td><pre>' + esc(s.output) + '</pre></td><td class="' + (s.ok ? 'ok">yes' : 'bad">' + esc(s.reason ?? 'no')) + '</td></tr>').join('');
    if (!metrics.length) render();
  } catch (e) { document.getElementById('status').textContent = 'server unreachable: ' + e.message; }
  finally { polling = false; }
}
poll(); setInterval(poll, Number(new URLSearchParams(location.search).get('poll') ?? 3000));
</script></body></html>`;
