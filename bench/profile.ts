// Where a training step's time goes, operator by operator: the gradient graph of src/model/train-graph.ts
// in the self-play loop's variant (PPO-clipped loss under the sampler's vocabulary masks) over one chunk
// of rows, run with ONNX Runtime's own profiler and the engine's session settings.
//
//   npm run bench:profile -- [--model small|medium] [--rows R] [--time T] [--runs N]
//
// The default chunk, 4 rows x 496 positions, is the shape most of a `default` self-play update runs in
// (rows of 400-512 positions, at most 2,048 positions a chunk). Prints the operator types by their share
// of kernel time, the slowest nodes that are not matrix products, then one JSON line:
//   run_ms_best, tokens_per_s    the best of --runs runs without the profiler (the profiler's own cost
//                                is left out of the rate)
//   model_flops_share            model FLOPs (bench:model's formula) / run time / this run's matmul peak
//   kernel_ms_per_run            the profiled runs' kernel time, per run
//   matmul_share                 the share of kernel time in MatMul, Gemm and FusedMatMul nodes
//   ops                          milliseconds per run by operator type (after ONNX Runtime's fusions)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODEL_PRESETS, type ModelConfig, type ModelPreset, parameterSpecs } from '../src/model/config.js';
import { sessionOptions } from '../src/model/engine.js';
import { initWeights } from '../src/model/params.js';
import { buildGradGraph } from '../src/model/train-graph.js';
import { Rng } from '../src/util/rng.js';
import { flopsPerToken, matmulPeak } from './measure.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const preset = flag('model', 'small') as ModelPreset;
if (!(preset in MODEL_PRESETS))
  throw new Error(`--model must be one of ${Object.keys(MODEL_PRESETS).join(', ')}`);
const rows = Number(flag('rows', '4'));
const time = Number(flag('time', '496'));
const runs = Number(flag('runs', '8'));
for (const [name, v] of [
  ['rows', rows],
  ['time', time],
  ['runs', runs],
] as const)
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
const THREADS = 2;
const c: ModelConfig = { ...MODEL_PRESETS[preset], vocabSize: 272, contextLength: 512 };
if (time > c.contextLength) throw new Error(`--time must be at most the context, ${c.contextLength}`);

// ---- Feeds: fresh weights, random tokens, every vocabulary entry allowed ----
const rng = new Rng(1);
const n = rows * time;
const V = c.vocabSize;
const feeds: Record<string, ort.Tensor> = {};
const weights = initWeights(c, 1);
for (const s of parameterSpecs(c)) {
  const w = weights.get(s.name) as Float32Array;
  feeds[s.name] = new ort.Tensor('float32', w, s.shape);
  feeds[`acc.${s.name}`] = new ort.Tensor('float32', new Float32Array(w.length), s.shape);
}
const tokens = BigInt64Array.from({ length: n }, () => BigInt(rng.int(256)));
const ids = (f: (i: number) => number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(f(i)));
feeds.tokens = new ort.Tensor('int64', tokens, [rows, time]);
feeds.positions = new ort.Tensor(
  'int64',
  ids((i) => i % time),
  [rows, time],
);
feeds.segments = new ort.Tensor(
  'int64',
  ids(() => 0),
  [rows, time],
);
feeds.targets = new ort.Tensor('int64', tokens, [n]);
feeds.allowed = new ort.Tensor('uint8', new Uint8Array(n * V).fill(1), [n, V]);
feeds.weight = new ort.Tensor('float32', new Float32Array(n).fill(1 / n), [n]);
feeds.advantage = new ort.Tensor(
  'float32',
  Float32Array.from({ length: n }, () => rng.normal()),
  [n],
);
feeds.old_logprobs = new ort.Tensor('float32', new Float32Array(n).fill(-Math.log(V)), [n]);
feeds.clip_eps = new ort.Tensor('float32', Float32Array.of(0.2), []);

// ---- Runs: first without the profiler (the rate), then with it (the breakdown) ----
const graph = buildGradGraph(c, { variant: 'ppo', masked: true });
// The engine's settings for a training session over symbolic shapes: the arena on, no memory pattern.
const options = sessionOptions(THREADS, true, false);
async function timed(session: ort.InferenceSession): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  await session.run(feeds); // warm-up: the arena's first allocations
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
const plain = await ort.InferenceSession.create(graph, options);
const bestMs = await timed(plain);
await plain.release();

const dir = mkdtempSync(join(tmpdir(), 'azr-profile-'));
const profiled = await ort.InferenceSession.create(graph, {
  ...options,
  enableProfiling: true,
  profileFilePrefix: join(dir, 'grad'),
});
await timed(profiled);
profiled.endProfiling();
await profiled.release();
const file = readdirSync(dir).find((f) => f.endsWith('.json'));
if (!file) throw new Error('ONNX Runtime wrote no profile');
interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}
const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
rmSync(dir, { recursive: true, force: true });

// The first run (the warm-up, which fills the arena) is left out.
const modelRuns = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
const warm = modelRuns[0];
if (!warm || modelRuns.length !== runs + 1)
  throw new Error(`expected ${runs + 1} runs in the profile, found ${modelRuns.length}`);
const byType = new Map<string, number>();
const byNode = new Map<string, { type: string; us: number }>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < warm.ts + warm.dur) continue;
  const type = e.args?.op_name ?? '?';
  byType.set(type, (byType.get(type) ?? 0) + e.dur);
  const node = e.name.slice(0, -'_kernel_time'.length);
  const prev = byNode.get(node);
  byNode.set(node, { type, us: (prev?.us ?? 0) + e.dur });
}
const kernelUs = [...byType.values()].reduce((a, b) => a + b, 0);
const isMatmul = (t: string) => /MatMul|Gemm/.test(t);
const matmulUs = [...byType].filter(([t]) => isMatmul(t)).reduce((a, [, us]) => a + us, 0);
const msPerRun = (us: number) => Number((us / runs / 1000).toFixed(2));

const peak = await matmulPeak(THREADS);
const flops = n * flopsPerToken(c, time);
const result = {
  model: preset,
  rows,
  time,
  run_ms_best: Number(bestMs.toFixed(1)),
  tokens_per_s: Math.round(n / (bestMs / 1000)),
  model_flops_share: Number((flops / (bestMs / 1000) / (peak * 1e9)).toFixed(3)),
  peak_gflops_2t: Math.round(peak),
  kernel_ms_per_run: msPerRun(kernelUs),
  matmul_share: Number((matmulUs / kernelUs).toFixed(3)),
  nodes: byNode.size,
  ops: Object.fromEntries([...byType].sort((a, b) => b[1] - a[1]).map(([t, us]) => [t, msPerRun(us)])),
};

const pct = (us: number) => `${((100 * us) / kernelUs).toFixed(1).padStart(5)}%`;
const lines = [
  `bench:profile: ${preset} gradient graph (PPO, masked), ${rows} x ${time} positions, ${THREADS} threads`,
  `  best of ${runs}: ${result.run_ms_best} ms, ${result.tokens_per_s} positions/s, model FLOPs at ${(100 * result.model_flops_share).toFixed(1)}% of ${result.peak_gflops_2t} GFLOP/s`,
  `  kernel time ${result.kernel_ms_per_run} ms a run over ${byNode.size} nodes, ${(100 * result.matmul_share).toFixed(1)}% in matrix products`,
  '  by operator type (ms a run, share of kernel time):',
  ...[...byType]
    .sort((a, b) => b[1] - a[1])
    .map(([t, us]) => `    ${t.padEnd(22)} ${String(msPerRun(us)).padStart(8)}  ${pct(us)}`),
  '  slowest nodes outside the matrix products:',
  ...[...byNode]
    .filter(([, v]) => !isMatmul(v.type))
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, 12)
    .map(([name, v]) => `    ${name.padEnd(40)} ${v.type.padEnd(20)} ${String(msPerRun(v.us)).padStart(6)}`),
  JSON.stringify(result),
];
process.stdout.write(`${lines.join('\n')}\n`);
