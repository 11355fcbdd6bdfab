// The one terminal line per iteration: enough to see a run move (solve rates, valid proposals and why
// the others were rejected, how many distinct programs they hold, learnability, buffers and their share
// of distinct programs, throughput) without opening the dashboard.
//
//   it   12   4:05 | solve ded 25% abd 50% ind  6% | valid 44/38/19% dup 0/6/0% copy 19/6/0%
//   | distinct 100/83/-% | learn .18/.33/.00 | buf 12/8/9 (100/88/67% distinct) | 437 tok/s 645 exec/s
//   | loss 0.050 | 20.0s (sample 5.6 exec 0.1 update 14.3) | 1.8 GB | eval 12%
//
// Records of runs made before the copy check lack `copy` and the distinct shares; so does their line.
import type { IterationMetrics, TypeMetrics } from '../run/metrics.js';

export interface ProgressOptions {
  /** Colour the solve rates (red low, yellow middle, green high) with ANSI codes; default false. */
  color?: boolean;
  /** Drop the per-phase timing part (shorter lines for narrow terminals); default false. */
  compact?: boolean;
}

const SHORT: Record<string, string> = { deduction: 'ded', abduction: 'abd', induction: 'ind' };

const pct = (x: number) => `${Math.round(100 * x)}`;

/** Seconds as m:ss, or h:mm:ss from an hour on. */
export function formatClock(totalS: number): string {
  const s = Math.max(0, Math.floor(totalS));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A reward or learnability in [-1, 1] in three or four characters: .25, -.50, 1.00. */
function short2(x: number): string {
  const t = x.toFixed(2);
  return t.replace(/^(-?)0\./, '$1.');
}

function paint(text: string, rate: number, color: boolean): string {
  if (!color) return text;
  const code = rate < 0.2 ? 31 : rate < 0.5 ? 33 : 32;
  return `\x1b[${code}m${text}\x1b[0m`;
}

/** One line describing an iteration's record (no trailing newline). */
export function formatProgressLine(m: IterationMetrics, opts: ProgressOptions = {}): string {
  const types = Object.entries(m.types).filter((e): e is [string, TypeMetrics] => e[1] !== undefined);
  const solve = types
    .map(
      ([t, x]) => `${SHORT[t] ?? t} ${paint(`${pct(x.solveRate)}%`.padStart(4), x.solveRate, !!opts.color)}`,
    )
    .join(' ');
  const valid = `${types.map(([, x]) => pct(x.validRate)).join('/')}%`;
  const dup = `${types.map(([, x]) => pct(x.duplicateRate)).join('/')}%`;
  // A figure per type, '-' where a type has none (no valid proposal), or undefined when no type has one.
  const perType = (f: (x: TypeMetrics) => number | undefined): string | undefined =>
    types.some(([, x]) => f(x) !== undefined)
      ? `${types.map(([, x]) => (f(x) === undefined ? '-' : pct(f(x) as number))).join('/')}%`
      : undefined;
  const copy = perType((x) => x.copyRate);
  const distinct = perType((x) => x.distinctShare);
  const bufferDistinct = perType((x) => x.bufferDistinctShare);
  const learn = types.map(([, x]) => short2(x.validProposerReward)).join('/');
  const buffers = types.map(([, x]) => x.bufferSize).join('/');
  const parts = [
    `it ${String(m.iteration).padStart(4)} ${formatClock(m.timeS).padStart(7)}`,
    `solve ${solve}`,
    `valid ${valid} dup ${dup}${copy ? ` copy ${copy}` : ''}`,
    ...(distinct ? [`distinct ${distinct}`] : []),
    `learn ${learn}`,
    `buf ${buffers}${bufferDistinct ? ` (${bufferDistinct} distinct)` : ''}`,
    `${Math.round(m.tokensPerS)} tok/s ${Math.round(m.execsPerS)} exec/s`,
    `loss ${m.loss.toFixed(3)}`,
  ];
  if (!opts.compact) {
    parts.push(
      `${m.iterationS.toFixed(1)}s (sample ${m.phases.sample.toFixed(1)} exec ${m.phases.execute.toFixed(1)}` +
        ` update ${m.phases.update.toFixed(1)})`,
    );
    if (m.rssMb !== undefined) parts.push(`${(m.rssMb / 1000).toFixed(1)} GB`);
  }
  if (m.eval) parts.push(`eval ${pct(m.eval.mean)}%`);
  return parts.join(' | ');
}
