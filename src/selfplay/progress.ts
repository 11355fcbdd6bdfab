// The one terminal line per iteration.
import type { IterationMetrics } from './metrics.js';

const pct = (x: number) => `${Math.round(100 * x)}%`.padStart(4);
const short: Record<string, string> = { deduction: 'ded', abduction: 'abd', induction: 'ind' };

function clock(s: number): string {
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return `${m}:${String(sec).padStart(2, '0')}`;
}

export function formatProgressLine(m: IterationMetrics): string {
  const types = Object.entries(m.types);
  const solve = types.map(([t, x]) => `${short[t] ?? t} ${pct(x.solveRate)}`).join(' ');
  const valid = types.map(([, x]) => pct(x.validRate).trim()).join('/');
  const learn = types.map(([, x]) => x.learnability.toFixed(2)).join('/');
  const buffers = types.map(([, x]) => x.bufferSize).join('/');
  return (
    `it ${String(m.iteration).padStart(4)} ${clock(m.timeS).padStart(6)} | solve ${solve} | valid ${valid}` +
    ` | learn ${learn} | buf ${buffers} | ${Math.round(m.tokensPerS)} tok/s ${Math.round(m.execsPerS)} exec/s` +
    ` | loss ${m.loss.toFixed(3)} | ${m.iterationS.toFixed(1)}s (sample ${m.phases.sample.toFixed(1)}` +
    ` exec ${m.phases.execute.toFixed(1)} update ${m.phases.update.toFixed(1)})`
  );
}
