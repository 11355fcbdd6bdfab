// `azr plot RUN_DIR --out FILE.png`: the run's curves as a PNG drawn by the project (solve rate, valid
// proposals and proposer reward per task type, and held-out accuracy where evaluations ran).
import { writeFileSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const plotUsage = `usage: azr plot RUN_DIR --out FILE.png [--window N]
  --out FILE.png   where to write the figure
  --window N       moving average over N iterations for the per-iteration curves (default 5; 1 = raw)
`;

export async function plotCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(plotUsage);
    return 0;
  }
  let dir: string;
  let out: string;
  let window: number;
  try {
    const p = parseFlags(argv, { out: { type: 'string' }, window: { type: 'string' } }, true);
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    const o = stringFlag(p.values, 'out');
    if (!o) throw new UsageError('--out FILE.png is required');
    if (!o.toLowerCase().endsWith('.png'))
      throw new UsageError(`--out writes a PNG; name it FILE.png, got '${o}'`);
    out = o;
    window = intFlag(p.values, 'window', 1, 1000) ?? 5;
  } catch (e) {
    process.stderr.write(`azr plot: ${(e as Error).message}\n${plotUsage}`);
    return 2;
  }
  const { RunDir } = await import('../run/rundir.js');
  const { readMetricsFile, readFinalEval } = await import('../run/metrics.js');
  const { renderMetricsPlots } = await import('../plot/chart.js');
  let records: Awaited<ReturnType<typeof readMetricsFile>>['records'];
  let finalEval: ReturnType<typeof readFinalEval>;
  try {
    const run = new RunDir(dir);
    records = readMetricsFile(run.metricsPath).records;
    finalEval = readFinalEval(run.finalEvalPath);
  } catch (e) {
    process.stderr.write(`azr plot: ${(e as Error).message}\n`);
    return 1;
  }
  if (records.length === 0) {
    process.stderr.write(`azr plot: no metrics in ${dir} yet (metrics.jsonl is missing or empty)\n`);
    return 1;
  }
  try {
    writeFileSync(out, renderMetricsPlots(records, window, finalEval));
  } catch (e) {
    process.stderr.write(`azr plot: cannot write ${out}: ${(e as Error).message}\n`);
    return 1;
  }
  const evals = records.filter((r) => r.eval).length + (finalEval ? 1 : 0);
  process.stdout.write(`wrote ${out} (${records.length} iterations, ${evals} evaluations)\n`);
  return 0;
}
