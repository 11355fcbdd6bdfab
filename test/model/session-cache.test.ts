// The bounded session cache over real ONNX Runtime sessions: least recently used released first, a
// session with a run in flight released only when the run ends, a failed build forgotten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../src/model/onnx/graph.js';
import { SessionCache } from '../../src/model/session-cache.js';

/** y = x * k: a graph whose output says which session ran. */
function scaleGraph(k: number): Uint8Array {
  const g = new Graph(`scale${k}`);
  const x = g.input('x', [4]);
  const c = g.scalar(k);
  g.output(g.op('Mul', [x, c]), 'y', [4]);
  return g.encode();
}

const feeds = () => ({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) });
const ys = (out: ort.InferenceSession.ReturnType) => [...((out.y as ort.Tensor).data as Float32Array)];

test('a bounded cache keeps the most recently used sessions and releases the others', async () => {
  const cache = new SessionCache(2);
  const made: ort.InferenceSession[] = [];
  const create = (k: number) => async () => {
    const s = await ort.InferenceSession.create(scaleGraph(k));
    made.push(s);
    return s;
  };
  const y = async (k: number) => ys(await cache.run(`k${k}`, create(k), feeds()));
  assert.deepEqual(await y(2), [2, 4, 6, 8]);
  assert.deepEqual(await y(3), [3, 6, 9, 12]);
  assert.deepEqual(await y(2), [2, 4, 6, 8]); // k2 is now the most recent
  assert.deepEqual(await y(5), [5, 10, 15, 20]); // evicts k3
  assert.deepEqual(cache.keys(), ['k2', 'k5']);
  assert.equal(cache.created, 3);
  await new Promise((r) => setImmediate(r));
  // The evicted session was released: running it again fails inside ONNX Runtime.
  await assert.rejects(() => (made[1] as ort.InferenceSession).run(feeds()));
  assert.deepEqual(await y(3), [3, 6, 9, 12]); // rebuilt on demand
  assert.equal(cache.created, 4);
  await cache.clear();
  assert.equal(cache.size, 0);
});

test('a session is not released while a run is in flight, and a failed build is retried', async () => {
  const cache = new SessionCache(1);
  let slowRelease = 0;
  const slow = async () => {
    const s = await ort.InferenceSession.create(scaleGraph(7));
    const run = s.run.bind(s);
    const release = s.release.bind(s);
    // A run that takes a while, so the eviction below happens during it.
    s.run = (async (f: ort.InferenceSession.FeedsType) => {
      await new Promise((r) => setTimeout(r, 50));
      return run(f);
    }) as typeof s.run;
    s.release = async () => {
      slowRelease++;
      return release();
    };
    return s;
  };
  const inFlight = cache.run('slow', slow, feeds());
  await new Promise((r) => setTimeout(r, 10));
  await cache.run('other', async () => ort.InferenceSession.create(scaleGraph(1)), feeds()); // evicts 'slow'
  assert.equal(slowRelease, 0, 'released during its run');
  assert.deepEqual(ys(await inFlight), [7, 14, 21, 28]);
  await new Promise((r) => setImmediate(r));
  assert.equal(slowRelease, 1);

  let attempts = 0;
  const flaky = async () => {
    attempts++;
    if (attempts === 1) throw new Error('build failed');
    return ort.InferenceSession.create(scaleGraph(3));
  };
  await assert.rejects(cache.run('flaky', flaky, feeds()), /build failed/);
  assert.deepEqual(ys(await cache.run('flaky', flaky, feeds())), [3, 6, 9, 12]);
  assert.equal(attempts, 2);
  await cache.clear();
  assert.throws(() => new SessionCache(0), /positive integer/);
});
