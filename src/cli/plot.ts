// `azr plot RUN_DIR --out FILE.png`: the run's curves as a PNG (solve rate, valid proposals, proposer
// reward, held-out accuracy).
import { writeFileSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const plotUsage = 'usage: azr plot RUN_DIR --out FILE.png [--window N]\n';

export async function plotCommand(argv: string[]): Promise<number> {
  let dir: string;
  let out: string;
  let window: number;
  try {
    const p = parseFlags(argv, { out: { type: 'string' }, window: { type: 'string' } }, true);
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    const o = stringFlag(p.values, 'out');
    if (!o) throw new UsageError('--out FILE.png is required');
    out = o;
    window = intFlag(p.values, 'window', 1, 1000) ?? 5;
  } catch (e) {
    process.stderr.write(`azr plot: ${(e as Error).message}\n${plotUsage}`);
    return 2;
  }
  const { RunDir } = await import('../selfplay/rundir.js');
  const { readMetrics } = await import('../selfplay/metrics.js');
  const { metricsPanels, renderPanels } = await import('../plot/chart.js');
  const records = readMetrics(new RunDir(dir).metricsPath);
  if (records.length === 0) {
    process.stderr.write(`azr plot: no metrics in ${dir}\n`);
    return 2;
  }
  writeFileSync(out, renderPanels(metricsPanels(records, window)));
  process.stdout.write(`wrote ${out} (${records.length} iterations)\n`);
  return 0;
}
