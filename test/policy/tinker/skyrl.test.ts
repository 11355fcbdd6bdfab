// The TypeScript Tinker client against SkyRL's real Tinker server (JAX on CPU, the tiny random Qwen3
// built by python/setup_skyrl.sh), end to end: a LoRA model samples ids with log-probabilities; an
// importance-sampling forward_backward + optim_step moves the sampled log-probabilities of a fixed
// sequence the way the advantage says; save_weights then load_weights into a new model restores weights
// and optimizer state; a repeated seq_id gets the original future back. Without the Python side
// installed these tests fail, naming the setup command.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { BpeTokenizer } from '../../../src/model/bpe-tokenizer.js';
import {
  type SampleResult,
  TinkerClient,
  TinkerError,
  type TrainingModel,
} from '../../../src/policy/tinker/client.js';
import { rlDatum, rlDatums } from '../../../src/policy/tinker/datums.js';
import { TinkerTrainer } from '../../../src/policy/tinker/trainer.js';
import type { AdamParams, Datum } from '../../../src/policy/tinker/wire.js';
import type { TrainingSample } from '../../../src/policy/types.js';
import { freePort, type SkyrlServer, startSkyrlServer } from './skyrl-server.js';

let server: SkyrlServer;
let client: TinkerClient;
let tok: BpeTokenizer;
let prompt: number[];
const timings: string[] = [];

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const out = await fn();
  timings.push(`${label}: ${((performance.now() - start) / 1000).toFixed(2)} s`);
  return out;
}

before(async () => {
  server = await timed('server start', () => startSkyrlServer());
  client = new TinkerClient({ baseUrl: server.url, apiKey: 'tml-local-test', futureTimeoutMs: 600_000 });
  tok = await BpeTokenizer.load(server.modelDir);
  prompt = tok.encode('def add(x, y):\n    return');
  await timed('create_session', () => client.createSession(['azr-test']));
});

after(async () => {
  client?.close();
  await server?.stop();
  if (timings.length)
    console.log(`# Tinker call wall times on the tiny model:\n#   ${timings.join('\n#   ')}`);
});

/** Sampled log-probabilities of `completion` after `prompt` under a sampler path (prompt log-probabilities). */
async function sequenceLogprobs(modelPath: string, completion: readonly number[]): Promise<number[]> {
  const res = await timed('asample (prompt logprobs)', () =>
    client.sample({
      modelPath,
      prompt: [...prompt, ...completion],
      params: { max_tokens: 1, temperature: 1, seed: 7 },
      promptLogprobs: true,
    }),
  );
  assert.ok(res.promptLogprobs, 'the server returns prompt log-probabilities when asked');
  return res.promptLogprobs.slice(prompt.length).map((x) => x as number);
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!)));
}

const ADAM: AdamParams = { learning_rate: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8 };

let trained: TrainingModel;
let completion: number[];
let sampled: SampleResult;
let before0: number[];
let after1: number[];
let statePath: string;

test('a LoRA model samples token ids with their log-probabilities', async () => {
  trained = await timed('create_model (LoRA rank 4; the first waits for the engine to start)', () =>
    client.createLoraModel({ baseModel: server.baseModel, rank: 4, seed: 0 }),
  );
  assert.match(trained.modelId, /\S/);
  const path0 = await timed('save_weights_for_sampler', () => trained.saveWeightsForSampler('s0'));
  assert.match(path0, /^tinker:\/\//);
  sampled = await timed('asample (2 x 8 tokens)', () =>
    client.sample({
      modelPath: path0,
      prompt,
      numSamples: 2,
      params: { max_tokens: 8, temperature: 1, seed: 1 },
    }),
  );
  assert.equal(sampled.sequences.length, 2);
  for (const s of sampled.sequences) {
    assert.ok(s.tokens.length >= 1 && s.tokens.length <= 8);
    assert.equal(s.logprobs.length, s.tokens.length);
    for (const lp of s.logprobs) assert.ok(Number.isFinite(lp) && lp <= 0, `log-probability ${lp}`);
    assert.equal(typeof tok.decode(s.tokens), 'string');
  }
  completion = sampled.sequences[0]!.tokens;
  // The same weights score the sampled tokens as the sampler did.
  before0 = await sequenceLogprobs(path0, completion);
  const d0 = maxAbsDiff(before0, sampled.sequences[0]!.logprobs);
  assert.ok(d0 < 1e-3, `sampler vs prompt log-probabilities differ by ${d0}`);
});

test('forward_backward (importance_sampling) + optim_step raise the log-probabilities of a rewarded sequence', async () => {
  const seq = sampled.sequences[0]!;
  const datum = rlDatum({
    promptTokens: prompt,
    completionTokens: seq.tokens,
    completionLogprobs: seq.logprobs,
    advantage: 1,
  })!;
  // The trainer's forward pass agrees with the sampler on the completion tokens.
  const fwd = await timed('forward (forward_only)', () => trained.forward([datum], 'importance_sampling'));
  const lp = fwd.lossFnOutputs[0]?.logprobs?.data;
  assert.ok(lp, `forward returns target logprobs (got ${Object.keys(fwd.lossFnOutputs[0] ?? {})})`);
  assert.equal(lp.length, prompt.length + seq.tokens.length - 1);
  const dTrain = maxAbsDiff(lp.slice(prompt.length - 1), seq.logprobs);
  assert.ok(dTrain < 1e-3, `trainer vs sampler log-probabilities differ by ${dTrain}`);

  const fb = await timed('forward_backward', () => trained.forwardBackward([datum], 'importance_sampling'));
  assert.equal(fb.lossFnOutputs.length, 1);
  const opt = await timed('optim_step', () => trained.optimStep(ADAM));
  assert.ok((opt.metrics['skyrl.ai/grad_norm'] ?? 0) > 0, `grad norm ${JSON.stringify(opt.metrics)}`);
  const path1 = await timed('save_weights_for_sampler', () => trained.saveWeightsForSampler('s1'));
  after1 = await sequenceLogprobs(path1, completion);
  const gain = after1.reduce((a, b) => a + b, 0) - before0.reduce((a, b) => a + b, 0);
  assert.ok(gain > 0.01, `sum of log-probabilities rose by ${gain}`);
});

test('save_weights, then load_weights into a new model, restores weights and optimizer state', async () => {
  statePath = await timed('save_weights', () => trained.saveWeights('state1'));
  assert.match(statePath, /^tinker:\/\/.+\/weights\/state1$/);
  const restored = await timed('create_model + load_weights', () =>
    client.createModelFromState(statePath, { baseModel: server.baseModel, rank: 4, seed: 123 }),
  );
  assert.notEqual(restored.modelId, trained.modelId);
  const pathR = await restored.saveWeightsForSampler('r1');
  const lpR = await sequenceLogprobs(pathR, completion);
  const dRestored = maxAbsDiff(lpR, after1);
  assert.ok(dRestored < 1e-5, `restored vs trained log-probabilities differ by ${dRestored}`);

  // One more identical step on both: equal results only if Adam's moments came back too.
  const seq = sampled.sequences[0]!;
  const data: Datum[] = rlDatums(
    [{ promptTokens: prompt, completionTokens: seq.tokens, completionLogprobs: seq.logprobs, advantage: -1 }],
    'sequenceMean',
  );
  const stepT = await timed('step (forward_backward + optim_step pipelined)', () => trained.step(data, ADAM));
  const stepR = await restored.step(data, ADAM);
  assert.ok(stepT.optim.metrics['skyrl.ai/grad_norm']! > 0 && stepR.optim.metrics['skyrl.ai/grad_norm']! > 0);
  const lpT2 = await sequenceLogprobs(await trained.saveWeightsForSampler('s2'), completion);
  const lpR2 = await sequenceLogprobs(await restored.saveWeightsForSampler('r2'), completion);
  const dStep = maxAbsDiff(lpT2, lpR2);
  assert.ok(dStep < 1e-4, `after one more step, trained vs restored differ by ${dStep}`);
  assert.ok(maxAbsDiff(lpT2, after1) > 1e-4, 'the second step moved the weights');
});

test('a repeated seq_id returns the original future; a different body under it is refused', async () => {
  const model = await client.createLoraModel({ baseModel: server.baseModel, rank: 2, seed: 5 });
  const datum = rlDatum({
    promptTokens: prompt,
    completionTokens: [5, 6],
    completionLogprobs: [-7, -7],
    advantage: 1,
  })!;
  const seqId = model.nextSeqId;
  const first = await client.submitForwardBackward(model.modelId, seqId, [datum], 'importance_sampling');
  const again = await client.submitForwardBackward(model.modelId, seqId, [datum], 'importance_sampling');
  assert.equal(again, first);
  const other = rlDatum({
    promptTokens: prompt,
    completionTokens: [7],
    completionLogprobs: [-7],
    advantage: 1,
  })!;
  await assert.rejects(
    client.submitForwardBackward(model.modelId, seqId, [other], 'importance_sampling'),
    (err: unknown) =>
      err instanceof TinkerError &&
      err.status === 409 &&
      err.call === 'forward_backward' &&
      err.url === `${server.url}/api/v1/forward_backward` &&
      /sequence number was reused/.test(err.message),
  );
  const result = await client.forwardBackwardResult(first);
  assert.equal(result.lossFnOutputs.length, 1);
});

test('a forward_backward whose answer is lost is sent again and gets its original future', async () => {
  // A loopback proxy in front of the real server that forwards the first forward_backward, reads the
  // future id the server gave it, and drops the connection instead of answering.
  let lostRequestId: string | undefined;
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'accept', 'x-api-key']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const upstream = await fetch(`${server.url}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (req.url === '/api/v1/forward_backward' && lostRequestId === undefined) {
      lostRequestId = String(JSON.parse(body.toString()).request_id);
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? '' });
    res.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const retries: string[] = [];
    const viaProxy = new TinkerClient({
      baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      backoffMs: 10,
      onRetry: (info) => retries.push(`${info.call}: ${info.error}`),
    });
    await viaProxy.createSession();
    const model = await viaProxy.createLoraModel({ baseModel: server.baseModel, rank: 2, seed: 9 });
    const datum = rlDatum({
      promptTokens: prompt,
      completionTokens: [5],
      completionLogprobs: [-7],
      advantage: 1,
    })!;
    const seqId = model.nextSeqId;
    const id = await viaProxy.submitForwardBackward(model.modelId, seqId, [datum], 'importance_sampling');
    viaProxy.close();
    assert.ok(lostRequestId, 'the proxy dropped an answer');
    assert.equal(id, lostRequestId, 'the retry got the future of the request whose answer was lost');
    assert.equal(retries.length, 1);
    assert.match(
      retries[0]!,
      /^forward_backward: Tinker forward_backward at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/forward_backward/,
    );
    assert.equal((await client.forwardBackwardResult(id)).lossFnOutputs.length, 1);
  } finally {
    proxy.close();
  }
});

test("a trainer backend over the client: update on the loop's samples, publish, save and resume", async () => {
  const promptText = 'def add(x, y):\n    return';
  const opts = {
    client,
    baseModel: server.baseModel,
    rank: 4,
    seed: 3,
    adam: ADAM,
    reduction: 'sequenceMean' as const,
    encodePrompt: (text: string) => tok.encode(text),
  };
  const trainer = await TinkerTrainer.create(opts);
  const before = trainer.samplerPath;
  const res = await client.sample({
    modelPath: before,
    prompt: tok.encode(promptText),
    numSamples: 2,
    params: { max_tokens: 6, temperature: 1, seed: 11 },
  });
  const samples: TrainingSample[] = res.sequences.map((s, i) => ({
    prompt: promptText,
    completion: {
      text: tok.decode(s.tokens),
      finishReason: s.stopReason,
      tokenIds: s.tokens,
      logprobs: s.logprobs,
    },
    advantage: i === 0 ? 1 : -1,
    group: 'deduction/solver',
  }));
  const stats = await timed('TinkerTrainer.update (2 samples, step + publish)', () =>
    trainer.update(samples),
  );
  assert.notEqual(trainer.samplerPath, before, 'the new weights are published');
  assert.equal(
    stats.tokens,
    res.sequences.reduce((n, s) => n + s.tokens.length, 0),
  );
  assert.ok(stats.gradNorm > 0, `grad norm ${stats.gradNorm}`);
  // On-policy the ratio is 1, so the loss is minus the mean advantage: 0 for advantages +1 and -1.
  assert.ok(Math.abs(stats.loss) < 1e-3, `loss ${stats.loss}`);
  assert.equal(stats.learningRate, ADAM.learning_rate);

  const resumed = await TinkerTrainer.resume(opts, await trainer.save('trainer-state'));
  const seq = res.sequences[0]!.tokens;
  const d = maxAbsDiff(
    await sequenceLogprobs(resumed.samplerPath, seq),
    await sequenceLogprobs(trainer.samplerPath, seq),
  );
  assert.ok(d < 1e-5, `resumed vs trained differ by ${d}`);
});

test('errors name the call, the URL and what the server answered', async () => {
  await assert.rejects(
    client.submitForwardBackward('model_missing', 1, [], 'importance_sampling'),
    (err: unknown) =>
      err instanceof TinkerError &&
      err.status === 404 &&
      err.message ===
        `Tinker forward_backward at ${server.url}/api/v1/forward_backward: HTTP 404: Model not found`,
  );
  const json = new TinkerClient({ baseUrl: server.url, forwardBackwardEncoding: 'json' });
  await assert.rejects(
    json.submitForwardBackward('model_missing', 1, [], 'importance_sampling'),
    /Tinker forward_backward at .*: HTTP 415: forward_backward requires a application\/x-protobuf body/,
  );
  await assert.rejects(client.retrieveFuture('optim_step', '987654'), /HTTP 404: Future not found/);
  const closedPort = await freePort();
  const refused = new TinkerClient({ baseUrl: `http://127.0.0.1:${closedPort}`, retries: 1, backoffMs: 1 });
  await assert.rejects(
    refused.createSession(),
    new RegExp(
      `Tinker create_session at http://127\\.0\\.0\\.1:${closedPort}/api/v1/create_session: ECONNREFUSED`,
    ),
  );
});
