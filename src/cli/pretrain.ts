// `azr pretrain`: next-token training of the built-in model on a corpus of source files (no tasks, no
// answers), into a checkpoint directory that azr eval, azr serve and the built-in policy load. The loop
// itself is src/model/pretrain.ts; this file reads the flags and the corpus, drops every document that
// contains a held-out program, and shows progress (a bar on a terminal, plain lines otherwise).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODEL_PRESETS, type ModelPreset } from '../model/config.js';
import type {
  CorpusSpec,
  PretrainCorpus,
  PretrainOptions,
  PretrainSettings,
  StepRecord,
} from '../model/pretrain.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const pretrainUsage = `usage: azr pretrain [options]
       azr pretrain --resume DIR [--steps N] [--minutes N] [--threads N]

Next-token training of the built-in model on source files (plain cross-entropy, no tasks). Writes
DIR/model.safetensors (weights, AdamW moments, data order), which azr eval and azr serve load.

  --corpus PATH       a folder of .py / .js / .ts files (read recursively) or a .zip of them
                      (default: the Python standard library shipped in the Pyodide package)
  --model NAME        tiny | small | medium | large (default small)
  --context N         window length in tokens (default 512, the self-play context)
  --batch N           windows per optimizer step (default 8)
  --steps N           stop at step N (default without --minutes: one pass over the training text)
  --minutes N         stop after N minutes
  --lr X              peak learning rate (default 0.001); warmup, then cosine decay to a tenth
                      when the step count is known, else constant
  --warmup N          warmup steps (default 100)
  --weight-decay X    AdamW decoupled weight decay (default 0.1)
  --seed N            seed of weights and data order (default 1)
  --out DIR           output directory (default runs/pretrain-<time>)
  --resume DIR        continue a killed or finished run exactly where its checkpoint left it
  --val-fraction X    share of documents held out for validation, by a hash of the path (default 0.05)
  --val-tokens N      positions scored per validation (default 65536)
  --eval-every N      validate every N steps (default 200; also at the start and the end)
  --save-every N      checkpoint every N steps (default 50; also at the end and on Ctrl-C)
  --log-every N       when stdout is not a terminal, one line every N steps (default 10)
  --threads N         ONNX Runtime threads (default 2)
`;

/** The held-out tasks ship with the package, next to dist/. */
const HELDOUT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'eval', 'heldout.jsonl');

/** Every program text of the held-out tasks: no pretraining document may contain one. */
export function heldoutPrograms(file = HELDOUT): string[] {
  const out = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { program?: unknown };
    if (typeof r.program === 'string') out.add(r.program);
  }
  return [...out];
}

export interface LoadedCorpus extends PretrainCorpus {
  description: string;
  /** Documents dropped because they contain a held-out program. */
  excluded: string[];
}

/** Read, filter, split and tokenise the corpus a spec names. */
export async function loadPretrainCorpus(
  spec: CorpusSpec,
  exclude = heldoutPrograms(),
): Promise<LoadedCorpus> {
  const { defaultPythonCorpus, excludeDocumentsContaining, readCorpus, splitCorpus, tokenStream } =
    await import('../model/corpus.js');
  const source = spec.source ?? defaultPythonCorpus();
  const all = readCorpus(source, spec.extensions);
  const { kept, excluded } = excludeDocumentsContaining(all, exclude);
  const { train, validation } = splitCorpus(kept, spec.validationFraction);
  if (validation.length === 0) throw new Error(`${source}: no document left for validation`);
  const size = (ds: typeof train) => {
    const n = ds.reduce((a, d) => a + d.bytes.length, 0);
    return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
  };
  const name = spec.source ?? 'the Python standard library of the Pyodide package';
  return {
    train: tokenStream(train),
    validation: tokenStream(validation),
    trainDocuments: train.length,
    validationDocuments: validation.length,
    excluded: excluded.map((d) => d.path),
    description:
      `${name}: ${train.length} training documents (${size(train)}), ` +
      `${validation.length} validation (${size(validation)})` +
      (excluded.length > 0 ? `; ${excluded.length} left out for containing a held-out program` : ''),
  };
}

/** A new run's settings as the flags give them: the model by preset, the step budget maybe "one epoch". */
export type FreshSettings = Omit<PretrainSettings, 'model' | 'steps' | 'schedule'> & {
  preset: ModelPreset;
  context: number;
  /** 'epoch': one pass over the training text (resolved once the corpus is read). */
  steps: number | null | 'epoch';
};

export interface PretrainInvocation {
  dir: string;
  threads: number;
  logEvery: number;
  start: { fresh: FreshSettings } | { resume: true; steps?: number; minutes?: number };
}

const PRESETS = Object.keys(MODEL_PRESETS) as ModelPreset[];

/** Turn argv into settings; throws UsageError with a reason. */
export function parsePretrainArgs(argv: string[], now = new Date()): PretrainInvocation {
  const { values } = parseFlags(argv, {
    corpus: { type: 'string' },
    model: { type: 'string' },
    context: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    minutes: { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    'weight-decay': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'string' },
    'val-fraction': { type: 'string' },
    'val-tokens': { type: 'string' },
    'eval-every': { type: 'string' },
    'save-every': { type: 'string' },
    'log-every': { type: 'string' },
    threads: { type: 'string' },
  });
  const threads = intFlag(values, 'threads', 1, 64) ?? 2;
  const logEvery = intFlag(values, 'log-every', 1) ?? 10;
  const steps = intFlag(values, 'steps', 1);
  const minutes = numberFlag(values, 'minutes');
  const resume = stringFlag(values, 'resume');
  if (resume !== undefined) {
    const allowed = new Set(['resume', 'steps', 'minutes', 'threads', 'log-every']);
    for (const [k, v] of Object.entries(values))
      if (v !== undefined && !allowed.has(k))
        throw new UsageError(
          `--${k} cannot be combined with --resume (a resumed run keeps its own settings)`,
        );
    const start: PretrainInvocation['start'] = { resume: true };
    if (steps !== undefined) start.steps = steps;
    if (minutes !== undefined) start.minutes = minutes;
    return { dir: resume, threads, logEvery, start };
  }
  const model = stringFlag(values, 'model') ?? 'small';
  if (!(PRESETS as string[]).includes(model))
    throw new UsageError(`--model takes one of ${PRESETS.join(', ')}, got '${model}'`);
  const context = intFlag(values, 'context', 8, 4096) ?? 512;
  const lr = numberFlag(values, 'lr') ?? 1e-3;
  const warmup = intFlag(values, 'warmup', 0) ?? 100;
  const wdRaw = stringFlag(values, 'weight-decay');
  const weightDecay = wdRaw === undefined ? 0.1 : Number(wdRaw);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0 && weightDecay < 1))
    throw new UsageError(`--weight-decay takes a number in [0, 1), got '${wdRaw}'`);
  const vfRaw = stringFlag(values, 'val-fraction');
  const validationFraction = vfRaw === undefined ? 0.05 : Number(vfRaw);
  if (!(validationFraction > 0 && validationFraction < 1))
    throw new UsageError(`--val-fraction takes a number in (0, 1), got '${vfRaw}'`);
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const fresh: FreshSettings = {
    preset: model as ModelPreset,
    context,
    batch: intFlag(values, 'batch', 1, 1024) ?? 8,
    seed: intFlag(values, 'seed', 0, 2 ** 31 - 1) ?? 1,
    optimizer: { learningRate: lr, warmupSteps: warmup, weightDecay, gradClip: 1, beta1: 0.9, beta2: 0.95 },
    steps: steps ?? (minutes === undefined ? 'epoch' : null),
    minutes: minutes ?? null,
    valTokens: intFlag(values, 'val-tokens', 1) ?? 65536,
    evalEvery: intFlag(values, 'eval-every', 1) ?? 200,
    saveEvery: intFlag(values, 'save-every', 1) ?? 50,
    corpus: {
      source: stringFlag(values, 'corpus') ?? null,
      extensions: ['.py', '.js', '.ts'],
      validationFraction,
    },
  };
  return {
    dir: stringFlag(values, 'out') ?? join('runs', `pretrain-${stamp}`),
    threads,
    logEvery,
    start: { fresh },
  };
}

/** Seconds as m:ss, or h:mm:ss from an hour on. */
function clock(totalS: number): string {
  const s = Math.max(0, Math.round(totalS));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function rate(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

/** Progress: a redrawn bar with ETA and tokens/s on a terminal, else one plain line every `every` steps. */
class Progress {
  private line = false;
  /** This session's first step: the ETA uses the pace since then (graph building and the start excluded). */
  private first: StepRecord | undefined;
  constructor(
    private readonly tty: boolean,
    private readonly every: number,
    private readonly steps: number | null,
    private readonly minutes: number | null,
  ) {}

  private write(text: string): void {
    process.stdout.write(text);
  }

  /** A full line of its own (the bar is redrawn after it). */
  say(text: string): void {
    if (this.line) this.write('\r\x1b[K');
    this.line = false;
    this.write(`${text}\n`);
  }

  step(r: StepRecord): void {
    this.first ??= r;
    const perStep =
      r.step > this.first.step ? (r.timeS - this.first.timeS) / (r.step - this.first.step) : undefined;
    const etas: number[] = [];
    if (this.steps !== null && perStep !== undefined) etas.push((this.steps - r.step) * perStep);
    if (this.minutes !== null) etas.push(this.minutes * 60 - r.timeS);
    const eta = etas.length > 0 ? Math.max(0, Math.min(...etas)) : undefined;
    const tps = r.tokensPerS ?? 0;
    const frac =
      this.steps !== null ? r.step / this.steps : this.minutes !== null ? r.timeS / (this.minutes * 60) : 0;
    const of = this.steps !== null ? `/${this.steps}` : '';
    const text =
      `step ${r.step}${of} | loss ${r.loss.toFixed(3)} (${r.bpb.toFixed(2)} bpb) | lr ${r.lr.toExponential(1)}` +
      ` | ${rate(tps)} tok/s | ${clock(r.timeS)}${eta !== undefined ? ` | ETA ${clock(eta)}` : ''}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.max(0, Math.min(width, Math.round(Math.min(1, frac) * width)));
      this.write(
        `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(100 * Math.min(1, frac)).toFixed(0).padStart(3)}% ${text}`,
      );
      this.line = true;
    } else if (r.step % this.every === 0) this.say(text);
  }

  end(): void {
    if (this.line) this.write('\n');
    this.line = false;
  }
}

/** `azr pretrain`: returns the exit code. */
export async function pretrainCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(pretrainUsage);
    return 0;
  }
  let inv: PretrainInvocation;
  try {
    inv = parsePretrainArgs(argv);
  } catch (e) {
    process.stderr.write(
      `azr pretrain: ${(e as Error).message}\n${e instanceof UsageError ? pretrainUsage : ''}`,
    );
    return 2;
  }
  const [
    { readPretrainState, runPretraining },
    { modelConfigFor, TOKENIZER_DESCRIPTION },
    { parameterCount },
  ] = await Promise.all([
    import('../model/pretrain.js'),
    import('../policy/builtin.js'),
    import('../model/config.js'),
  ]);
  let spec: CorpusSpec;
  let resumed: ReturnType<typeof readPretrainState>;
  if ('fresh' in inv.start) spec = inv.start.fresh.corpus;
  else {
    try {
      resumed = readPretrainState(inv.dir);
    } catch (e) {
      process.stderr.write(`azr pretrain: ${(e as Error).message}\n`);
      return 2;
    }
    if (!resumed) {
      process.stderr.write(`azr pretrain: --resume ${inv.dir}: no pretraining checkpoint there\n`);
      return 2;
    }
    spec = resumed.settings.corpus;
  }
  let corpus: LoadedCorpus;
  try {
    corpus = await loadPretrainCorpus(spec);
  } catch (e) {
    process.stderr.write(`azr pretrain: ${(e as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`corpus: ${corpus.description}\n`);
  let start: PretrainOptions['start'];
  let budget: { steps: number | null; minutes: number | null };
  if ('fresh' in inv.start) {
    const { preset, context, ...f } = inv.start.fresh;
    const model = modelConfigFor(preset, context);
    const steps =
      f.steps === 'epoch' ? Math.max(1, Math.ceil(corpus.train.length / (f.batch * context))) : f.steps;
    const settings: PretrainSettings = {
      ...f,
      model,
      steps,
      schedule: steps !== null ? { kind: 'cosine', totalSteps: steps, minRatio: 0.1 } : { kind: 'constant' },
    };
    start = { settings };
    budget = settings;
    const limits = [steps !== null ? `${steps} steps` : '', f.minutes !== null ? `${f.minutes} minutes` : ''];
    process.stdout.write(
      `model: ${preset} (${(parameterCount(model) / 1e6).toFixed(2)}M parameters), context ${context}, ` +
        `batch ${f.batch} (${f.batch * context} tokens per step), ${limits.filter(Boolean).join(' or ')}; ` +
        `writing ${inv.dir}\n`,
    );
  } else {
    const r = inv.start;
    start = r;
    const stored = (resumed as NonNullable<typeof resumed>).settings;
    budget = { steps: r.steps ?? stored.steps, minutes: r.minutes ?? stored.minutes };
  }
  let stopRequested = false;
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    progress?.say('stopping after this step (Ctrl-C again to quit at once; the last checkpoint holds)');
  };
  let progress: Progress | undefined;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    progress = new Progress(process.stdout.isTTY === true, inv.logEvery, budget.steps, budget.minutes);
    const p = progress;
    const result = await runPretraining({
      dir: inv.dir,
      corpus,
      threads: inv.threads,
      start,
      events: {
        onStep: (r) => p.step(r),
        onEval: (r) =>
          p.say(
            `validation at step ${r.step}: ${r.bpb.toFixed(3)} bits per byte (loss ${r.loss.toFixed(4)} nats, ${r.tokens} tokens)`,
          ),
        shouldStop: () => stopRequested,
        afterSave: (engine, dir) => {
          const json = join(dir, 'config.json');
          writeFileSync(
            `${json}.tmp`,
            `${JSON.stringify({ model: engine.config, step: engine.step, tokenizer: TOKENIZER_DESCRIPTION }, null, 2)}\n`,
          );
          renameSync(`${json}.tmp`, json);
        },
      },
    });
    p.end();
    const first_ = result.firstEval;
    const last = result.lastEval;
    process.stdout.write(
      `${result.interrupted ? 'stopped' : 'done'} at step ${result.step} (${(result.trainingTokens / 1e6).toFixed(2)}M training tokens, ${clock(result.elapsedS)})` +
        (first_ && last
          ? `; validation ${first_.bpb.toFixed(3)} -> ${last.bpb.toFixed(3)} bits per byte`
          : '') +
        `\ncheckpoint: ${join(inv.dir, 'model.safetensors')} (azr eval ${inv.dir}, azr serve ${inv.dir}; continue with azr pretrain --resume ${inv.dir})\n`,
    );
    return result.interrupted ? 130 : 0;
  } catch (e) {
    progress?.end();
    process.stderr.write(`azr pretrain: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
