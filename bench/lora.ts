// npm run bench:lora -- [--model NAME|PATH] [--threads N] [--groups G] [--rollouts R] [--prompt P]
//                       [--completion C] [--steps N] [--rank R] [--iterations N]
//
// LoRA training on a pretrained model (default smollm2-135m) in the engine, against PyTorch + peft on the
// same batch in the same run, then the self-play loop itself:
//   step       a batch shaped like a self-play update: G groups of R sequences that share a prompt of P
//              tokens, completions of C/2..C tokens, advantages of both signs; LoRA rank R on every linear
//              layer; one optimizer step. Positions/s counts the batch's positions (every sequence's
//              prompt + completion), whatever each side computes to get them.
//   PyTorch    bench/ref/torch_lora.py: transformers + peft on the same GGUF and rows, the same threads,
//              the head only where the loss reads it (logits_to_keep), gradients accumulated over one group
//              (--rollouts rows) at a time: the 16-row batch at once was killed for memory at 24 GiB. Needs a
//              Python with torch, peft, transformers and gguf: PYTHON=... (python/setup_skyrl.sh's venv).
//   MFU        the FLOPs the engine does (forward and input-gradient backward through the frozen base, 2 x 2
//              x matmul parameters per position it computes, head at the weighted positions) per second, against
//              the run's best 2-thread matmul rate through ONNX Runtime.
//   loop       `azr train --preset smollm2` (or the model's preset) for --iterations iterations: time per
//              iteration by phase and peak resident memory, from its metrics.jsonl.
// The last line is one JSON object.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LORA_TARGETS, type LoraSettings, parameterCount } from '../src/model/config.js';
import { pretrainedEngine } from '../src/model/pretrained-engine.js';
import { openPretrained, resolveModel } from '../src/model/resolve-model.js';
import { sharePrompts } from '../src/policy/builtin.js';
import { packTrainBatch, type Sequence } from '../src/rl/objective.js';
import { Rng } from '../src/util/rng.js';
import { matmulPeak } from './measure.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    threads: { type: 'string', default: '2' },
    groups: { type: 'string', default: '4' },
    rollouts: { type: 'string', default: '4' },
    prompt: { type: 'string', default: '400' },
    completion: { type: 'string', default: '160' },
    steps: { type: 'string', default: '4' },
    rank: { type: 'string', default: '16' },
    iterations: { type: 'string', default: '5' },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
const threads = num('threads');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const resolved = resolveModel(values.model as string);
const checkpoint = openPretrained(resolved.path);
const lora: LoraSettings = { rank: num('rank'), alpha: 2 * num('rank'), targets: [...LORA_TARGETS] };
const optimizer = {
  learningRate: 1e-5,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1e9,
  beta1: 0.9,
  beta2: 0.999,
};
const load = () => loadavg()[0] as number;
const loads = [load()];

// The batch: random ids stand in for text (speed does not depend on which tokens they are).
const rng = new Rng(7);
const V = checkpoint.spec.vocabSize;
const ids = (n: number) => Array.from({ length: n }, () => 100 + rng.int(V - 200));
const seqs: Sequence[] = [];
for (let g = 0; g < num('groups'); g++) {
  const prompt = ids(num('prompt'));
  for (let r = 0; r < num('rollouts'); r++)
    seqs.push({
      prompt,
      completion: ids(Math.ceil(num('completion') / 2) + rng.int(Math.floor(num('completion') / 2) + 1)),
      advantage: r % 2 === 0 ? 1 : -1,
    });
}
const positions = seqs.reduce((n, q) => n + q.prompt.length + q.completion.length - 1, 0);
const weighted = seqs.reduce((n, q) => n + q.completion.length, 0);
const time = Math.max(...seqs.map((q) => q.prompt.length + q.completion.length - 1));
const PAD = 0;
const packed = packTrainBatch(seqs, time, PAD, V);

const peak = Math.max(await matmulPeak(threads), await matmulPeak(threads));
const engine = await pretrainedEngine(checkpoint, {
  threads,
  seed: 1,
  optimizer,
  lora,
  // Room for a shared prompt and its completions in one row (sharePrompts).
  contextLength: Math.max(2048, time + 1),
});
const config = engine.config;
const batch = sharePrompts(packed, seqs, config.contextLength, PAD);
console.log(
  `${values.model}: ${checkpoint.spec.architecture}, ${(parameterCount(config) / 1e6).toFixed(1)}M parameters; LoRA rank ${lora.rank} on ${lora.targets.join(',')}; ${threads} threads`,
);
console.log(
  `batch: ${seqs.length} sequences (${num('groups')} prompts of ${num('prompt')} tokens x ${num('rollouts')} completions), ${positions} positions, ${weighted} weighted; ` +
    `shared-prompt rows: ${batch.batch} x ${batch.time}`,
);
const stepTimes: number[] = [];
for (let s = 0; s < num('steps') + 1; s++) {
  const t = performance.now();
  await engine.trainStep(batch);
  stepTimes.push((performance.now() - t) / 1000);
}
loads.push(load());
await engine.close();
const ours = Math.min(...stepTimes.slice(1));
// FLOPs the engine does: forward and input-gradient backward through the base's matmuls at the positions
// it computes (the shared-prompt rows, padding included: each prompt once, not once per completion), the
// head only at weighted positions; embedding lookups, attention scores and LoRA's small products left out.
// Counting the logical batch's positions instead would credit prompt sharing as hardware use (over 100%).
const D = config.dModel;
const headParams = D * config.vocabSize;
const bodyParams =
  parameterCount(config) - (config.arch === 'llama' && config.tiedEmbeddings ? headParams : 2 * headParams);
const flops = 2 * 2 * (bodyParams * batch.batch * batch.time + headParams * weighted);
const mfu = flops / ours / (peak * 1e9);
const stepRssMb = process.resourceUsage().maxRSS / 1024;
console.log(
  `engine: best step ${ours.toFixed(2)} s (median ${[...stepTimes.slice(1)].sort((a, b) => a - b)[Math.floor(stepTimes.length / 2) - 1]?.toFixed(2)} s), ` +
    `${(positions / ours).toFixed(0)} positions/s, MFU ${(100 * mfu).toFixed(1)}% of ${peak.toFixed(0)} GFLOP/s; ` +
    `peak RSS ${stepRssMb.toFixed(0)} MB`,
);

// PyTorch + peft on the same rows.
const dir = mkdtempSync(join(tmpdir(), 'azr-bench-lora-'));
let torch: { best_s: number; median_s: number; torch: string; peft: string; rss_mb: number } | null = null;
const python = process.env.PYTHON;
if (!python)
  console.log('PyTorch + peft skipped: set PYTHON to a python with torch, peft, transformers and gguf');
else {
  const rows = seqs.map((q) => [...q.prompt, ...q.completion]);
  const L = Math.max(...rows.map((r) => r.length));
  const file = join(dir, 'batch.json');
  writeFileSync(
    file,
    JSON.stringify({
      rows: rows.map((r) => [...r, ...new Array(L - r.length).fill(PAD)]),
      weights: seqs.map((q) => {
        const w = new Array(L - 1).fill(0);
        for (let t = 0; t < q.completion.length; t++)
          w[q.prompt.length - 1 + t] = q.advantage / q.completion.length / seqs.length;
        return w;
      }),
      rank: lora.rank,
      alpha: lora.alpha,
      targets: lora.targets,
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: '1',
  };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync(
    python,
    [
      join(root, 'bench', 'ref', 'torch_lora.py'),
      resolved.path,
      file,
      String(threads),
      String(num('steps') + 1),
      String(num('rollouts')),
    ],
    { env, encoding: 'utf8', timeout: 3_600_000 },
  );
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  else console.log(`PyTorch + peft failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  loads.push(load());
  if (torch)
    console.log(
      `PyTorch ${torch.torch} + peft ${torch.peft}: best step ${torch.best_s.toFixed(2)} s, ${(positions / torch.best_s).toFixed(0)} positions/s, ` +
        `peak RSS ${torch.rss_mb.toFixed(0)} MB; engine / PyTorch ${(torch.best_s / ours).toFixed(2)}x`,
    );
}

// The loop: a few iterations of the model's preset, phases and memory from metrics.jsonl.
const preset = values.model === 'qwen2.5-coder-0.5b' ? 'qwen-coder-0.5b' : 'smollm2';
const run = join(dir, 'run');
const iterations = num('iterations');
let loop: { iterationS: number; phases: Record<string, number>; rssMb: number } | null = null;
if (iterations > 0) {
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'dist', 'src', 'cli', 'main.js'),
      'train',
      '--preset',
      preset,
      '--init',
      values.model as string,
      '--iterations',
      String(iterations),
      '--eval-every',
      '0',
      '--out',
      run,
    ],
    { encoding: 'utf8', timeout: 7_200_000, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status === 0) {
    const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const times = records.map((m) => (m.phases ?? {}) as Record<string, number>);
    const phaseNames = Object.keys(times[0] ?? {});
    loop = {
      iterationS: median(records.map((m) => Number(m.iterationS))),
      phases: Object.fromEntries(phaseNames.map((p) => [p, median(times.map((t) => Number(t[p] ?? 0)))])),
      rssMb: Math.max(...records.map((m) => Number(m.rssMb ?? 0))),
    };
    console.log(
      `loop (${preset}, ${iterations} iterations): median iteration ${loop.iterationS.toFixed(1)} s; ` +
        `${Object.entries(loop.phases)
          .map(([k, v]) => `${k} ${Number(v).toFixed(1)}`)
          .join(', ')}; peak RSS ${loop.rssMb.toFixed(0)} MB`,
    );
  } else console.log(`loop run failed (exit ${r.status})`);
  loads.push(load());
}
rmSync(dir, { recursive: true, force: true });
console.log(
  `machine load (1-min average) during the bench: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`,
);
console.log(
  JSON.stringify({
    model: values.model,
    threads,
    lora_rank: lora.rank,
    batch_sequences: seqs.length,
    batch_positions: positions,
    step_s: ours,
    lora_positions_per_s: positions / ours,
    pytorch_step_s: torch?.best_s ?? null,
    pytorch_positions_per_s: torch ? positions / torch.best_s : null,
    lora_vs_pytorch: torch ? torch.best_s / ours : null,
    step_rss_mb: stepRssMb,
    pytorch_rss_mb: torch?.rss_mb ?? null,
    mfu,
    matmul_peak_gflops: peak,
    loop_iteration_s: loop?.iterationS ?? null,
    loop_phases_s: loop?.phases ?? null,
    loop_rss_mb: loop?.rssMb ?? null,
    load_min: Math.min(...loads),
    load_max: Math.max(...loads),
  }),
);
