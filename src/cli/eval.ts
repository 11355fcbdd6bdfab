// `azr eval`: held-out accuracy of a checkpoint (or of a run's latest checkpoint), per task type and
// difficulty. The last line is one JSON object with deduction, abduction, induction and mean.
import type { EvalOptions } from '../eval/heldout.js';
import { formatClock } from '../selfplay/progress.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import {
  type CheckpointTarget,
  checkpointFormat,
  describeCheckpoint,
  describeFormat,
  openCheckpoint,
  resolveCheckpoint,
  TINKER_URL_FLAG,
  tinkerUrlUsage,
} from './checkpoint-arg.js';

/** Answer budget by default: the built-in model's answers are short; a real model reasons first. */
const MAX_TOKENS = { builtin: 96, pretrained: 512 } as const;

export const evalUsage = `usage: azr eval CHECKPOINT [--data FILE] [--lang python|javascript|all] [--max-tokens N] [--threads N] [--show]
                [--temperature T --samples N [--pass-at K[,K...]]] [--chat] [--free] [--tinker-url URL]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint);
               or a pretrained model: a GGUF file, a Hugging Face folder, or a name \`azr pull\` fetched;
               a run on the tinker backend is scored on its saved weights, through the Tinker sampling API
  --max-tokens answer budget (default ${MAX_TOKENS.builtin}; ${MAX_TOKENS.pretrained} for pretrained models, which reason first)
  --chat       a pretrained model outside a run reads each prompt as a user turn of its chat template
  --free       decode without the answer grammar the run (or, for a pretrained model, its presets) uses
  --data FILE  tasks in the eval/README.md format (default: the shipped held-out set)
  --lang       languages to evaluate (default: all in the file)
  --show       print each task's answer and verdict before the summary
  --temperature, --samples
               sample N answers per task at temperature T and report the share that pass (pass@1);
               the default is one greedy answer
  --pass-at K,...
               also report the unbiased pass@K per task type for each K (1 <= K <= N), e.g. --pass-at 1,8
${tinkerUrlUsage(15)}

  azr eval --bench cruxeval --help   CRUXEval-O/-I with the built-in model, a server or the oracle
`;

export async function evalCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(evalUsage);
    return 0;
  }
  let target: CheckpointTarget;
  let arg: string;
  let values: Record<string, unknown>;
  let maxTokens: number | undefined;
  let threads: number;
  let samples: number;
  let passAt: number[];
  let temperature: number;
  try {
    const parsed = parseFlags(
      argv,
      {
        data: { type: 'string' },
        lang: { type: 'string' },
        'max-tokens': { type: 'string' },
        threads: { type: 'string' },
        show: { type: 'boolean' },
        temperature: { type: 'string' },
        samples: { type: 'string' },
        'pass-at': { type: 'string' },
        chat: { type: 'boolean' },
        free: { type: 'boolean' },
        ...TINKER_URL_FLAG,
      },
      true,
    );
    values = parsed.values;
    if (parsed.positionals.length !== 1) throw new UsageError('give one CHECKPOINT');
    arg = parsed.positionals[0] as string;
    const lang = stringFlag(values, 'lang');
    if (lang !== undefined && !['python', 'javascript', 'all'].includes(lang))
      throw new UsageError('--lang takes python, javascript or all');
    maxTokens = intFlag(values, 'max-tokens', 1, 4096);
    threads = intFlag(values, 'threads', 1, 64) ?? 2;
    samples = intFlag(values, 'samples', 1, 64) ?? 1;
    const t = stringFlag(values, 'temperature');
    temperature = t === undefined ? 0 : Number(t);
    if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2)
      throw new UsageError(`--temperature takes a number in 0..2, got ${t}`);
    if (samples > 1 && temperature === 0)
      throw new UsageError('--samples above 1 needs --temperature above 0 (greedy answers are all the same)');
    const ks = stringFlag(values, 'pass-at');
    passAt = ks === undefined ? [] : ks.split(',').map((k) => Number(k.trim()));
    const bad = passAt.find((k) => !Number.isInteger(k) || k < 1 || k > samples);
    if (bad !== undefined)
      throw new UsageError(`--pass-at takes whole numbers from 1 to --samples (${samples}), got ${ks}`);
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n${evalUsage}`);
    return 2;
  }
  try {
    const tinkerUrl = stringFlag(values, 'tinker-url');
    target = await resolveCheckpoint(arg, tinkerUrl === undefined ? {} : { tinkerUrl });
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n`);
    return 2;
  }
  const [{ readTaskFile }, { createExecutor }, { evaluateTasks, HELDOUT_FILE }] = await Promise.all([
    import('../tasks/index.js'),
    import('../executor/index.js'),
    import('../eval/heldout.js'),
  ]);
  const dataFile = stringFlag(values, 'data') ?? HELDOUT_FILE;
  let records: ReturnType<typeof readTaskFile>;
  try {
    records = readTaskFile(dataFile);
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n`);
    return 2;
  }
  const lang = stringFlag(values, 'lang');
  const langs = lang === 'python' || lang === 'javascript' ? ([lang] as const) : undefined;
  let policy: Awaited<ReturnType<typeof openCheckpoint>>;
  try {
    policy = await openCheckpoint(target, {
      threads,
      constrained: values.free !== true,
      chat: values.chat === true,
    });
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n`);
    return 2;
  }
  const executor = await createExecutor({ workers: 2 });
  try {
    const scored = await checkpointFormat(target);
    // --free: the same prompts, decoded without the answer grammar.
    const format = values.free === true ? { ...scored.format, grammar: null } : scored.format;
    const source = values.free === true ? `${scored.source}; --free` : scored.source;
    process.stdout.write(`${describeCheckpoint(target)}\n${describeFormat(format, source)}\n`);
    const started = performance.now();
    const opts: EvalOptions = {
      format,
      maxTokens: maxTokens ?? (target.kind === 'builtin' ? MAX_TOKENS.builtin : MAX_TOKENS.pretrained),
      temperature,
      samples,
      passAt,
      ...(langs ? { langs } : {}),
      // One line per chunk on stderr, with the elapsed time (a log file keeps them all).
      onProgress: (done, total) =>
        process.stderr.write(
          `azr eval: ${done}/${total} tasks answered (${formatClock((performance.now() - started) / 1000)})\n`,
        ),
    };
    const r = await evaluateTasks(policy, executor, records, opts);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
    if (values.show === true) {
      for (const a of r.answers) {
        const mark =
          a.passRate > 0
            ? `pass${samples > 1 ? ` ${Math.round(a.passRate * samples)}/${samples}` : ''}`
            : a.parsed
              ? 'fail'
              : 'unparsed';
        process.stdout.write(`${mark.padEnd(8)} ${a.id.padEnd(12)} ${JSON.stringify(a.answer)}\n`);
      }
    }
    process.stdout.write(`${r.tasks} tasks from ${dataFile}\n`);
    process.stdout.write(`difficulty  deduction  abduction  induction\n`);
    for (const [d, row] of Object.entries(r.byDifficulty)) {
      process.stdout.write(
        `${d.padStart(10)}  ${pct(row.deduction)}    ${pct(row.abduction)}    ${pct(row.induction)}\n`,
      );
    }
    process.stdout.write(
      `       all  ${pct(r.deduction)}    ${pct(r.abduction)}    ${pct(r.induction)}   mean ${pct(r.mean)}\n`,
    );
    for (const [k, x] of Object.entries(r.passAt))
      process.stdout.write(
        `${`pass@${k}`.padStart(10)}  ${pct(x.deduction)}    ${pct(x.abduction)}    ${pct(x.induction)}   mean ${pct(x.mean)}\n`,
      );
    process.stdout.write(
      `${JSON.stringify({
        deduction: r.deduction,
        abduction: r.abduction,
        induction: r.induction,
        mean: r.mean,
        ...(passAt.length ? { pass_at: r.passAt } : {}),
      })}\n`,
    );
    return 0;
  } finally {
    await executor.close();
    await policy.close();
  }
}
