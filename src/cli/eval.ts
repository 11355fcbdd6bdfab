// `azr eval`: held-out accuracy of a checkpoint (or of a run's latest checkpoint), per task type and
// difficulty. The last line is one JSON object with deduction, abduction, induction and mean.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { resolveCheckpoint } from './checkpoint-arg.js';

export const evalUsage = `usage: azr eval CHECKPOINT [--data FILE] [--lang python|javascript|all] [--max-tokens N] [--threads N]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint)
  --data FILE  tasks in the eval/README.md format (default: the shipped held-out set)
  --lang       languages to evaluate (default: all in the file)

  azr eval --bench cruxeval --help   CRUXEval-O/-I with the built-in model, a server or the oracle
`;

export async function evalCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(evalUsage);
    return 0;
  }
  let target: string;
  let values: Record<string, unknown>;
  let maxTokens: number;
  let threads: number;
  try {
    const parsed = parseFlags(
      argv,
      {
        data: { type: 'string' },
        lang: { type: 'string' },
        'max-tokens': { type: 'string' },
        threads: { type: 'string' },
      },
      true,
    );
    values = parsed.values;
    if (parsed.positionals.length !== 1) throw new UsageError('give one CHECKPOINT');
    target = parsed.positionals[0] as string;
    if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
    const lang = stringFlag(values, 'lang');
    if (lang !== undefined && !['python', 'javascript', 'all'].includes(lang))
      throw new UsageError('--lang takes python, javascript or all');
    maxTokens = intFlag(values, 'max-tokens', 1, 4096) ?? 96;
    threads = intFlag(values, 'threads', 1, 64) ?? 2;
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n${evalUsage}`);
    return 2;
  }
  try {
    target = await resolveCheckpoint(target);
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n`);
    return 2;
  }
  const [
    { readTaskFile },
    { createExecutor },
    { loadBuiltinPolicy },
    { constraintByName },
    { evaluateTasks },
    { HELDOUT_FILE },
  ] = await Promise.all([
    import('../tasks/index.js'),
    import('../executor/index.js'),
    import('../policy/builtin.js'),
    import('../grammar/index.js'),
    import('../eval/heldout.js'),
    import('../selfplay/train.js'),
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
  // Inference only: no update will need the sampling masks, so none are recorded.
  const policy = await loadBuiltinPolicy(target, {
    threads,
    constraints: constraintByName,
    trainUnderMask: false,
  });
  const executor = await createExecutor({ workers: 2 });
  try {
    const run = await runGrammar(target);
    if (run) process.stdout.write(`answer grammar as trained: ${run.source}\n`);
    const opts = {
      style: 'compact' as const,
      constrained: true,
      inductionInputs: 10,
      maxTokens,
      ...(run ? { grammar: run.grammar } : {}),
      ...(langs ? { langs } : {}),
    };
    const r = await evaluateTasks(policy, executor, records, opts);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
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
    process.stdout.write(
      `${JSON.stringify({ deduction: r.deduction, abduction: r.abduction, induction: r.induction, mean: r.mean })}\n`,
    );
    return 0;
  } finally {
    await executor.close();
    await policy.close();
  }
}

/**
 * A checkpoint inside a run directory is evaluated under the answer grammar it was trained with (its
 * run's config.json): a model trained on one-line programs has never been scored on the other forms.
 */
async function runGrammar(
  checkpoint: string,
): Promise<
  { source: string; grammar: { matchArity: boolean; returnOnly: boolean; exprDepth: number } } | undefined
> {
  let dir = statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    const file = join(dir, 'config.json');
    if (!existsSync(join(dir, 'state.json')) || !existsSync(file)) continue;
    const { SelfPlayConfigSchema } = await import('../selfplay/config.js');
    const r = SelfPlayConfigSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!r.success) return undefined;
    const { matchArity, returnOnly, exprDepth } = r.data.selfplay;
    return { source: file, grammar: { matchArity, returnOnly, exprDepth } };
  }
  return undefined;
}
