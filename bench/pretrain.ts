// Pretraining measurements (docs/pretrain.md):
//
//   node dist/bench/pretrain.js speed [--model small] [--context 512] [--batch 8,16] [--steps 12]
//     training tokens/s of the pretraining step on windows of the default corpus: the median and the
//     best step after the first (which builds the graph), per batch size
//   node dist/bench/pretrain.js sample CHECKPOINT [--n 100] [--max-tokens 256] [--temperature 0.8]
//     n completions of the prompt `def f(` through the built-in policy's generate; the share that parse
//     as Python (python3's ast.parse) as written, and cut to the function alone (up to the first line
//     that starts at column 0), and how many hit the token limit
//
// The machine may be shared: the load average is printed with the results.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadPretrainCorpus } from '../src/cli/pretrain.js';
import { parameterCount } from '../src/model/config.js';
import { createModelEngine } from '../src/model/engine.js';
import { DataOrder, windowBatch } from '../src/model/pretrain.js';
import { loadBuiltinPolicy, modelConfigFor } from '../src/policy/builtin.js';

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function speed(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'small' },
      context: { type: 'string', default: '512' },
      batch: { type: 'string', default: '8' },
      steps: { type: 'string', default: '12' },
      threads: { type: 'string', default: '2' },
    },
  });
  const T = Number(values.context);
  const config = modelConfigFor(values.model as 'small', T);
  const corpus = await loadPretrainCorpus({ source: null, extensions: ['.py'], validationFraction: 0.05 });
  console.log(
    `${values.model} (${(parameterCount(config) / 1e6).toFixed(2)}M parameters), context ${T}, ${values.threads} threads` +
      `; load average ${load()}`,
  );
  for (const B of String(values.batch).split(',').map(Number)) {
    const engine = await createModelEngine(config, {
      threads: Number(values.threads),
      seed: 1,
      optimizer: {
        learningRate: 1e-3,
        warmupSteps: 10,
        weightDecay: 0.1,
        gradClip: 1,
        beta1: 0.9,
        beta2: 0.95,
      },
    });
    const data = DataOrder.fresh(corpus.train.length, T, 1);
    const ms: number[] = [];
    for (let i = 0; i < Number(values.steps); i++) {
      const t0 = performance.now();
      await engine.trainStep(windowBatch(corpus.train, data.nextBatch(B), T));
      ms.push(performance.now() - t0);
    }
    const steady = ms.slice(1).sort((a, b) => a - b);
    const median = steady[Math.floor(steady.length / 2)] as number;
    const best = steady[0] as number;
    const rss = process.memoryUsage().rss / 1e9;
    console.log(
      `batch ${B} (${B * T} tokens/step): first step ${(ms[0] as number).toFixed(0)} ms, then median ${median.toFixed(0)} ms ` +
        `= ${((B * T) / (median / 1000)).toFixed(0)} tokens/s (best ${((B * T) / (best / 1000)).toFixed(0)}); ` +
        `rss ${rss.toFixed(2)} GB; load average ${load()}`,
    );
    await engine.close();
  }
}

/** For each program: [parses as written, parses cut to the function]. */
function parseWithPython(programs: string[]): [boolean, boolean][] {
  const script = [
    'import ast, json, sys',
    'def ok(s):',
    '    try:',
    '        ast.parse(s)',
    '        return True',
    '    except Exception:',
    '        return False',
    'def cut(s):',
    '    lines = s.split("\\n")',
    '    for i, l in enumerate(lines[1:], 1):',
    '        if l and not l[0].isspace():',
    '            return "\\n".join(lines[:i])',
    '    return s',
    'print(json.dumps([[ok(s), ok(cut(s))] for s in json.load(sys.stdin)]))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(programs), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as [boolean, boolean][];
}

async function sample(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      n: { type: 'string', default: '100' },
      'max-tokens': { type: 'string', default: '256' },
      temperature: { type: 'string', default: '0.8' },
      seed: { type: 'string', default: '1' },
      show: { type: 'string', default: '3' },
    },
  });
  const ckpt = positionals[0];
  if (!ckpt) throw new Error('give a CHECKPOINT');
  const policy = await loadBuiltinPolicy(ckpt, { threads: 2, trainUnderMask: false });
  const prompt = 'def f(';
  const t0 = performance.now();
  const [completions = []] = await policy.generate([
    {
      prompt,
      n: Number(values.n),
      maxTokens: Number(values['max-tokens']),
      temperature: Number(values.temperature),
      topP: 1,
      seed: Number(values.seed),
    },
  ]);
  const s = (performance.now() - t0) / 1000;
  await policy.close();
  const programs = completions.map((c) => prompt + c.text);
  const parsed = parseWithPython(programs);
  const whole = parsed.filter((p) => p[0]).length;
  const fn = parsed.filter((p) => p[1]).length;
  const cut = completions.filter((c) => c.finishReason === 'length').length;
  console.log(
    `${ckpt} (step ${policy.engine.step}): ${programs.length} completions of '${prompt}' at temperature ${values.temperature}, ` +
      `at most ${values['max-tokens']} tokens, in ${s.toFixed(1)} s; load average ${load()}`,
  );
  console.log(
    `parse as Python: ${whole}/${programs.length} as written, ${fn}/${programs.length} cut to the function; ` +
      `${cut} stopped at the token limit, ${programs.length - cut} ended with <|eos|>`,
  );
  for (const p of programs.slice(0, Number(values.show))) console.log(`---\n${p}`);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'speed') await speed(rest);
else if (mode === 'sample') await sample(rest);
else {
  console.error('usage: node dist/bench/pretrain.js speed [...] | sample CHECKPOINT [...]');
  process.exitCode = 2;
}
