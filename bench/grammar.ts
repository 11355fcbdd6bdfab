// The answer grammar's cost per sampled token over a real model's BPE vocabulary, against XGrammar (the
// engine vLLM and SGLang use, built to WebAssembly as npm's @mlc-ai/web-xgrammar) on the same tokens:
//
//   npm run bench:grammar -- --model FILE.gguf [--model FILE.gguf ...] [--xgrammar DIR]
//     [--sequences 6] [--budget 256] [--seed 1]
//
// For each model and each of the six (task type, role) answer shapes, `sequences` answers are sampled
// from a random model (fresh uniform logits every step) under the token matcher (token-constraint.ts),
// in two passes: cold (a state's mask is computed the first time it is reached) and warm (new sequences,
// masks cached). Only the matcher's calls are timed (allowedTokens with the budget, then accept), not
// the sampling. Every sample is parsed: the matcher promises no format errors. With --xgrammar DIR (a
// folder whose node_modules holds @mlc-ai/web-xgrammar; it is not a dependency of this project) the
// warm pass's sequences are replayed through XGrammar on the same grammar text: per token its bitmask,
// expanded to the 0/1 mask the sampler takes, then acceptToken; and its allowed sets are compared with
// the matcher's (without the budget, which XGrammar does not know).
//
// A mask is made per row per token, one row after another, so at batch B a decode step of S ms spends
// B x (ms per token) on masks: the share printed is that over S at B = 32, with S = 50 ms for a vocabulary
// up to 50,000 tokens and 150 ms above (batch-32 steps of SmolLM2-135M and Qwen2.5-Coder-0.5B), or
// --step-ms.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import vm from 'node:vm';
import { answerGrammar, answerTokenGrammar } from '../src/grammar/answer-structure.js';
import { BpeTokenizer } from '../src/model/bpe-tokenizer.js';
import { metaStrings, readGguf } from '../src/model/gguf.js';
import { sampleToken } from '../src/model/sampler.js';
import { GROUPS, parseProposal, parseSolution, type Role, type TaskType } from '../src/tasks/index.js';
import { Rng } from '../src/util/rng.js';

const INDUCTION_INPUTS = 4;
const BATCH = 32;

interface Options {
  models: string[];
  xgrammar?: string;
  sequences: number;
  budget: number;
  seed: number;
  stepMs?: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { models: [], sequences: 6, budget: 256, seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    if (argv[i] === '--model') o.models.push(v);
    else if (argv[i] === '--xgrammar') o.xgrammar = v;
    else if (argv[i] === '--sequences') o.sequences = Number(v);
    else if (argv[i] === '--budget') o.budget = Number(v);
    else if (argv[i] === '--seed') o.seed = Number(v);
    else if (argv[i] === '--step-ms') o.stepMs = Number(v);
    else throw new Error(`unknown flag ${argv[i]}`);
  }
  if (o.models.length === 0) throw new Error('give --model FILE.gguf');
  return o;
}

// XGrammar's npm build is a UMD bundle inside a "type": "module" package, so Node loads its file as an
// ES module, where the bundle's CommonJS branch (require, __filename) finds nothing. Compiled as a
// function with those parameters it runs; its one dynamic import('module') needs the main context's
// loader (an experimental flag of Node 20's vm, which prints a warning).
// biome-ignore lint/suspicious/noExplicitAny: XGrammar's API, untyped here
type XGrammar = any;
function loadXGrammar(dir: string): XGrammar {
  const require = createRequire(join(resolve(dir), 'index.js'));
  const file = require.resolve('@mlc-ai/web-xgrammar');
  const fn = vm.compileFunction(readFileSync(file, 'utf8'), ['exports', 'require', 'module', '__filename'], {
    filename: file,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  fn(module.exports, require, module, file);
  return module.exports;
}

/** CPU time of this process in ms (user + system): on a shared machine, time other processes take is not counted. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU and wall ms of one run of `work`: the best of 3 rounds, each repeating `work` until it has taken
 * 300 ms of CPU (the kernel counts CPU time in coarse ticks, so short spans read as 0 or a whole tick).
 */
async function best(work: () => Promise<void> | void): Promise<{ cpu: number; wall: number }> {
  let cpu = Number.POSITIVE_INFINITY;
  let wall = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    const c = cpuMs();
    const w = performance.now();
    let runs = 0;
    do {
      await work();
      runs++;
    } while (cpuMs() - c < 300);
    cpu = Math.min(cpu, (cpuMs() - c) / runs);
    wall = Math.min(wall, (performance.now() - w) / runs);
  }
  return { cpu, wall };
}

interface Sample {
  type: TaskType;
  role: Role;
  tokens: number[];
}

const shapeOf = (type: TaskType, role: Role) => ({
  type,
  role,
  lang: 'python' as const,
  inductionInputs: INDUCTION_INPUTS,
  startsAt: 'think-text' as const,
});

async function benchModel(
  path: string,
  o: Options,
  xg: XGrammar | undefined,
): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const file = readGguf(path);
  const vocab = BpeTokenizer.fromGguf(file);
  // XGrammar's tokenizer info takes the vocabulary as the GGUF spells it (byte-level strings).
  const tokenStrings = metaStrings(file, 'tokenizer.ggml.tokens');
  const loadMs = performance.now() - t0;
  const V = vocab.vocabSize;
  const stepMs = o.stepMs ?? (V <= 50_000 ? 50 : 150);
  const rng = new Rng(o.seed);
  const logits = new Float32Array(V);
  const mask = new Uint8Array(V);
  const decoder = new TextDecoder();
  let formatErrors = 0;
  const samples: Sample[] = [];
  // Cold: sample, computing each state's mask the first time it is reached (CPU time of the matcher's calls).
  let coldCpu = 0;
  let buildCpu = 0;
  for (const [type, role] of GROUPS) {
    let c = cpuMs();
    const g = answerTokenGrammar(vocab, shapeOf(type, role));
    buildCpu += cpuMs() - c;
    for (let k = 0; k < o.sequences; k++) {
      const m = g.constraint(`${type}/${role}`).start();
      const tokens: number[] = [];
      for (let i = 0; i < o.budget; i++) {
        for (let j = 0; j < V; j++) logits[j] = rng.next() * 8;
        c = cpuMs();
        m.allowedTokens(mask, o.budget - i);
        coldCpu += cpuMs() - c;
        const id = sampleToken(logits, 1, 1, rng, mask).id;
        if (id < 0 || vocab.stopIds.includes(id)) break;
        c = cpuMs();
        const ok = m.accept(id);
        coldCpu += cpuMs() - c;
        if (!ok) throw new Error(`the matcher refused token ${id}, which its own mask allowed`);
        tokens.push(id);
      }
      const text = decoder.decode(Buffer.concat(tokens.map((id) => vocab.tokenBytes(id))));
      const parsed =
        role === 'proposer'
          ? parseProposal(type, 'python', text, 'reference', INDUCTION_INPUTS)
          : parseSolution(type, 'python', text, 'reference');
      if (!parsed.ok) formatErrors++;
      samples.push({ type, role, tokens });
    }
  }
  const tokens = samples.reduce((a, s) => a + s.tokens.length, 0);
  const states = Object.fromEntries(
    GROUPS.map(([t, r]) => [`${t}/${r}`, answerTokenGrammar(vocab, shapeOf(t, r)).cachedStates]),
  );
  // Deduction and abduction proposers share one grammar (and its masks): count each grammar once.
  const grammars = new Set(GROUPS.map(([t, r]) => answerTokenGrammar(vocab, shapeOf(t, r))));
  const maskMb = [...grammars].reduce((a, g) => a + g.cachedBytes, 0) / 1e6;
  // Warm: the same sequences replayed through fresh matchers (masks cached), budget as when sampled.
  const warm = await best(() => {
    for (const s of samples) {
      const m = answerTokenGrammar(vocab, shapeOf(s.type, s.role)).constraint('replay').start();
      s.tokens.forEach((id, i) => {
        m.allowedTokens(mask, o.budget - i);
        m.accept(id);
      });
    }
  });
  const out: Record<string, unknown> = {
    model: path,
    vocabSize: V,
    vocabLoadMs: Math.round(loadMs),
    trieAndGrammarsCpuMs: Math.round(buildCpu),
    samples: samples.length,
    tokens,
    formatErrors,
    statesWithMasks: states,
    maskCacheMb: Math.round(maskMb),
    coldCpuMsPerToken: coldCpu / tokens,
    warmCpuMsPerToken: warm.cpu / tokens,
    warmWallMsPerToken: warm.wall / tokens,
    warmShareOfStep: (BATCH * warm.cpu) / tokens / stepMs,
    stepMs,
  };
  if (xg) {
    let c = cpuMs();
    const info = await xg.TokenizerInfo.createTokenizerInfo(tokenStrings, 'byte_level', false, V, [
      ...vocab.stopIds,
    ]);
    out.xgrammarTokenizerInfoCpuMs = Math.round(cpuMs() - c);
    const compiler = await xg.GrammarCompiler.createGrammarCompiler(info);
    const compileCpuMs: Record<string, number> = {};
    // biome-ignore lint/suspicious/noExplicitAny: XGrammar's compiled grammar
    const compiled = new Map<string, any>();
    for (const [type, role] of GROUPS) {
      c = cpuMs();
      compiled.set(`${type}/${role}`, await compiler.compileGrammar(answerGrammar(shapeOf(type, role))));
      compileCpuMs[`${type}/${role}`] = Math.round(cpuMs() - c);
    }
    const expand = (bits: Int32Array) => {
      for (let w = 0; w < bits.length; w++) {
        const word = bits[w] as number;
        const base = w * 32;
        for (let b = 0; b < 32 && base + b < V; b++) mask[base + b] = (word >>> b) & 1;
      }
    };
    const xwarm = await best(async () => {
      for (const s of samples) {
        const matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled.get(`${s.type}/${s.role}`));
        for (const id of s.tokens) {
          expand(await matcher.getNextTokenBitmask());
          matcher.acceptToken(id);
        }
        matcher.dispose();
      }
    });
    // The two matchers' allowed sets, token by token (ours without the budget, which XGrammar lacks).
    // Special tokens are never text to ours; XGrammar, told only the stop ids, reads the others
    // (<|im_start|>, <filename>, ...) as their text, so they are left out.
    let differ = 0;
    const ours = new Uint8Array(V);
    for (const s of samples) {
      const matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled.get(`${s.type}/${s.role}`));
      const m = answerTokenGrammar(vocab, shapeOf(s.type, s.role)).constraint('check').start();
      for (const id of s.tokens) {
        expand(await matcher.getNextTokenBitmask());
        m.allowedTokens(ours);
        for (let j = 0; j < V; j++)
          if (ours[j] !== mask[j] && (vocab.stopIds.includes(j) || !vocab.specialTokens.has(j))) differ++;
        if (!matcher.acceptToken(id)) throw new Error(`XGrammar refused token ${id}, which ours allowed`);
        m.accept(id);
      }
      matcher.dispose();
    }
    for (const g of compiled.values()) g.dispose();
    compiler.dispose();
    info.dispose();
    out.xgrammarCompileCpuMs = compileCpuMs;
    out.xgrammarCpuMsPerToken = xwarm.cpu / tokens;
    out.xgrammarWallMsPerToken = xwarm.wall / tokens;
    out.xgrammarShareOfStep = (BATCH * xwarm.cpu) / tokens / stepMs;
    out.maskDifferencesPerToken = differ / tokens;
  }
  return out;
}

const o = parseArgs(process.argv.slice(2));
const xg = o.xgrammar ? loadXGrammar(o.xgrammar) : undefined;
for (const path of o.models) {
  const r = await benchModel(path, o, xg);
  const f = (x: unknown) => (x as number).toFixed(3);
  const pct = (x: unknown) => `${(100 * (x as number)).toFixed(1)}%`;
  process.stdout.write(
    `${path}: ${r.vocabSize} tokens | trie + 6 grammars ${r.trieAndGrammarsCpuMs} ms CPU | ${r.samples} samples, ${r.tokens} tokens, ${r.formatErrors} format errors | masks cached ${r.maskCacheMb} MB\n` +
      `  ours: ${f(r.coldCpuMsPerToken)} ms CPU/token cold, ${f(r.warmCpuMsPerToken)} warm (${f(r.warmWallMsPerToken)} wall) = ${pct(r.warmShareOfStep)} of a ${r.stepMs} ms batch-${BATCH} step\n` +
      (xg
        ? `  XGrammar: ${f(r.xgrammarCpuMsPerToken)} ms CPU/token (${f(r.xgrammarWallMsPerToken)} wall) = ${pct(r.xgrammarShareOfStep)}; compile ${JSON.stringify(r.xgrammarCompileCpuMs)} ms CPU; tokenizer info ${r.xgrammarTokenizerInfoCpuMs} ms CPU; allowed sets differ on ${f(r.maskDifferencesPerToken)} non-special tokens per step\n`
        : ''),
  );
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
