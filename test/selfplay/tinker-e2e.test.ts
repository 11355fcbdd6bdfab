// Self-play on the Tinker backend end to end, against SkyRL's real Tinker server (JAX on CPU, the tiny
// random Qwen3 and its tokenizer built by python/setup_skyrl.sh): first the seam itself (TinkerPolicy
// generates with the sampled ids and log-probabilities, an update moves them the way the advantage says,
// save writes a pointer that loadTinkerPolicy resumes from), then `azr train --backend tinker` through the
// real CLI: three iterations, killed with SIGKILL after the second commits and resumed from the saved
// remote weights. Without the Python side installed these tests fail, naming the setup command.
//
// The tiny model is shaped for this (python/make_tiny_qwen3.py): `</answer>` is one token of its
// tokenizer and its random weights give that token a logit offset in every context, so some solver
// answers are well formed (reward -0.5, wrong) and others are not (-1). Rewards then differ within a
// (type, role) group, TRR++ gives non-zero advantages, and the loop takes real optimizer steps. The run's
// learning is checked on the saved step count (at least one, one per iteration with a gradient) and on
// the fixed prompt's log-probabilities under the run's final weights, which must differ from those of
// the weights it started from (--tinker-init: the first test's trained checkpoint). That an update moves
// the weights the right way is the first test. The last test scores and serves the run's saved weights
// with `azr eval`, `azr eval --bench cruxeval` and `azr serve`, first on the sampler path the run published
// and then, once the server has unloaded the run's model, on its saved state restored into a new model.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import { TinkerClient, TrainingModel } from '../../src/policy/tinker/client.js';
import {
  createTinkerPolicy,
  loadTinkerPolicy,
  POINTER_FILE,
  readTinkerPointer,
  type TinkerPolicyOptions,
} from '../../src/policy/tinker/policy.js';
import { readMetricsFile } from '../../src/run/metrics.js';
import { RunDir } from '../../src/run/rundir.js';
import { type SkyrlServer, startSkyrlServer } from '../policy/tinker/skyrl-server.js';
import { azr } from './azr-process.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const root = mkdtempSync(join(tmpdir(), 'azr-tinker-e2e-'));

let server: SkyrlServer;
let client: TinkerClient;
let tok: BpeTokenizer;
const notes: string[] = [];
/** The first test's trained checkpoint: its state path, step, and a sequence's log-probabilities under it. */
let trainedCheckpoint:
  | { statePath: string; step: number; prompt: number[]; completion: number[]; logprobs: number[] }
  | undefined;

before(async () => {
  server = await startSkyrlServer();
  client = new TinkerClient({ baseUrl: server.url, apiKey: 'tml-local-test', futureTimeoutMs: 900_000 });
  tok = await BpeTokenizer.load(server.modelDir);
});

after(async () => {
  client?.close();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
  if (notes.length) console.log(`# ${notes.join('\n# ')}`);
});

/** Log-probabilities of `completion` after `prompt` under a sampler path. */
async function logprobsOf(modelPath: string, prompt: number[], completion: number[]): Promise<number[]> {
  const res = await client.sample({
    modelPath,
    prompt: [...prompt, ...completion],
    params: { max_tokens: 1, temperature: 1, seed: 7 },
    promptLogprobs: true,
  });
  assert.ok(res.promptLogprobs, 'the server returns prompt log-probabilities');
  return res.promptLogprobs.slice(prompt.length).map((x) => x as number);
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]) =>
  Math.max(0, ...a.map((x, i) => Math.abs(x - (b[i] as number))));
const sum = (a: readonly number[]) => a.reduce((s, x) => s + x, 0);

function policyOptions(dir = server.modelDir): TinkerPolicyOptions {
  return {
    url: server.url,
    baseModel: server.baseModel,
    loraRank: 4,
    loraSeed: 0,
    tokenizerDir: dir,
    reduction: 'sequenceMean',
    adam: () => ({ learning_rate: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8 }),
  };
}

test('TinkerPolicy: generate keeps the sampled ids, update moves them, save and load resume the weights', async () => {
  const policy = await createTinkerPolicy(policyOptions());
  const prompt = 'def f(x):\n    return';
  const [out] = await policy.generate([
    { prompt, n: 2, temperature: 1, topP: 1, maxTokens: 8, seed: 3, stop: ['\n\n'] },
  ]);
  assert.equal(out?.length, 2);
  const [a, b] = out as [NonNullable<typeof out>[0], NonNullable<typeof out>[0]];
  for (const c of [a, b]) {
    assert.ok(c.tokenIds && c.logprobs && c.tokenIds.length === c.logprobs.length && c.tokenIds.length > 0);
    // The text is the ids' decoding, cut at a stop string: training sees the ids as sampled.
    assert.ok(tok.decode(c.tokenIds).startsWith(c.text));
    assert.ok(!c.text.includes('\n\n'));
  }
  const promptIds = tok.encode(prompt);
  const samplerBefore = policy.trainer.samplerPath;
  const before0 = await logprobsOf(samplerBefore, promptIds, a.tokenIds as number[]);
  assert.ok(maxAbsDiff(before0, a.logprobs as number[]) < 1e-3, 'the sampler scored its own tokens');

  const stats = await policy.update([
    { prompt, completion: a, advantage: 1, group: 'deduction.solver' },
    { prompt, completion: b, advantage: 0, group: 'deduction.solver' }, // no signal: left out
  ]);
  assert.equal(stats.tokens, a.tokenIds?.length);
  notes.push(
    `TinkerPolicy.update of one sequence (forward_backward + optim_step + save_weights_for_sampler, shapes compiling): ${(stats.timeMs / 1000).toFixed(1)} s`,
  );
  assert.ok(stats.gradNorm > 0, `grad norm ${stats.gradNorm}`);
  assert.equal(policy.trainer.step, 1);
  assert.notEqual(policy.trainer.samplerPath, samplerBefore, 'the new weights are published');
  const after1 = await logprobsOf(policy.trainer.samplerPath, promptIds, a.tokenIds as number[]);
  assert.ok(sum(after1) - sum(before0) > 0.01, `rewarded sequence rose by ${sum(after1) - sum(before0)}`);

  // An update with no signal takes no step.
  const none = await policy.update([{ prompt, completion: b, advantage: 0, group: 'deduction.solver' }]);
  assert.equal(none.tokens, 0);
  assert.equal(policy.trainer.step, 1);

  const dir = join(root, 'policy-checkpoint');
  await policy.save(dir);
  const pointer = readTinkerPointer(dir);
  assert.match(pointer.statePath, /^tinker:\/\/.+\/weights\/policy-checkpoint$/);
  assert.equal(pointer.step, 1);
  assert.equal(pointer.modelId, policy.trainer.model.modelId);
  await policy.close();

  const resumed = await loadTinkerPolicy(dir, policyOptions());
  assert.notEqual(resumed.trainer.model.modelId, pointer.modelId, 'a new model loaded the saved state');
  assert.equal(resumed.trainer.step, 1);
  const lpR = await logprobsOf(resumed.trainer.samplerPath, promptIds, a.tokenIds as number[]);
  assert.ok(maxAbsDiff(lpR, after1) < 1e-5, `resumed vs saved differ by ${maxAbsDiff(lpR, after1)}`);
  await resumed.close();
  trainedCheckpoint = {
    statePath: pointer.statePath,
    step: pointer.step,
    prompt: promptIds,
    completion: a.tokenIds as number[],
    logprobs: after1,
  };
  await assert.rejects(
    loadTinkerPolicy(dir, { ...policyOptions(), loraRank: 8 }),
    /saved from .* at LoRA rank 4, but the run asks for .* at rank 8/,
  );
});

/** The run the train test writes and the eval test scores. */
const runDir = join(root, 'run');

/** Tinker calls in the server's access log, by route. */
function callCounts(log: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of log.matchAll(/"(?:POST|GET) \/api\/v1\/([a-z_]+)/g))
    counts[m[1] as string] = (counts[m[1] as string] ?? 0) + 1;
  return counts;
}

test('azr train --backend tinker: three iterations, killed after the second and resumed from the remote weights', async () => {
  assert.ok(trainedCheckpoint, 'the first test saved a trained checkpoint');
  const init = trainedCheckpoint;
  const config = join(root, 'small.json');
  writeFileSync(
    config,
    JSON.stringify({
      selfplay: { proposerBatch: 2, solverBatch: 4, learnabilityRollouts: 2 },
      sampling: { proposerMaxTokens: 32, solverMaxTokens: 16 },
      optimizer: { learningRate: 1e-3, warmupSteps: 0, clipEpsilon: null },
      evalEvery: null,
    }),
  );
  const dir = runDir;
  const run = new RunDir(dir);
  const logAtStart = server.log().length;
  const first = azr([
    ...['train', '--preset', 'tiny', '--iterations', '3', '--seed', '5', '--config', config, '--out', dir],
    ...['--backend', 'tinker', '--tinker-url', server.url, '--base-model', server.baseModel],
    ...['--tokenizer', server.modelDir, '--lora-rank', '4', '--reduction', 'sequenceMean'],
    ...['--tinker-init', init.statePath],
  ]);
  for (let i = 0; i < 6000 && (run.readState()?.iteration ?? 0) < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  first.child.kill('SIGKILL');
  const k = await first.done;
  assert.equal(k.code, null, `killed, not finished: ${k.out}\n${k.err}`);
  assert.match(k.out, /tinker: new LoRA model \S+ \(rank 4\) on .* from the weights of tinker:\/\//);
  const at = run.readState()?.iteration ?? 0;
  assert.equal(at, 2, `killed after iteration ${at}`);
  const saved = readTinkerPointer(run.checkpointPath(run.readState()?.checkpoint as string));

  const logAtResume = server.log().length;
  const resumed = await azr(['train', '--resume', dir]).done;
  const resumedCalls = callCounts(server.log().slice(logAtResume));
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /resuming at iteration 2/);
  assert.ok(
    resumed.out.includes(`tinker: resumed ${saved.statePath} (step ${saved.step})`),
    `the resumed run loaded the saved remote state:\n${resumed.out}`,
  );
  const state = run.readState();
  assert.equal(state?.iteration, 3);
  const metrics = readMetricsFile(run.metricsPath).records;
  assert.deepEqual(
    metrics.map((m) => m.iteration),
    [1, 2, 3],
  );
  const final = readTinkerPointer(run.checkpointPath(state?.checkpoint as string));
  assert.ok(existsSync(join(run.checkpointPath(state?.checkpoint as string), POINTER_FILE)));
  assert.notEqual(final.modelId, saved.modelId, 'the resumed run trains a new model loaded from the save');
  const updates = metrics.filter((m) => m.gradNorm > 0).length;
  assert.ok(updates > 0, 'the loop took at least one optimizer step');
  assert.equal(final.step, updates, 'one optimizer step per iteration with a gradient');

  // The weights came through --tinker-init, the steps, the save, the SIGKILL and the resume: the fixed
  // sequence no longer scores as under the starting weights.
  const end = await logprobsOf(final.samplerPath, init.prompt, init.completion);
  const moved = maxAbsDiff(end, init.logprobs);
  assert.ok(moved > 1e-4, `${updates} steps taken, yet the log-probabilities moved by only ${moved}`);

  // What one iteration costs against the CPU server, and which Tinker calls it makes.
  const log = server.log();
  notes.push(
    `iterations (s): ${metrics.map((m) => `${m.iteration}: ${m.iterationS.toFixed(1)} (sample ${m.phases.sample.toFixed(1)}, execute ${m.phases.execute.toFixed(1)}, update ${m.phases.update.toFixed(1)}; loss ${m.loss.toFixed(4)}, grad norm ${m.gradNorm.toFixed(4)})`).join('; ')}`,
    `Tinker calls of the resumed run, which ran one iteration (server access log): ${JSON.stringify(resumedCalls)}`,
    `Tinker calls of the whole test run: ${JSON.stringify(callCounts(log.slice(logAtStart)))}`,
    `solver mean reward and share of format errors (deduction / abduction): ${metrics.map((m) => `${m.iteration}: ${(['deduction', 'abduction'] as const).map((t) => `reward ${(m.types[t]?.solverReward ?? 0).toFixed(2)}, format errors ${(m.types[t]?.solverFormatErrors ?? 0).toFixed(2)}`).join(' / ')}`).join('; ')}`,
    `iterations with a gradient: ${updates}; fixed sequence's log-probability ${sum(init.logprobs).toFixed(4)} -> ${sum(end).toFixed(4)}`,
  );
});

test("azr eval and azr serve sample the run's saved weights, then restore them once the server dropped the model", async () => {
  const run = new RunDir(runDir);
  const state = run.readState();
  assert.equal(state?.iteration, 3, 'the train test left a finished run');
  const pointer = readTinkerPointer(run.checkpointPath(state?.checkpoint as string));
  const few = join(root, 'few.jsonl');
  const heldout = readFileSync(join(repo, 'eval', 'heldout.jsonl'), 'utf8').split('\n');
  writeFileSync(few, `${heldout.slice(0, 4).join('\n')}\n`);
  const evalArgs = ['eval', runDir, '--data', few, '--max-tokens', '12', '--show'];
  const scored = (out: string) => out.split('\n').filter((l) => /^(pass|fail|unparsed)/.test(l));

  // The run's model is still loaded: its own sampler path is sampled.
  const first = await azr(evalArgs).done;
  assert.equal(first.code, 0, first.err);
  assert.ok(first.out.includes(`sampling ${pointer.samplerPath} (step ${pointer.step}`), first.out);
  assert.match(first.out, /answer format: compact prompts, free decoding \(from .*config\.json\)/);
  assert.doesNotMatch(first.out, /no longer has/);
  assert.equal(scored(first.out).length, 4, first.out);
  const scores = JSON.parse(first.out.trim().split('\n').at(-1) as string) as { mean: number };
  assert.equal(typeof scores.mean, 'number');

  const crux = await azr([
    ...[
      'eval',
      '--bench',
      'cruxeval',
      runDir,
      '--data',
      join(repo, 'test', 'fixtures', 'cruxeval-mini.jsonl'),
    ],
    ...['--limit', '2', '--max-tokens', '12'],
  ]).done;
  assert.equal(crux.code, 0, crux.err);
  assert.match(crux.out, /^2 problems \(python\) from .*, policy tinker, n=1/m);
  const cruxJson = JSON.parse(crux.out.trim().split('\n').at(-1) as string);
  assert.equal(cruxJson.policy, 'tinker');
  assert.equal(cruxJson.problems, 2);

  // azr serve: a greedy completion over the OpenAI API is the sampler's own greedy continuation.
  const served = azr(['serve', runDir, '--port', '0', '--model', 'run']);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      served.child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/v1) \(context (\d+) tokens/.exec(out);
        if (m) resolve(m[1] as string);
      });
      served.child.on('exit', (code) => reject(new Error(`azr serve exited ${code}: ${out}`)));
    });
    const prompt = 'def f(x):\n    return';
    const res = await fetch(`${url}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'run', prompt, max_tokens: 8, temperature: 0, logprobs: 0 }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      choices: { text: string; logprobs: { tokens: string[]; token_logprobs: number[] } }[];
      usage: { prompt_tokens: number };
    };
    const direct = await client.sample({
      modelPath: pointer.samplerPath,
      prompt: tok.encode(prompt),
      params: { max_tokens: 8, temperature: 0, stop: [tok.eosToken as string] },
    });
    const tokens = direct.sequences[0]?.tokens ?? [];
    assert.equal(body.choices[0]?.text, tok.decode(tokens).split(tok.eosToken as string)[0]);
    assert.equal(body.choices[0]?.logprobs.token_logprobs.length, tokens.length);
    assert.equal(body.usage.prompt_tokens, tok.encode(prompt).length);
  } finally {
    served.child.kill('SIGTERM');
    await served.done;
  }

  // The server drops the run's model (as SkyRL does 5 minutes after its heartbeats stop): the saved state
  // is restored into a new model, which samples the same weights, so greedy answers are the same.
  await new TrainingModel(client, pointer.modelId, pointer.baseModel).unload();
  const again = await azr(evalArgs).done;
  assert.equal(again.code, 0, again.err);
  assert.match(
    again.out,
    new RegExp(`no longer has ${pointer.samplerPath}.*restored the saved weights ${pointer.statePath}`),
  );
  assert.deepEqual(scored(again.out), scored(first.out));
  assert.equal(again.out.trim().split('\n').at(-1), first.out.trim().split('\n').at(-1));
  notes.push(`restored-model eval log: ${again.out.split('\n').find((l) => l.includes('no longer has'))}`);
});
