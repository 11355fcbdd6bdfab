// Pretraining: the engine's step with advantage 1 is plain cross-entropy (checked against a float64
// reference), bits-per-byte arithmetic, the data order, and small whole runs: the loss falls, a seed
// fixes every loss and weight, and the checkpoint loads through the built-in policy.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadPretrainCorpus } from '../../src/cli/pretrain.js';
import { readSafetensors } from '../../src/model/checkpoint.js';
import { type ModelConfig, parameterSpecs } from '../../src/model/config.js';
import { createModelEngine } from '../../src/model/engine.js';
import {
  bitsPerByte,
  DataOrder,
  dataSeed,
  epochWindows,
  type PretrainRecord,
  type PretrainSettings,
  runPretraining,
  validate,
  windowBatch,
} from '../../src/model/pretrain.js';
import { loadBuiltinPolicy } from '../../src/policy/builtin.js';
import { readJsonl } from '../../src/util/jsonl.js';
import { Rng } from '../../src/util/rng.js';
import { perturbParameters } from './finite-differences.js';
import { referenceLogprobs } from './reference-gpt.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-pretrain-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const optimizer = {
  learningRate: 1e-2,
  warmupSteps: 0,
  weightDecay: 0.1,
  gradClip: 1e9,
  beta1: 0.9,
  beta2: 0.99,
};

test('the training step with advantage 1 and weight 1/N is the mean cross-entropy: value and gradient', async () => {
  const cfg: ModelConfig = { vocabSize: 272, contextLength: 16, layers: 2, dModel: 16, heads: 2 };
  const engine = await createModelEngine(cfg, { threads: 1, seed: 4, optimizer });
  const rng = new Rng(17);
  perturbParameters(engine, rng, 0.1);
  const stream = Uint16Array.from({ length: 40 }, () => rng.int(cfg.vocabSize));
  const batch = windowBatch(stream, [0, 13, 27], 12);
  assert.ok(batch.weights.every((w) => w === Math.fround(1 / 36)) && batch.advantages.every((a) => a === 1));
  [0, 13, 27].forEach((s, b) => {
    for (let t = 0; t < 12; t++) {
      assert.equal(batch.tokens[b * 12 + t], stream[s + t]);
      assert.equal(batch.targets[b * 12 + t], stream[s + t + 1]);
    }
  });
  // The reference: -mean log p(target) from a float64 forward pass written from the math.
  const crossEntropy = () => {
    const lp = referenceLogprobs(cfg, engine.parameters, batch);
    return -lp.reduce((a, x) => a + x, 0) / lp.length;
  };
  const want = crossEntropy();
  // Central differences of the reference cross-entropy, for a few entries of every parameter.
  const eps = 1e-2;
  const checks: { name: string; index: number; fd: number }[] = [];
  for (const s of parameterSpecs(cfg)) {
    const w = engine.parameters.get(s.name) as Float32Array;
    for (let k = 0; k < 2; k++) {
      const index = s.name === 'wte' ? (batch.targets[k] as number) * cfg.dModel + k : rng.int(w.length);
      const old = w[index] as number;
      w[index] = old + eps;
      const up = crossEntropy();
      w[index] = old - eps;
      const down = crossEntropy();
      w[index] = old;
      checks.push({ name: s.name, index, fd: (up - down) / (2 * eps) });
    }
  }
  const stats = await engine.trainStep(batch, true);
  assert.ok(Math.abs(stats.loss - want) < 1e-4, `engine loss ${stats.loss}, reference cross-entropy ${want}`);
  const grads = stats.grads as Map<string, Float32Array>;
  const bad = checks.filter((c) => {
    const g = (grads.get(c.name) as Float32Array)[c.index] as number;
    return !(Math.abs(g - c.fd) <= 0.02 * Math.max(Math.abs(g), Math.abs(c.fd)) + 1e-4);
  });
  assert.deepEqual(bad, [], 'gradients that disagree with finite differences of the reference cross-entropy');
  await engine.close();
});

test('bits per byte: nats over bytes in bits; a uniform model scores log2(vocab) per position', async () => {
  assert.equal(bitsPerByte(8 * Math.LN2 * 100, 100), 8);
  assert.equal(bitsPerByte(Math.LN2, 2), 0.5);
  assert.throws(() => bitsPerByte(1, 0), /positive/);
  const cfg: ModelConfig = { vocabSize: 272, contextLength: 8, layers: 1, dModel: 8, heads: 2 };
  const engine = await createModelEngine(cfg, { threads: 1, seed: 1, optimizer });
  // The head is tied to the token embedding: zero it and every logit is 0, the distribution uniform.
  (engine.parameters.get('wte') as Float32Array).fill(0);
  // Two documents of 9 and 3 bytes, each between <|bos|> and <|eos|>: 16 tokens, so 15 targets (the
  // positions scored), 12 of them bytes.
  const bos = 256;
  const eos = 257;
  const stream = Uint16Array.from([bos, ...Buffer.from('abcdefghi'), eos, bos, ...Buffer.from('xyz'), eos]);
  const v = await validate(engine, stream, 8, 3, 1000);
  assert.equal(v.tokens, 15);
  assert.ok(Math.abs(v.loss - Math.log(272)) < 1e-5, `loss ${v.loss}`);
  assert.ok(Math.abs(v.bpb - (Math.log2(272) * 15) / 12) < 1e-5, `bpb ${v.bpb}`);
  // A cap on the positions scores fewer windows.
  assert.equal((await validate(engine, stream, 8, 3, 5)).tokens, 8);
  await engine.close();
});

test('data order: each epoch uses every window once at a fresh offset; a saved state continues the same order', () => {
  const len = 1000;
  const T = 16;
  const first = epochWindows(len, T, new Rng(dataSeed(3)).state());
  const starts = [...first.starts];
  const offset = Math.min(...starts);
  assert.ok(offset < T);
  assert.deepEqual(
    [...starts].sort((a, b) => a - b),
    Array.from({ length: Math.floor((len - 1 - offset) / T) }, (_, i) => offset + i * T),
  );
  assert.ok(starts.every((s) => s + T + 1 <= len));
  const a = DataOrder.fresh(len, T, 3);
  const seen: number[][] = [];
  for (let i = 0; i < 40; i++) seen.push(a.nextBatch(5)); // 200 windows: past three epochs
  assert.deepEqual(seen.flat().slice(0, starts.length), starts);
  const b = DataOrder.fresh(len, T, 3);
  for (let i = 0; i < 17; i++) b.nextBatch(5);
  const resumed = new DataOrder(len, T, JSON.parse(JSON.stringify(b.state)));
  assert.ok(b.state.epoch >= 1);
  for (let i = 17; i < 40; i++) assert.deepEqual(resumed.nextBatch(5), seen[i]);
  assert.notDeepEqual(DataOrder.fresh(len, T, 4).nextBatch(5), seen[0]);
  assert.throws(() => epochWindows(10, 16, first.next), /fewer than one window/);
});

/** A small synthetic Python corpus: 40 files of a few related functions. */
function writeCorpus(root: string): void {
  mkdirSync(root, { recursive: true });
  const ops = ['+', '-', '*', '//', '%'];
  for (let i = 0; i < 40; i++) {
    const lines = [`# module ${i}`, ''];
    for (let j = 0; j < 4; j++) {
      const op = ops[(i + j) % ops.length];
      lines.push(`def g${j}(x, y):`, `    if x > ${i + j}:`, `        return x ${op} y`, '    return y', '');
    }
    writeFileSync(join(root, `m${i}.py`), lines.join('\n'));
  }
}

const corpusDir = join(dir, 'corpus');
writeCorpus(corpusDir);

function settings(over: Partial<PretrainSettings> = {}): PretrainSettings {
  return {
    model: { vocabSize: 272, contextLength: 32, layers: 2, dModel: 32, heads: 2 },
    batch: 4,
    seed: 7,
    optimizer: { learningRate: 3e-3, warmupSteps: 2, weightDecay: 0.1, gradClip: 1, beta1: 0.9, beta2: 0.95 },
    schedule: { kind: 'constant' },
    steps: 30,
    minutes: null,
    valTokens: 256,
    evalEvery: 10,
    saveEvery: 10,
    corpus: { source: corpusDir, extensions: ['.py'], validationFraction: 0.1 },
    ...over,
  };
}

const losses = (file: string) =>
  readJsonl<PretrainRecord>(file)
    .records.filter((r) => r.kind === 'step')
    .map((r) => r.loss);

test('a tiny pretraining run lowers the training and validation loss; the same seed repeats it exactly', async () => {
  const corpus = await loadPretrainCorpus(settings().corpus, []);
  assert.ok(corpus.validationDocuments >= 1 && corpus.trainDocuments >= 30);
  const runs = [];
  for (const name of ['a', 'b']) {
    const out = join(dir, name);
    const r = await runPretraining({ dir: out, corpus, threads: 1, start: { settings: settings() } });
    runs.push({ out, r });
  }
  const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
  assert.equal(a.r.step, 30);
  assert.equal(a.r.trainingTokens, 30 * 4 * 32);
  const la = losses(join(a.out, 'pretrain.jsonl'));
  assert.equal(la.length, 30);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean(la.slice(-5)) < 0.6 * mean(la.slice(0, 5)), `loss ${la.slice(0, 5)} -> ${la.slice(-5)}`);
  const first = a.r.firstEval;
  const last = a.r.lastEval;
  assert.ok(first && last && first.step === 0 && last.step === 30);
  assert.ok(last.bpb < 0.6 * first.bpb, `validation ${first.bpb} -> ${last.bpb} bits per byte`);
  // Determinism: the same losses, evaluations and weights.
  assert.deepEqual(losses(join(b.out, 'pretrain.jsonl')), la);
  assert.deepEqual(b.r.lastEval, a.r.lastEval);
  const wa = readSafetensors(join(a.out, 'model.safetensors')).tensors;
  const wb = readSafetensors(join(b.out, 'model.safetensors')).tensors;
  assert.equal(wa.size, wb.size);
  for (const [name, t] of wa) assert.deepEqual(wb.get(name)?.data, t.data, name);
  // A new run refuses a directory that already holds one.
  await assert.rejects(
    runPretraining({ dir: a.out, corpus, threads: 1, start: { settings: settings() } }),
    /already holds a checkpoint/,
  );
  // A different seed gives a different run.
  const c = join(dir, 'c');
  await runPretraining({ dir: c, corpus, threads: 1, start: { settings: settings({ seed: 8, steps: 3 }) } });
  assert.notDeepEqual(losses(join(c, 'pretrain.jsonl')), la.slice(0, 3));
});

test('in-process resume from a mid-run checkpoint repeats the uninterrupted losses and weights', async () => {
  const corpus = await loadPretrainCorpus(settings().corpus, []);
  const whole = join(dir, 'whole');
  await runPretraining({
    dir: whole,
    corpus,
    threads: 1,
    start: { settings: settings({ steps: 16, saveEvery: 5 }) },
  });
  const part = join(dir, 'part');
  // Stop after step 7 (the stop writes a checkpoint), resume to a budget of 12 steps, then to 16: a
  // budget given on resume replaces the stored one.
  let n = 0;
  const r1 = await runPretraining({
    dir: part,
    corpus,
    threads: 1,
    start: { settings: settings({ steps: 16, saveEvery: 5 }) },
    events: { onStep: () => void n++, shouldStop: () => n >= 7 },
  });
  assert.equal(r1.interrupted, true);
  assert.equal(r1.step, 7);
  const r2 = await runPretraining({ dir: part, corpus, threads: 1, start: { resume: true, steps: 12 } });
  assert.equal(r2.step, 12);
  const r3 = await runPretraining({ dir: part, corpus, threads: 1, start: { resume: true, steps: 16 } });
  assert.equal(r3.step, 16);
  const r4 = await runPretraining({ dir: part, corpus, threads: 1, start: { resume: true } });
  assert.equal(r4.step, 16, 'a finished run resumed without a new budget takes no step');
  assert.deepEqual(losses(join(part, 'pretrain.jsonl')), losses(join(whole, 'pretrain.jsonl')));
  const wa = readSafetensors(join(whole, 'model.safetensors')).tensors;
  const wb = readSafetensors(join(part, 'model.safetensors')).tensors;
  for (const [name, t] of wa) assert.deepEqual(wb.get(name)?.data, t.data, name);
  // A corpus that changed is refused.
  const other = { ...corpus, train: corpus.train.slice(1) };
  await assert.rejects(
    runPretraining({ dir: part, corpus: other, threads: 1, start: { resume: true, steps: 20 } }),
    /corpus changed/,
  );
});

test('the checkpoint loads through the built-in policy and generates', async () => {
  const out = join(dir, 'a');
  const policy = await loadBuiltinPolicy(out, { threads: 1, trainUnderMask: false });
  assert.equal(policy.engine.step, 30);
  assert.equal(policy.engine.config.contextLength, 32);
  const saved = readSafetensors(join(out, 'model.safetensors')).tensors;
  for (const [name, w] of policy.engine.parameters) assert.deepEqual(w, saved.get(name)?.data, name);
  const [completions] = await policy.generate([
    { prompt: 'def g0(', n: 3, maxTokens: 12, temperature: 0.8, topP: 1, seed: 1 },
  ]);
  assert.equal(completions?.length, 3);
  for (const c of completions ?? []) assert.equal(typeof c.text, 'string');
  await policy.close();
});
