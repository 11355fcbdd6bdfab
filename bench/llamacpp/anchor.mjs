// The llama.cpp side of `npm run bench:real`, run as a child process of bench/real.ts so that its
// threads and memory are its own: node-llama-cpp (llama.cpp's prebuilt CPU binary) on the same GGUF, the
// same token ids, threads and batch shapes as the engine. Input: one JSON argument
// {model, threads, prefill: ids[][], decode: {batch: ids[][]}, newTokens}; output: one JSON line.
import { getLlama } from 'node-llama-cpp';

const job = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: job.model });
const loadMs = performance.now() - t0;

async function context(sequences, tokensPerSequence) {
  return model.createContext({
    sequences,
    contextSize: sequences * (tokensPerSequence + 16),
    batchSize: Math.min(2048, sequences * tokensPerSequence),
    threads: { ideal: job.threads, min: job.threads },
  });
}

// Prefill: every prompt evaluated, no token generated.
const longest = Math.max(...job.prefill.map((p) => p.length));
let ctx = await context(job.prefill.length, longest);
let seqs = job.prefill.map(() => ctx.getSequence());
let t = performance.now();
await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(job.prefill[i])));
const prefillMs = performance.now() - t;
const prefillTokens = job.prefill.reduce((n, p) => n + p.length, 0);
await ctx.dispose();

// Decode: each batch's prompts evaluated first, then newTokens greedy tokens per sequence, all sequences
// in one batch per step (node-llama-cpp batches concurrent sequences of a context).
const decode = {};
const greedy = {};
for (const [batch, prompts] of Object.entries(job.decode)) {
  const plen = Math.max(...prompts.map((p) => p.length));
  ctx = await context(prompts.length, plen + job.newTokens);
  seqs = prompts.map(() => ctx.getSequence());
  await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1))));
  t = performance.now();
  const outs = await Promise.all(
    seqs.map(async (s, i) => {
      const ids = [];
      const it = s.evaluate(prompts[i].slice(-1), { temperature: 0 });
      for await (const id of it) {
        ids.push(id);
        if (ids.length >= job.newTokens) break;
      }
      return ids;
    }),
  );
  const ms = performance.now() - t;
  decode[batch] = (prompts.length * job.newTokens) / (ms / 1000);
  greedy[batch] = outs;
  await ctx.dispose();
}
process.stdout.write(
  `${JSON.stringify({
    loadMs,
    prefillTokensPerS: prefillTokens / (prefillMs / 1000),
    decode,
    greedy,
    rssMb: process.resourceUsage().maxRSS / 1000,
  })}\n`,
);
await model.dispose();
await llama.dispose();
