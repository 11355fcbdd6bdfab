// bench:weights — how long it takes to turn each pulled model into float32 tensors: every tensor read
// from disk, dequantized and (for Llama) unpermuted, one at a time, as the engine loads a checkpoint.
// Each model is measured in a fresh process (so its peak RSS is its own), and right after it gguf-py
// does the same work on the same file (bench/ref/gguf_dequantize.py) as the anchor, so the ratio is
// measured under the same load.
//
//   npm run bench:weights [-- --models DIR] [--model NAME]...   (PYTHON=... picks the anchor's Python)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PULLABLE_MODELS, pulledModelFiles } from '../src/model/pullable-models.js';
import { openPretrained } from '../src/model/resolve-model.js';

interface Measured {
  wallS: number;
  cpuS: number;
  weights: number;
  peakRssMb: number;
}

/** Child mode: load every tensor of one model and report. */
function measureOne(path: string): void {
  const wall = performance.now();
  const cpu0 = process.cpuUsage();
  const ckpt = openPretrained(path);
  const byType = new Map<string, { weights: number; cpuS: number }>();
  let weights = 0;
  for (const t of ckpt.tensors.values()) {
    const c0 = process.cpuUsage();
    const data = ckpt.read(t.name);
    const c1 = process.cpuUsage(c0);
    const entry = byType.get(t.stored) ?? { weights: 0, cpuS: 0 };
    entry.weights += data.length;
    entry.cpuS += (c1.user + c1.system) / 1e6;
    byType.set(t.stored, entry);
    weights += data.length;
  }
  const cpu = process.cpuUsage(cpu0);
  const out: Measured & { byType: Record<string, { weights: number; cpuS: number }> } = {
    wallS: (performance.now() - wall) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    weights,
    peakRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    byType: Object.fromEntries(byType),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function anchorPython(): string | undefined {
  const home = process.env.AZR_TINKER_HOME || join(homedir(), '.cache', 'azr-tinker');
  const candidates = [process.env.PYTHON, join(home, 'venv', 'bin', 'python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import gguf'], { stdio: 'ignore' });
      return py;
    } catch {}
  }
  return undefined;
}

const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    model: { type: 'string', multiple: true },
    one: { type: 'string' },
  },
});
if (values.one) {
  measureOne(values.one);
} else {
  const folder = values.models ?? process.env.AZR_MODELS ?? 'models';
  const names = values.model ?? PULLABLE_MODELS.map((m) => m.name);
  const python = anchorPython();
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, unknown> = {};
  for (const name of names) {
    const path = pulledModelFiles(name, folder).gguf;
    if (!existsSync(path)) {
      console.log(`${name}: not in ${folder} (npx azr pull ${name}); skipped`);
      continue;
    }
    const run = spawnSync(process.execPath, [self, '--one', path], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${name}: ${run.stderr}`);
    const ours = JSON.parse(run.stdout) as Measured & {
      byType: Record<string, { weights: number; cpuS: number }>;
    };
    let anchor: Measured | undefined;
    if (python)
      anchor = JSON.parse(execFileSync(python, ['bench/ref/gguf_dequantize.py', path], { encoding: 'utf8' }));
    const types = Object.entries(ours.byType)
      .map(([t, v]) => `${t} ${(v.weights / v.cpuS / 1e6).toFixed(0)}M/s`)
      .join(', ');
    console.log(
      `${name}: ${(ours.weights / 1e6).toFixed(1)}M weights in ${ours.wallS.toFixed(2)} s (CPU ${ours.cpuS.toFixed(2)} s), ` +
        `peak RSS ${ours.peakRssMb.toFixed(0)} MB; per type (CPU): ${types}`,
    );
    if (anchor)
      console.log(
        `${name}: gguf-py ${anchor.wallS.toFixed(2)} s (CPU ${anchor.cpuS.toFixed(2)} s), peak RSS ` +
          `${anchor.peakRssMb.toFixed(0)} MB; ours/gguf-py CPU time ${(ours.cpuS / anchor.cpuS).toFixed(2)}`,
      );
    results[name] = { ours, ggufPy: anchor ?? null };
  }
  if (!python) console.log('gguf-py anchor skipped: no Python that imports gguf (set PYTHON to choose one)');
  console.log(JSON.stringify(results));
}
