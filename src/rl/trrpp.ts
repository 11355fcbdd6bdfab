// Task-Relative REINFORCE++ (Absolute Zero, eq. 8): rewards are normalised within each (task type x role)
// group of a batch, so each of the six groups has its own baseline and scale.

export interface Scored {
  group: string;
  reward: number;
}

export const TRR_EPS = 1e-6;

/** A = (r - mean_group) / (std_group + eps); a group of one, or with zero variance, gets 0. */
export function trrAdvantages(items: readonly Scored[], eps = TRR_EPS): number[] {
  const stats = new Map<string, { n: number; sum: number; sq: number }>();
  for (const { group, reward } of items) {
    if (!Number.isFinite(reward)) throw new RangeError(`reward of group ${group} is not finite: ${reward}`);
    const s = stats.get(group) ?? { n: 0, sum: 0, sq: 0 };
    s.n++;
    s.sum += reward;
    stats.set(group, s);
  }
  const mean = new Map<string, number>();
  for (const [g, s] of stats) mean.set(g, s.sum / s.n);
  for (const { group, reward } of items) {
    const s = stats.get(group) as { sq: number };
    const d = reward - (mean.get(group) as number);
    s.sq += d * d;
  }
  return items.map(({ group, reward }) => {
    const s = stats.get(group) as { n: number; sq: number };
    if (s.n < 2) return 0;
    const std = Math.sqrt(s.sq / s.n); // population std, as in the reference's batch normalisation
    if (std === 0) return 0;
    return (reward - (mean.get(group) as number)) / (std + eps);
  });
}
