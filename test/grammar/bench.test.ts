// A micro-benchmark that only prints: timings on a shared 2-core machine are too noisy to assert.
import { test } from 'node:test';
import type { Lang } from '../../src/executor/types.js';
import { azrConstraint, type GrammarMatcher } from '../../src/grammar/index.js';
import type { Role, TaskType } from '../../src/tasks/types.js';
import { Rng } from '../../src/util/rng.js';

const V = 272;

test('mask speed per step for each AZR grammar (printed, not asserted)', () => {
  const rng = new Rng(9);
  const mask = new Uint8Array(V);
  const lines: string[] = [];
  for (const lang of ['python', 'javascript'] as Lang[]) {
    for (const [type, role, budget] of [
      ['deduction', 'proposer', 160],
      ['induction', 'proposer', 160],
      ['deduction', 'solver', 96],
      ['induction', 'solver', 96],
    ] as [TaskType, Role, number][]) {
      const c = azrConstraint(type, role, lang, 4);
      let maskMs = 0;
      let acceptMs = 0;
      let steps = 0;
      let maxStacks = 0;
      for (let walk = 0; walk < 20; walk++) {
        const m = c.start() as GrammarMatcher;
        for (let used = 0; used < budget; used++) {
          const t0 = performance.now();
          m.allowedTokens(mask, budget - used);
          const t1 = performance.now();
          const ids: number[] = [];
          for (let i = 0; i < V; i++) if (mask[i]) ids.push(i);
          if (ids.length === 0) break;
          const t2 = performance.now();
          m.accept(rng.pick(ids));
          acceptMs += performance.now() - t2;
          maskMs += t1 - t0;
          steps++;
          maxStacks = Math.max(maxStacks, m.stackCount());
        }
      }
      lines.push(
        `${c.name.padEnd(30)} mask ${((1000 * maskMs) / steps).toFixed(1).padStart(6)} us  accept ${((1000 * acceptMs) / steps).toFixed(1).padStart(6)} us  per step (${steps} steps, max ${maxStacks} stacks)`,
      );
    }
  }
  console.log(`grammar mask benchmark:\n${lines.join('\n')}`);
});
