import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import { merge, PRESETS } from '../../src/run/config.js';
import { readFinalEval } from '../../src/run/metrics.js';
import { openSession, SessionError } from '../../src/run/session.js';
import { type IterationRunner, runSelfPlay } from '../../src/selfplay/loop.js';
import { appendJsonl, readJsonl } from '../../src/util/jsonl.js';

const root = mkdtempSync(join(tmpdir(), 'azr-loop-'));
after(() => rmSync(root, { recursive: true, force: true }));

// The loop shell only needs a policy that can save; the model itself is exercised by the e2e test.
const savingPolicy: Policy = {
  async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
    return requests.map(() => []);
  },
  async save(dir: string) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'weights'), 'w');
  },
  async close() {},
};

function recordingRunner(metricsPath: () => string, draws: number[]): IterationRunner {
  return async ({ iteration, rng }) => {
    draws.push(rng.nextU32());
    appendJsonl(metricsPath(), [{ iteration }]);
    return { bufferSizes: { deduction: iteration }, progressLine: `it ${iteration}` };
  };
}

test('runs to the iteration budget, commits state, keeps only the newest checkpoint', async () => {
  const config = merge(PRESETS.tiny, { iterations: 3, checkpointEvery: 1 });
  const session = openSession(join(root, 'a'), config, false);
  const lines: string[] = [];
  const result = await runSelfPlay(session, {
    policy: savingPolicy,
    iterate: recordingRunner(() => session.dir.metricsPath, []),
    log: (l) => lines.push(l),
  });
  assert.equal(result.stoppedBy, 'iterations');
  assert.equal(result.iteration, 3);
  assert.deepEqual(lines, ['it 1', 'it 2', 'it 3']);
  const state = session.dir.readState();
  assert.equal(state?.iteration, 3);
  assert.equal(state?.checkpoint, 'iter-000003');
  assert.deepEqual(state?.bufferSizes, { deduction: 3 });
  assert.deepEqual(readdirSync(session.dir.checkpointsDir), ['iter-000003']);
});

test('a new run refuses a directory holding a run', () => {
  assert.throws(() => openSession(join(root, 'a'), PRESETS.tiny, false), SessionError);
});

test('resume drops uncommitted lines and replays the same random stream', async () => {
  const config = merge(PRESETS.tiny, { iterations: 4, checkpointEvery: 2 });
  const straightDraws: number[] = [];
  const straight = openSession(join(root, 'straight'), config, false);
  await runSelfPlay(straight, {
    policy: savingPolicy,
    iterate: recordingRunner(() => straight.dir.metricsPath, straightDraws),
  });

  // Stop after iteration 3: iteration 3 wrote a metrics line but only iteration 2 was committed.
  const dir = join(root, 'killed');
  const first = openSession(dir, merge(config, { iterations: 3 }), false);
  const firstDraws: number[] = [];
  const controller = new AbortController();
  await runSelfPlay(first, {
    policy: savingPolicy,
    iterate: async (ctx) => {
      const out = await recordingRunner(() => first.dir.metricsPath, firstDraws)(ctx);
      if (ctx.iteration === 3) throw new Error('killed');
      return out;
    },
    signal: controller.signal,
  }).catch((e: Error) => assert.equal(e.message, 'killed'));
  assert.equal(first.dir.readState()?.iteration, 2);
  assert.equal(readJsonl(first.dir.metricsPath).records.length, 3);

  const resumed = openSession(dir, config, true);
  assert.equal(readJsonl(resumed.dir.metricsPath).records.length, 2, 'uncommitted line dropped');
  const resumedDraws: number[] = [];
  await runSelfPlay(resumed, {
    policy: savingPolicy,
    iterate: recordingRunner(() => resumed.dir.metricsPath, resumedDraws),
  });
  assert.deepEqual([...firstDraws.slice(0, 2), ...resumedDraws], straightDraws);
  assert.deepEqual(
    readJsonl<{ iteration: number }>(resumed.dir.metricsPath).records.map((r) => r.iteration),
    [1, 2, 3, 4],
  );
});

test('an abort stops after the iteration in flight and commits it with a checkpoint', async () => {
  const config = merge(PRESETS.tiny, { iterations: 100, checkpointEvery: 50 });
  const session = openSession(join(root, 'abort'), config, false);
  const controller = new AbortController();
  const result = await runSelfPlay(session, {
    policy: savingPolicy,
    iterate: async (ctx) => {
      if (ctx.iteration === 2) controller.abort();
      return { bufferSizes: {}, progressLine: '' };
    },
    signal: controller.signal,
  });
  assert.equal(result.stoppedBy, 'signal');
  assert.equal(result.iteration, 2);
  assert.equal(session.dir.readState()?.checkpoint, 'iter-000002');
  assert.ok(existsSync(join(session.dir.checkpointPath('iter-000002'), 'weights')));
});

test('evaluations run before every evalEvery-th iteration and after the last, which final-eval.json keeps', async () => {
  const config = merge(PRESETS.tiny, { iterations: 3, evalEvery: 2 });
  const session = openSession(join(root, 'evals'), config, false);
  const lines: string[] = [];
  let calls = 0;
  await runSelfPlay(session, {
    policy: savingPolicy,
    iterate: recordingRunner(() => session.dir.metricsPath, []),
    evaluate: async () => {
      calls++;
      return { deduction: calls / 10, abduction: 0, induction: 0, mean: calls / 30 };
    },
    log: (l) => lines.push(l),
  });
  assert.equal(calls, 3, 'before iterations 1 and 3, and after 3');
  assert.match(lines.at(-1) as string, /^eval after iteration 3: deduction 30\.0%/);
  const final = readFinalEval(session.dir.finalEvalPath);
  assert.deepEqual(final, {
    afterIteration: 3,
    eval: { deduction: 0.3, abduction: 0, induction: 0, mean: 0.1 },
  });
  assert.equal(readFinalEval(join(root, 'no-such-file.json')), undefined);
});
