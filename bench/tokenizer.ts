// A real model's tokenizer on this machine, all measured in one run (JSON last line):
//   build    reading the GGUF's header and metadata (readGguf), then building the tokenizer from it
//            (BpeTokenizer.fromGguf): once per process, best of 3
//   prompt   encoding a prompt of about 2,000 tokens (Python source), decoding its ids at once, and decoding
//            them id by id through the stream decoder as the sampler does: best of 10
//   corpus   one pass of encoding over a sample of the Pyodide standard library (every 4th .py file), in
//            tokens/s
//   python   the same prompt and corpus with Python's `tokenizers` (Rust, one thread) on the reference
//            tokenizer of python/tokenizer_fixture.py, and how many corpus documents get the same ids
//            from both (needs a Python with transformers and gguf: $PYTHON, the Tinker venv, or python3)
// CPU times are process CPU, wall times are printed beside them: on a shared machine the wall clock also
// counts other processes' turns. The load average is printed with the results.
//
//   npm run bench:tokenizer -- [--model NAME|FILE.gguf]     (NAME in $AZR_MODELS or models/; default smollm2-135m)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpeTokenizer } from '../src/model/bpe-tokenizer.js';
import { defaultPythonCorpus, readZipDocuments } from '../src/model/corpus.js';
import { readGguf } from '../src/model/gguf.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROMPT_TOKENS = 2000;

/** Wall and process-CPU milliseconds of the best of `runs` calls. */
function best<T>(runs: number, fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  let out: { value: T; wallMs: number; cpuMs: number } | undefined;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const value = fn();
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000;
    if (!out || cpuMs < out.cpuMs) out = { value, wallMs, cpuMs };
  }
  return out as { value: T; wallMs: number; cpuMs: number };
}

function modelPath(arg: string): string {
  const path = arg.endsWith('.gguf')
    ? resolve(arg)
    : join(resolve(process.env.AZR_MODELS || 'models'), `${arg}.gguf`);
  if (!existsSync(path)) throw new Error(`no ${path}: npx azr pull ${arg} (or give a .gguf path)`);
  return path;
}

/** The first Python that imports transformers and gguf: $PYTHON, the Tinker venv's, python3. */
function referencePython(): string | null {
  const venv = join(
    process.env.AZR_TINKER_HOME || join(homedir(), '.cache', 'azr-tinker'),
    'venv',
    'bin',
    'python',
  );
  for (const py of [process.env.PYTHON, venv, 'python3'].filter((x): x is string => !!x)) {
    const r = spawnSync(py, ['-c', 'import transformers, gguf, tokenizers'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status === 0) return py;
  }
  return null;
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

function main(): void {
  const { values } = parseArgs({ options: { model: { type: 'string', default: 'smollm2-135m' } } });
  const path = modelPath(values.model as string);
  const load0 = loadavg()[0] as number;

  const read = best(3, () => readGguf(path));
  const build = best(3, () => BpeTokenizer.fromGguf(read.value));
  const tok = build.value;
  console.log(
    `${path}: vocabulary ${tok.vocabSize}; readGguf ${read.cpuMs.toFixed(0)} ms CPU (${read.wallMs.toFixed(0)} wall), ` +
      `tokenizer ${build.cpuMs.toFixed(0)} ms CPU (${build.wallMs.toFixed(0)} wall)`,
  );

  const docs = readZipDocuments(defaultPythonCorpus(), (name) => name.endsWith('.py'))
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .filter((_, i) => i % 4 === 0)
    .map((d) => new TextDecoder().decode(d.bytes));
  // The prompt: the start of the longest document, cut to about PROMPT_TOKENS tokens.
  const longest = docs.reduce((a, b) => (b.length > a.length ? b : a));
  const prompt = tok.decode(tok.encode(longest.slice(0, PROMPT_TOKENS * 8)).slice(0, PROMPT_TOKENS));
  const encode = best(10, () => tok.encode(prompt));
  const ids = encode.value;
  const decode = best(10, () => tok.decode(ids));
  const stream = best(10, () => {
    const d = tok.streamDecoder();
    let s = '';
    for (const id of ids) s += d.push(id);
    return s + d.flush();
  });
  if (decode.value !== prompt || stream.value !== prompt)
    throw new Error('decoding the prompt did not give it back');
  console.log(
    `prompt of ${ids.length} tokens: encode ${encode.cpuMs.toFixed(1)} ms CPU (${encode.wallMs.toFixed(1)} wall), ` +
      `decode ${decode.cpuMs.toFixed(2)} ms, stream decode ${stream.cpuMs.toFixed(2)} ms`,
  );

  const corpus = best(1, () => docs.map((d) => tok.encode(d)));
  const corpusTokens = corpus.value.reduce((n, x) => n + x.length, 0);
  const tokensPerS = corpusTokens / (corpus.cpuMs / 1000);
  console.log(
    `corpus: ${docs.length} documents, ${corpusTokens} tokens in ${(corpus.cpuMs / 1000).toFixed(1)} s CPU ` +
      `(${(corpus.wallMs / 1000).toFixed(1)} wall): ${tokensPerS.toFixed(0)} tokens/s`,
  );

  let python: Record<string, number> | null = null;
  const py = referencePython();
  if (!py)
    console.log('Python reference skipped: no python with transformers, gguf and tokenizers (set PYTHON)');
  else {
    const dir = mkdtempSync(join(tmpdir(), 'azr-bench-tokenizer-'));
    try {
      const texts = join(dir, 'texts.json');
      writeFileSync(texts, JSON.stringify([prompt, ...docs]));
      const r = spawnSync(
        py,
        [join(here, '..', '..', 'python', 'tokenizer_fixture.py'), '--gguf', path, '--encode', texts],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 30,
          timeout: 900_000,
          env: { ...process.env, RAYON_NUM_THREADS: '1' },
        },
      );
      if (r.status !== 0)
        throw new Error(`the Python reference failed: ${r.stderr.trim().split('\n').pop()}`);
      const ref = JSON.parse(r.stdout) as { ids: number[][]; firstMs: number; allSeconds: number };
      const same = (a: readonly number[], b: readonly number[]) =>
        a.length === b.length && a.every((x, i) => x === b[i]);
      const agreeing = docs.filter((_, i) =>
        same(corpus.value[i] as number[], ref.ids[i + 1] as number[]),
      ).length;
      if (!same(ids, ref.ids[0] as number[])) console.log('the prompt is encoded differently by Python');
      python = {
        promptEncodeMs: round(ref.firstMs, 2),
        corpusTokensPerS: Math.round(corpusTokens / ref.allSeconds),
        corpusDocumentsAgreeing: agreeing,
      };
      console.log(
        `Python tokenizers: prompt ${ref.firstMs.toFixed(2)} ms, corpus ${python.corpusTokensPerS} tokens/s; ` +
          `${agreeing} of ${docs.length} documents encoded the same`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `load average ${load0.toFixed(1)} at the start, ${(loadavg()[0] as number).toFixed(1)} at the end`,
  );
  console.log(
    JSON.stringify({
      model: values.model,
      vocabSize: tok.vocabSize,
      readGgufMs: round(read.cpuMs, 0),
      buildMs: round(build.cpuMs, 0),
      promptTokens: ids.length,
      encodeMs: round(encode.cpuMs, 2),
      decodeMs: round(decode.cpuMs, 2),
      streamDecodeMs: round(stream.cpuMs, 2),
      corpusDocuments: docs.length,
      corpusTokens,
      corpusTokensPerS: Math.round(tokensPerS),
      python,
      loadAverage: [round(load0), round(loadavg()[0] as number)],
    }),
  );
}

main();
