// Task-Relative REINFORCE++ (Absolute Zero, eq. 8): rewards are normalised within each (task type x role)
// group of a batch, so each of the six groups has its own baseline and scale:
//
//   A_i = (r_i - mean_g) / (std_g + eps)      for sample i of group g
//
// A group of one sample, or whose rewards are all equal, carries no relative information and gets A = 0.
// The standard deviation is the population one (divide by n) by default, so a two-sample group with
// different rewards gets exactly +-1; `unbiased` divides by n - 1 instead, as the reference code's
// whitening does (it also weights by token count, which we do not: the paper's formula is per sequence).

export interface Scored {
  /** The (task type x role) group, e.g. groupKey('deduction', 'solver'). */
  group: string;
  reward: number;
}

export const TRR_EPS = 1e-6;

export interface TrrOptions {
  eps?: number;
  /** Sample standard deviation (n - 1); default false (population, n). */
  unbiased?: boolean;
}

export interface GroupStats {
  n: number;
  mean: number;
  std: number;
}

/** Count, mean and standard deviation of the rewards of each group (two passes, for accuracy). */
export function groupStats(items: readonly Scored[], unbiased = false): Map<string, GroupStats> {
  type Acc = { n: number; sum: number; sq: number; min: number; max: number };
  const acc = new Map<string, Acc>();
  for (const { group, reward } of items) {
    if (!Number.isFinite(reward)) throw new RangeError(`reward of group ${group} is not finite: ${reward}`);
    const s = acc.get(group) ?? { n: 0, sum: 0, sq: 0, min: reward, max: reward };
    s.n++;
    s.sum += reward;
    s.min = Math.min(s.min, reward);
    s.max = Math.max(s.max, reward);
    acc.set(group, s);
  }
  for (const { group, reward } of items) {
    const s = acc.get(group) as Acc;
    const d = reward - s.sum / s.n;
    s.sq += d * d;
  }
  const out = new Map<string, GroupStats>();
  for (const [g, s] of acc) {
    const dof = unbiased ? s.n - 1 : s.n;
    // Equal rewards have no spread; rounding in the mean must not invent one.
    const std = s.min === s.max || dof <= 0 ? 0 : Math.sqrt(s.sq / dof);
    out.set(g, { n: s.n, mean: s.sum / s.n, std });
  }
  return out;
}

/** Per-sample advantages, in the order of `items`. */
export function trrAdvantages(items: readonly Scored[], opts: TrrOptions = {}): number[] {
  const eps = opts.eps ?? TRR_EPS;
  const stats = groupStats(items, opts.unbiased ?? false);
  return items.map(({ group, reward }) => {
    const s = stats.get(group) as GroupStats;
    if (s.n < 2 || s.std === 0) return 0;
    return (reward - s.mean) / (s.std + eps);
  });
}
