import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce } from '../../src/policy/coalesce.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';

// A policy whose answer is a pure function of each request (as a seeded sampler's is), recording the
// batch sizes it was called with.
function echoPolicy(calls: number[], fail = false): Policy {
  return {
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      calls.push(requests.length);
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('engine down');
      return requests.map((r) =>
        Array.from({ length: r.n }, (_, i) => ({
          text: `${r.prompt}#${r.seed}#${i}`,
          finishReason: 'stop' as const,
        })),
      );
    },
    async close() {},
  };
}

const req = (prompt: string, n = 1): GenerateRequest => ({
  prompt,
  n,
  temperature: 1,
  topP: 1,
  maxTokens: 8,
  seed: prompt.length,
});

test('concurrent calls share batches and each caller gets exactly its own results', async () => {
  const calls: number[] = [];
  const policy = coalesce(echoPolicy(calls));
  const [a, b, c] = await Promise.all([
    policy.generate([req('a'), req('bb', 2)]),
    policy.generate([req('ccc')]),
    policy.generate([req('dddd'), req('e')]),
  ]);
  assert.deepEqual(calls, [5], 'one batch for calls made in the same tick');
  assert.deepEqual(
    a.map((cs) => cs.map((c) => c.text)),
    [['a#1#0'], ['bb#2#0', 'bb#2#1']],
  );
  assert.deepEqual(b[0]?.[0]?.text, 'ccc#3#0');
  assert.deepEqual(
    c.map((cs) => cs[0]?.text),
    ['dddd#4#0', 'e#1#0'],
  );
  // A call arriving while a batch runs goes into the next batch.
  const first = policy.generate([req('x')]);
  await new Promise((r) => setTimeout(r, 1));
  const second = policy.generate([req('y'), req('z')]);
  await Promise.all([first, second]);
  assert.deepEqual(calls, [5, 1, 2]);
  assert.equal(policy.batches, 3);
});

test('an inner failure rejects every caller of that batch, and later batches still run', async () => {
  const calls: number[] = [];
  const policy = coalesce(echoPolicy(calls, true));
  const results = await Promise.allSettled([policy.generate([req('a')]), policy.generate([req('b')])]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  await assert.rejects(policy.generate([req('c')]), /engine down/);
  assert.deepEqual(calls, [2, 1]);
});
