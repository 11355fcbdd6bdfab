// npm run bench:real -- [--model NAME|PATH] [--threads N] [--new-tokens N] [--prompt-tokens N] [--rounds N]
//
// A real pretrained model in the engine (default smollm2-135m, which `npx azr pull smollm2-135m` fetches)
// against llama.cpp on the same GGUF, the same token ids, threads and batch shapes, in the same run:
//   prefill tokens/s   8 prompts of --prompt-tokens tokens each, through the KV cache
//   decode tokens/s    at batch 1, 8 and 32: --new-tokens greedy tokens per row after a short prompt
//   memory             the engine's peak resident memory (this process), llama.cpp's (its own process)
//   agreement          how far the engine's greedy tokens and llama.cpp's agree (llama.cpp computes on
//                      the quantized weights, the engine on their float32 dequantization)
// llama.cpp is node-llama-cpp 3.21.1's prebuilt CPU binary, installed apart from the project (it ships
// binaries for several GPU backends): `npm ci --prefix bench/llamacpp`. Without it the bench reports the
// engine alone. The rounds alternate engine and llama.cpp, and each figure is the best of its rounds
// (machines here are shared and noisy). The last line is one JSON object.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpeTokenizer } from '../src/model/bpe-tokenizer.js';
import type { OrtModelEngine } from '../src/model/engine.js';
import { NO_UPDATES } from '../src/model/engine-types.js';
import { pretrainedEngine } from '../src/model/pretrained-engine.js';
import { openPretrained, resolveModel } from '../src/model/resolve-model.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    threads: { type: 'string', default: '2' },
    'new-tokens': { type: 'string', default: '64' },
    'prompt-tokens': { type: 'string', default: '256' },
    rounds: { type: 'string', default: '2' },
  },
});
const threads = Number(values.threads);
const newTokens = Number(values['new-tokens']);
const promptTokens = Number(values['prompt-tokens']);
const rounds = Number(values.rounds);
const BATCHES = [1, 8, 32];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const anchorDir = join(root, 'bench', 'llamacpp');

const resolved = resolveModel(values.model as string);
const checkpoint = openPretrained(resolved.path);
const tokenizer = await BpeTokenizer.open(resolved.path);

// Token ids both sides use: code text, so the prompts are like self-play's.
const source =
  'def f(a, b):\n    """Return the elements of a that are larger than b, doubled."""\n' +
  '    out = []\n    for x in a:\n        if x > b:\n            out.append(2 * x)\n    return out\n\n';
let long = tokenizer.encode(source.repeat(Math.ceil((4 * promptTokens) / source.length) + 1));
long = long.slice(0, promptTokens + 16);
const prefillPrompts = Array.from({ length: 8 }, (_, i) => long.slice(i, i + promptTokens));
const decodePrompts = (batch: number) =>
  Array.from({ length: batch }, (_, i) => tokenizer.encode(`def f${i}(a, b):\n    return`));

interface Side {
  prefillTokensPerS: number;
  decode: Record<string, number>;
  greedy: Record<string, number[][]>;
}

async function engineRound(engine: OrtModelEngine): Promise<Side> {
  const V = engine.config.vocabSize;
  const argmax = (logits: Float32Array, row: number) => {
    let best = 0;
    for (let v = 1; v < V; v++)
      if ((logits[row * V + v] as number) > (logits[row * V + best] as number)) best = v;
    return best;
  };
  // Prefill: the 8 prompts as one batch.
  let cache = engine.newCache(prefillPrompts.length, promptTokens);
  const tokens = new Int32Array(prefillPrompts.length * promptTokens);
  prefillPrompts.forEach((p, b) => {
    tokens.set(p, b * promptTokens);
  });
  let t = performance.now();
  await engine.prefill(cache, tokens, promptTokens, new Int32Array(prefillPrompts.length).fill(promptTokens));
  const prefillTokensPerS = (prefillPrompts.length * promptTokens) / ((performance.now() - t) / 1000);
  engine.freeCache(cache);
  const decode: Record<string, number> = {};
  const greedy: Record<string, number[][]> = {};
  for (const batch of BATCHES) {
    const prompts = decodePrompts(batch);
    const time = Math.max(...prompts.map((p) => p.length));
    cache = engine.newCache(batch, time + newTokens);
    const ids = new Int32Array(batch * time);
    prompts.forEach((p, b) => {
      ids.set(p, b * time);
    });
    let logits = await engine.prefill(
      cache,
      ids,
      time,
      Int32Array.from(prompts, (p) => p.length),
    );
    const out: number[][] = prompts.map(() => []);
    t = performance.now();
    for (let step = 0; step < newTokens; step++) {
      const next = Int32Array.from(prompts, (_, b) => argmax(logits, b));
      next.forEach((id, b) => {
        out[b]?.push(id);
      });
      if (step + 1 < newTokens) logits = await engine.decode(cache, next);
    }
    decode[batch] = (batch * (newTokens - 1)) / ((performance.now() - t) / 1000);
    greedy[batch] = out;
    engine.freeCache(cache);
  }
  return { prefillTokensPerS, decode, greedy };
}

function anchorRound(): Promise<(Side & { loadMs: number; rssMb: number }) | null> {
  if (!existsSync(join(anchorDir, 'node_modules', 'node-llama-cpp'))) return Promise.resolve(null);
  const job = {
    model: resolved.path,
    threads,
    prefill: prefillPrompts,
    decode: Object.fromEntries(BATCHES.map((b) => [b, decodePrompts(b)])),
    newTokens,
  };
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(anchorDir, 'anchor.mjs'), JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0
        ? done(JSON.parse(out.trim().split('\n').at(-1) as string))
        : fail(new Error(`anchor exit ${code}`)),
    );
  });
}

const fmt = (x: number) => x.toFixed(1);
const loads: number[] = [loadavg()[0] as number];
let t0 = performance.now();
const engine = await pretrainedEngine(checkpoint, {
  threads,
  seed: 0,
  optimizer: NO_UPDATES,
  contextLength: 1024,
});
const loadMs = performance.now() - t0;
console.log(
  `${values.model}: ${checkpoint.spec.architecture}, ${checkpoint.spec.layers} layers, vocabulary ${checkpoint.spec.vocabSize}; engine load ${fmt(loadMs / 1000)} s; ${threads} threads`,
);
const best = (a: Side | null, b: Side): Side =>
  !a
    ? b
    : {
        prefillTokensPerS: Math.max(a.prefillTokensPerS, b.prefillTokensPerS),
        decode: Object.fromEntries(BATCHES.map((k) => [k, Math.max(a.decode[k] ?? 0, b.decode[k] ?? 0)])),
        greedy: b.greedy,
      };
let ours: Side | null = null;
let theirs: (Side & { loadMs: number; rssMb: number }) | null = null;
let anchorMissing = false;
for (let r = 0; r < rounds; r++) {
  t0 = performance.now();
  ours = best(ours, await engineRound(engine));
  loads.push(loadavg()[0] as number);
  console.log(
    `round ${r + 1} engine:    prefill ${fmt(ours.prefillTokensPerS)} tok/s; decode ${BATCHES.map((b) => `b${b} ${fmt(ours?.decode[b] ?? 0)}`).join(', ')} tok/s (best so far)`,
  );
  const a = await anchorRound();
  if (!a) {
    anchorMissing = true;
    continue;
  }
  theirs = theirs ? { ...a, ...best(theirs, a) } : a;
  loads.push(loadavg()[0] as number);
  console.log(
    `round ${r + 1} llama.cpp: prefill ${fmt(theirs.prefillTokensPerS)} tok/s; decode ${BATCHES.map((b) => `b${b} ${fmt(theirs?.decode[b] ?? 0)}`).join(', ')} tok/s (best so far)`,
  );
}
await engine.close();
if (anchorMissing)
  console.log('llama.cpp anchor not installed: npm ci --prefix bench/llamacpp (then run again)');
const rssMb = process.resourceUsage().maxRSS / 1000;

// Greedy agreement at batch 1 and 8: tokens equal up to the first difference, per row.
let agreed = 0;
let compared = 0;
if (ours && theirs)
  for (const b of ['1', '8']) {
    const mine = ours.greedy[b] ?? [];
    const other = theirs.greedy[b] ?? [];
    mine.forEach((row, i) => {
      const o = other[i] ?? [];
      let k = 0;
      while (k < row.length && row[k] === o[k]) k++;
      agreed += k;
      compared += row.length;
    });
  }
const ratio = (b: number) => (ours && theirs ? (ours.decode[b] ?? 0) / (theirs.decode[b] ?? 1) : null);
console.log(`engine peak RSS ${fmt(rssMb)} MB${theirs ? `; llama.cpp ${fmt(theirs.rssMb)} MB` : ''}`);
if (ours && theirs)
  console.log(
    `engine / llama.cpp: prefill ${(ours.prefillTokensPerS / theirs.prefillTokensPerS).toFixed(2)}x; decode ${BATCHES.map((b) => `b${b} ${(ratio(b) as number).toFixed(2)}x`).join(', ')}; ` +
      `greedy tokens shared before the first difference: ${agreed}/${compared}`,
  );
console.log(
  `machine load (1-min average) during the bench: ${fmt(Math.min(...loads))}-${fmt(Math.max(...loads))}`,
);
console.log(
  JSON.stringify({
    model: values.model,
    threads,
    new_tokens: newTokens,
    prompt_tokens: promptTokens,
    engine_load_s: loadMs / 1000,
    prefill_tps: ours?.prefillTokensPerS ?? null,
    decode1_tps: ours?.decode[1] ?? null,
    decode8_tps: ours?.decode[8] ?? null,
    decode32_tps: ours?.decode[32] ?? null,
    llamacpp_prefill_tps: theirs?.prefillTokensPerS ?? null,
    llamacpp_decode1_tps: theirs?.decode[1] ?? null,
    llamacpp_decode8_tps: theirs?.decode[8] ?? null,
    llamacpp_decode32_tps: theirs?.decode[32] ?? null,
    decode32_vs_llamacpp: ratio(32),
    prefill_vs_llamacpp: ours && theirs ? ours.prefillTokensPerS / theirs.prefillTokensPerS : null,
    rss_mb: rssMb,
    llamacpp_rss_mb: theirs?.rssMb ?? null,
    greedy_agreement: compared ? agreed / compared : null,
    load_min: Math.min(...loads),
    load_max: Math.max(...loads),
  }),
);
