// pass@k, the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
// Code", section 2.1): with n samples of a task of which c pass, the chance that k samples drawn without
// replacement include at least one that passes,
//
//   pass@k = 1 - C(n - c, k) / C(n, k),
//
// computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i) (the paper's numerically stable form: no factorials,
// so no overflow for any n, and each factor lies in [0, 1)). Averaged over tasks, it estimates the chance
// that a model solves a task within k attempts.

function checkCounts(n: number, c: number, k: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`pass@k: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(c) || c < 0 || c > n)
    throw new RangeError(`pass@k: c must be an integer in [0, n = ${n}], got ${c}`);
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new RangeError(`pass@k: k must be an integer in [1, n = ${n}], got ${k}`);
}

/** The unbiased pass@k of one task with `n` samples, `c` of them correct. */
export function passAtK(n: number, c: number, k: number): number {
  checkCounts(n, c, k);
  if (n - c < k) return 1; // every k-subset holds a correct sample
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** The mean pass@k over tasks, each with its own sample and correct counts (k at most every task's n). */
export function meanPassAtK(tasks: readonly { n: number; c: number }[], k: number): number {
  if (tasks.length === 0) throw new RangeError('pass@k: no tasks');
  return tasks.reduce((s, t) => s + passAtK(t.n, t.c, k), 0) / tasks.length;
}
