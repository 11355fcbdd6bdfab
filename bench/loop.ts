// Self-play throughput and memory, measured on the real loop: `azr train`'s own entry point (runTraining)
// runs the `default` preset from a fixed seed in a temporary run directory, in this process; then, in the
// same process, the engine samples on the run's final checkpoint with the loop's own prompts.
//
//   npm run bench:loop -- [--iterations N] [--seed N] [--steady-from N] [--minutes M] [--keep DIR]
//                         [--init CHECKPOINT] [--config FILE]   (passed to azr train as they are)
//
// What it reports (iterations before --steady-from are warm-up and left out of medians and rates):
//   iteration_s_median, sample/execute/update_s_median   from the run's metrics.jsonl
//   sample_tokens_per_s_loop     tokens the loop sampled / seconds of its sample phase (steady iterations)
//   sample_tokens_per_s_engine   the engine alone on the final checkpoint: the sampling batches of up to
//                                8 steady iterations again (a uniform sample of them, fixed seed, so a
//                                30-minute run replays in a minute; same prompts, batch sizes, repeated
//                                prompts), each row
//                                drawing the loop's mean number of new tokens under a constraint that
//                                allows any byte and never ends (as bench:model), so no row stops early;
//                                best of 2
//   loop_vs_engine               the ratio: what the loop's ragged batches, grammars and bookkeeping cost
//   update_tokens_per_s          sequence positions (prompt + completion, as the engine computes them after
//                                cutting each row at its last weighted position) / seconds of update phase
//   update_mfu                   those positions' model FLOPs (bench:model's formula, per chunk length) per
//                                second, against this process's best 2-thread 1024^3 matmul rate
//   rss_mb_peak                  the process's peak resident memory during the run (VmHWM); all memory
//                                figures are in MB of 10^6 bytes, as metrics.jsonl's rssMb (until 2026-12-04
//                                the peak, heap and ArrayBuffer figures were in MiB: 1 MiB = 1.049 MB)
//   rss_mb_last                  resident memory after the last iteration (metrics.jsonl)
//   rss_mb_growth_after_20       rss_mb_last minus the resident memory after iteration 20 (null if fewer)
//   js_heap_mb_last, array_buffers_mb_last, and their _growth_after_20: V8's used heap and the memory of
//                                ArrayBuffers (typed arrays: weights, batches, masks) after each iteration,
//                                so that growth in resident memory can be told apart from JavaScript
//                                objects, typed arrays and native memory (ONNX Runtime, the allocator)
//   updates_per_30_min           1800 / iteration_s_median (one update per iteration)
//   load_average_loop / _engine  the machine's mean 1-minute load average during each part (2 cores): the
//                                loop and engine rates are comparable only when these are close
// The positions, rows and prompts come from hooks on the engine's prefill and trainStep (src/model is the
// engine this benchmark measures); the loop itself is only driven through runTraining and read back from
// its run directory, so it survives changes to the loop's internals.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainArgs } from '../src/cli/train.js';
import type { ModelConfig } from '../src/model/config.js';
import { createModelEngine, loadModelEngine, trainChunks } from '../src/model/engine.js';
import type { KvCache, TrainBatch } from '../src/model/engine-types.js';
import { sampleRows } from '../src/model/sampler.js';
import { runTraining } from '../src/selfplay/train.js';
import { Rng } from '../src/util/rng.js';
import { bytesOnly, flopsPerToken, matmulPeak } from './measure.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const minutes = flag('minutes');
const iterations = Number(flag('iterations') ?? (minutes ? 100000 : 20));
const seed = Number(flag('seed') ?? 3);
const steadyFrom = Number(flag('steady-from') ?? 6);
const keep = flag('keep');
const THREADS = 2;
const CHUNK_TOKENS = 2048; // the engine's default gradient-run budget, for counting positions
/** Memory figures are in MB of 10^6 bytes, the unit of metrics.jsonl's rssMb. */
const MB = 1e6;

// ---- Hooks on the engine: what the loop asks of it, per iteration ----
interface Batch {
  prompts: Int32Array[];
}
interface Bucket {
  batches: Batch[];
  rows: number;
  trainPositions: number;
  trainFlops: number;
}
const fresh = (): Bucket => ({ batches: [], rows: 0, trainPositions: 0, trainFlops: 0 });
let bucket = fresh();
const buckets: Bucket[] = [];

const probeConfig: ModelConfig = { vocabSize: 272, contextLength: 16, layers: 1, dModel: 8, heads: 1 };
const probe = await createModelEngine(probeConfig, {
  threads: 1,
  seed: 1,
  optimizer: { learningRate: 1e-3, warmupSteps: 0, weightDecay: 0, gradClip: 1, beta1: 0.9, beta2: 0.99 },
});
const proto = Object.getPrototypeOf(probe) as {
  prefill: (this: unknown, c: KvCache, t: Int32Array, time: number, l: Int32Array) => Promise<Float32Array>;
  trainStep: (this: { config: ModelConfig }, b: TrainBatch, g?: boolean) => Promise<unknown>;
};
await probe.close();
const prefill = proto.prefill;
proto.prefill = function (cache, tokens, time, lengths) {
  const prompts = Array.from(lengths, (n, b) => tokens.slice(b * time, b * time + n));
  bucket.batches.push({ prompts });
  bucket.rows += prompts.length;
  return prefill.call(this, cache, tokens, time, lengths);
};
const trainStep = proto.trainStep;
proto.trainStep = function (batch, withGrads) {
  for (const chunk of trainChunks(batch, CHUNK_TOKENS)) {
    const n = chunk.rows.length * chunk.time;
    bucket.trainPositions += n;
    bucket.trainFlops += n * flopsPerToken(this.config, chunk.time);
  }
  return trainStep.call(this, batch, withGrads);
};

// Only a few iterations' prompts are kept for the engine's replay (reservoir sampling over the steady
// iterations): holding every prompt of a long run would cost the process the memory this bench measures.
const REPLAY_ITERATIONS = 8;
const replay: number[] = [];
const replayRng = new Rng(1);
function keepForReplay(iteration: number): void {
  const b = buckets[iteration - 1] as Bucket;
  const seen = iteration - steadyFrom + 1;
  if (seen <= 0) {
    b.batches = [];
    return;
  }
  let slot = seen - 1;
  if (seen > REPLAY_ITERATIONS) slot = replayRng.int(seen);
  if (slot >= REPLAY_ITERATIONS) {
    b.batches = [];
    return;
  }
  const dropped = replay[slot];
  if (dropped !== undefined) (buckets[dropped - 1] as Bucket).batches = [];
  replay[slot] = iteration;
}

// ---- The run ----
const out = keep ?? mkdtempSync(join(tmpdir(), 'azr-bench-loop-'));
if (keep) rmSync(keep, { recursive: true, force: true });
const argv = [
  '--preset',
  'default',
  '--seed',
  String(seed),
  '--out',
  out,
  '--iterations',
  String(iterations),
];
if (minutes) argv.push('--minutes', minutes);
for (const name of ['init', 'config']) {
  const value = flag(name);
  if (value) argv.push(`--${name}`, value);
}
const inv = parseTrainArgs(argv);
let rssPeak = 0;
const poll = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 25);
// The machine's load while each part runs: on a shared machine the two rates are only comparable when
// they saw about the same load.
const loads: { loop: number[]; engine: number[] } = { loop: [], engine: [] };
let loadPart: keyof typeof loads = 'loop';
const loadPoll = setInterval(() => loads[loadPart].push(loadavg()[0] as number), 5000);
// V8 heap and ArrayBuffer memory after each iteration (MB).
const heapMb: number[] = [];
const arrayBufferMb: number[] = [];
const t0 = performance.now();
const code = await runTraining(inv, (line) => {
  process.stdout.write(`${line}\n`);
  // The held-out evaluation samples before an iteration; its batches are not the loop's.
  if (line.startsWith('eval before')) bucket = fresh();
  else if (/^it\s+\d+/.test(line)) {
    buckets.push(bucket);
    keepForReplay(buckets.length);
    const m = process.memoryUsage();
    heapMb.push(m.heapUsed / MB);
    arrayBufferMb.push(m.arrayBuffers / MB);
    bucket = fresh();
  }
});
clearInterval(poll);
const runS = (performance.now() - t0) / 1000;
const hwm = (Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024) / MB;
rssPeak = Math.max(rssPeak / MB, hwm);
if (code !== 0) throw new Error(`azr train exited with ${code}`);

interface Metrics {
  iteration: number;
  iterationS: number;
  tokensPerS: number;
  phases: { sample: number; execute: number; update: number };
  rssMb: number;
}
const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Metrics);
if (metrics.length < steadyFrom + 1)
  throw new Error(`only ${metrics.length} iterations ran; need more than --steady-from ${steadyFrom}`);
const steady = metrics.filter((m) => m.iteration >= steadyFrom);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const steadyBuckets = steady.map((m) => buckets[m.iteration - 1] as Bucket);
const loopTokens = sum(steady.map((m) => m.tokensPerS * m.phases.sample));
const loopSampleS = sum(steady.map((m) => m.phases.sample));
const loopRate = loopTokens / loopSampleS;
const loopRows = sum(steadyBuckets.map((b) => b.rows));
const meanNew = Math.max(1, Math.round(loopTokens / loopRows));
const updateS = sum(steady.map((m) => m.phases.update));
const trainPositions = sum(steadyBuckets.map((b) => b.trainPositions));
const trainFlops = sum(steadyBuckets.map((b) => b.trainFlops));

// ---- The engine alone, on the final checkpoint, with the loop's prompts ----
const state = JSON.parse(readFileSync(join(out, 'state.json'), 'utf8')) as { checkpoint: string };
const engine = await loadModelEngine(join(out, 'checkpoints', state.checkpoint, 'model.safetensors'), {
  threads: THREADS,
});
const batches = steadyBuckets.flatMap((b) => b.batches);
const replayedRows = sum(batches.map((b) => b.prompts.length));
loadPart = 'engine';
loads.engine.push(loadavg()[0] as number);
let engineRate = 0;
for (let rep = 0; rep < 2; rep++) {
  let tokens = 0;
  const e0 = performance.now();
  for (const [k, batch] of batches.entries()) {
    const rows = batch.prompts.map((prompt, i) => ({
      prompt: Array.from(prompt),
      maxTokens: meanNew,
      temperature: 1,
      topP: 1,
      seed: k * 1000 + i,
      constraint: bytesOnly,
    }));
    const res = await sampleRows(engine, rows, rows.length);
    tokens += sum(res.map((r) => r.tokens.length));
  }
  engineRate = Math.max(engineRate, tokens / ((performance.now() - e0) / 1000));
}
await engine.close();
clearInterval(loadPoll);
const meanLoad = (xs: number[]) => (xs.length ? sum(xs) / xs.length : (loadavg()[0] as number));

// ---- Matmul peak (for MFU), at the end: the same process and moment as the rest ----
const peak = await matmulPeak(THREADS);

const r = (x: number, d = 0) => Number(x.toFixed(d));
/** A per-iteration series' last value minus its value after iteration 20 (null for shorter runs). */
const growthAfter20 = (xs: readonly number[]): number | null =>
  xs.length >= 20 ? r((xs[xs.length - 1] as number) - (xs[19] as number)) : null;
const iterationMedian = median(steady.map((m) => m.iterationS));
const result = {
  iteration_s_median: r(iterationMedian, 2),
  sample_tokens_per_s_loop: r(loopRate),
  sample_tokens_per_s_engine: r(engineRate),
  loop_vs_engine: r(loopRate / engineRate, 3),
  update_tokens_per_s: r(trainPositions / updateS),
  update_mfu: r(trainFlops / updateS / (peak * 1e9), 3),
  rss_mb_peak: r(rssPeak),
  rss_mb_last: (metrics[metrics.length - 1] as Metrics).rssMb,
  updates_per_30_min: r(1800 / iterationMedian),
  sample_s_median: r(median(steady.map((m) => m.phases.sample)), 2),
  execute_s_median: r(median(steady.map((m) => m.phases.execute)), 2),
  update_s_median: r(median(steady.map((m) => m.phases.update)), 2),
  rss_mb_by_iteration: metrics.map((m) => m.rssMb),
  // The flatness target: growth from iteration 20 to the end (null for shorter runs).
  rss_mb_growth_after_20: growthAfter20(metrics.map((m) => m.rssMb)),
  js_heap_mb_last: r(heapMb[heapMb.length - 1] ?? 0),
  js_heap_mb_growth_after_20: growthAfter20(heapMb),
  array_buffers_mb_last: r(arrayBufferMb[arrayBufferMb.length - 1] ?? 0),
  array_buffers_mb_growth_after_20: growthAfter20(arrayBufferMb),
  iterations: metrics.length,
  steady_from: steadyFrom,
  seed,
  run_s: r(runS),
  engine_new_tokens_per_row: meanNew,
  engine_batches: batches.length,
  engine_iterations: replay.length,
  engine_rows: replayedRows,
  peak_gflops_2t: r(peak),
  load_average_loop: r(meanLoad(loads.loop), 2),
  load_average_engine: r(meanLoad(loads.engine), 2),
};
if (!keep) rmSync(out, { recursive: true, force: true });

const it = (x: number) => x.toFixed(2);
process.stdout.write(
  [
    '',
    `bench:loop: default preset${flag('init') ? ` from ${flag('init')}` : ''}, seed ${seed}, ${metrics.length} iterations in ${r(runS)} s; iterations ${steadyFrom}+ are steady state`,
    `  iteration ${it(iterationMedian)} s median (sample ${it(result.sample_s_median)}, execute ${it(result.execute_s_median)}, update ${it(result.update_s_median)}); ${result.updates_per_30_min} updates per 30 minutes`,
    `  sampling: loop ${result.sample_tokens_per_s_loop} tokens/s, engine ${result.sample_tokens_per_s_engine} tokens/s on the same prompts and batches (${meanNew} new tokens a row): ${result.loop_vs_engine}x`,
    `  update: ${result.update_tokens_per_s} positions/s, MFU ${(100 * result.update_mfu).toFixed(1)}% of ${result.peak_gflops_2t} GFLOP/s`,
    `  memory: peak ${result.rss_mb_peak} MB, last ${result.rss_mb_last} MB; growth after iteration 20 ${result.rss_mb_growth_after_20 ?? 'n/a'} MB (JavaScript heap ${result.js_heap_mb_growth_after_20 ?? 'n/a'} MB, ArrayBuffers ${result.array_buffers_mb_growth_after_20 ?? 'n/a'} MB); by iteration ${result.rss_mb_by_iteration.join(' ')}`,
    `  load average (1 min, mean) during the loop ${result.load_average_loop}, during the engine run ${result.load_average_engine}`,
    JSON.stringify(result),
    '',
  ].join('\n'),
);
