// `azr generate`: make a dataset of verified tasks with an OpenAI-compatible server, or with a model in
// this process (a pretrained model, a run, a checkpoint: --checkpoint) (generate mode: the model proposes,
// the executor validates, the same model's solve rate is measured; no training).
// Progress lines, then one JSON object with the counts as the last line.

import { existsSync } from 'node:fs';
import type { Policy } from '../policy/types.js';
import { TASK_TYPES, type TaskType } from '../tasks/types.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { OPENAI_FLAGS, OPENAI_FLAGS_USAGE, openAIOptionsFromFlags, retryLine } from './http-flags.js';

export const generateUsage = `usage: azr generate --base-url URL[,URL] --model NAME --out FILE --tasks N [options]
       azr generate --checkpoint CHECKPOINT --out FILE --tasks N [options]

  --checkpoint C        sample in this process: a pretrained model (a GGUF file, a Hugging Face folder,
                        a name azr pull fetched), a run or a checkpoint of one; --chat wraps prompts in a
                        pretrained model's chat template; --threads N (default 2); answers decode
                        under the answer grammar over the model's own vocabulary unless --grammar none

  --out FILE            the dataset (JSONL, eval/README.md format plus solveRate); appended to, so a
                        stopped run resumes where it was
  --tasks N             tasks the dataset should hold when done (those already in it count)
  --lang L              python or javascript (default python)
  --types T[,T]         deduction, abduction, induction (default all three)
  --rollouts n          solver samples per new task to measure its solve rate (default 8)
  --references K        reference tasks per proposer prompt (default 6)
  --batch B             proposer prompts per task type per round (default 8)
  --max-rounds R        stop after R rounds even if the target is not reached (default 100)
  --temperature T       sampling temperature (default 1)
  --top-p P             nucleus mass (default 1)
  --proposer-max-tokens N, --solver-max-tokens N   completion budgets (default 2048, 1024)
  --learnable-only      write only tasks the model solves sometimes but not always (0 < solve rate < 1)
  --seed-factor S       seeding stage: before round 1 the model proposes until each task type has
                        S x --batch valid, distinct tasks to show as references (kept in FILE.seeds.jsonl
                        beside --out, resumed from it; nothing is solved or written to the dataset);
                        0 skips it (default 4, the paper's)
  --seed-tasks FILE     seed the references with the tasks of a dataset file instead
  --seed S              default 0
  --workers N           executor sandboxes per language (default 2)
${OPENAI_FLAGS_USAGE}`;

export async function generateCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(generateUsage);
    return 0;
  }
  let values: Record<string, unknown>;
  let parsed: {
    out: string;
    tasks: number;
    lang: 'python' | 'javascript';
    types: TaskType[];
    rollouts: number;
    references: number;
    batch: number;
    maxRounds: number;
    temperature: number;
    topP: number;
    proposerMaxTokens: number;
    solverMaxTokens: number;
    seed: number;
    workers: number;
    seedFactor: number;
    seedTasks: string | undefined;
  };
  let policyOpts: ReturnType<typeof openAIOptionsFromFlags> | undefined;
  let local: { checkpoint: string; threads: number; chat: boolean; constrained: boolean } | undefined;
  try {
    ({ values } = parseFlags(argv, {
      out: { type: 'string' },
      tasks: { type: 'string' },
      lang: { type: 'string' },
      types: { type: 'string' },
      rollouts: { type: 'string' },
      references: { type: 'string' },
      batch: { type: 'string' },
      'max-rounds': { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'proposer-max-tokens': { type: 'string' },
      'solver-max-tokens': { type: 'string' },
      'learnable-only': { type: 'boolean' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      'seed-factor': { type: 'string' },
      'seed-tasks': { type: 'string' },
      checkpoint: { type: 'string' },
      threads: { type: 'string' },
      ...OPENAI_FLAGS,
    }));
    const out = stringFlag(values, 'out');
    if (!out) throw new UsageError('give --out FILE');
    const tasks = intFlag(values, 'tasks', 1);
    if (tasks === undefined) throw new UsageError('give --tasks N');
    const lang = stringFlag(values, 'lang') ?? 'python';
    if (lang !== 'python' && lang !== 'javascript') throw new UsageError('--lang takes python or javascript');
    const types = (stringFlag(values, 'types') ?? TASK_TYPES.join(',')).split(',').map((t) => t.trim());
    const bad = types.find((t) => !(TASK_TYPES as readonly string[]).includes(t));
    if (bad !== undefined) throw new UsageError(`--types: unknown task type '${bad}'`);
    const temperature = stringFlag(values, 'temperature');
    const t = temperature === undefined ? 1 : Number(temperature);
    if (temperature !== undefined && (temperature.trim() === '' || !(t >= 0 && t <= 2)))
      throw new UsageError('--temperature takes a number in [0, 2]');
    const topP = numberFlag(values, 'top-p') ?? 1;
    if (topP > 1) throw new UsageError('--top-p takes a number in (0, 1]');
    parsed = {
      out,
      tasks,
      lang,
      types: [...new Set(types)] as TaskType[],
      rollouts: intFlag(values, 'rollouts', 1, 1024) ?? 8,
      references: intFlag(values, 'references', 0, 64) ?? 6,
      batch: intFlag(values, 'batch', 1, 4096) ?? 8,
      maxRounds: intFlag(values, 'max-rounds', 1) ?? 100,
      temperature: t,
      topP,
      proposerMaxTokens: intFlag(values, 'proposer-max-tokens', 1) ?? 2048,
      solverMaxTokens: intFlag(values, 'solver-max-tokens', 1) ?? 1024,
      seed: intFlag(values, 'seed', 0) ?? 0,
      workers: intFlag(values, 'workers', 1, 64) ?? 2,
      seedFactor: intFlag(values, 'seed-factor', 0, 64) ?? 4,
      seedTasks: stringFlag(values, 'seed-tasks'),
    };
    if (parsed.seedTasks !== undefined && !existsSync(parsed.seedTasks))
      throw new UsageError(`--seed-tasks: ${parsed.seedTasks} does not exist`);
    const checkpoint = stringFlag(values, 'checkpoint');
    if (checkpoint !== undefined) {
      const stray = Object.keys(OPENAI_FLAGS).filter(
        (f) => f !== 'chat' && f !== 'grammar' && values[f] !== undefined,
      );
      if (stray.length)
        throw new UsageError(`--${stray[0]}: not with --checkpoint (the model runs in this process)`);
      const grammar = stringFlag(values, 'grammar') ?? 'auto';
      if (grammar !== 'auto' && grammar !== 'gbnf' && grammar !== 'none')
        throw new UsageError(`--grammar takes auto, gbnf or none, got '${grammar}'`);
      local = {
        checkpoint,
        threads: intFlag(values, 'threads', 1, 64) ?? 2,
        chat: values.chat === true,
        constrained: grammar !== 'none',
      };
    } else {
      if (values.threads !== undefined) throw new UsageError('--threads: only with --checkpoint');
      policyOpts = openAIOptionsFromFlags(values);
    }
  } catch (e) {
    process.stderr.write(`azr generate: ${(e as Error).message}\n${generateUsage}`);
    return 2;
  }
  const [{ createOpenAIPolicy }, { createExecutor }, { runGenerateMode }] = await Promise.all([
    import('../policy/openai.js'),
    import('../executor/index.js'),
    import('../selfplay/generate.js'),
  ]);
  let policy: Policy;
  let requests: () => unknown = () => undefined;
  let where: string;
  try {
    if (local) {
      const { resolveCheckpoint, openCheckpoint, describeCheckpoint } = await import('./checkpoint-arg.js');
      const target = await resolveCheckpoint(local.checkpoint);
      policy = await openCheckpoint(target, {
        threads: local.threads,
        chat: local.chat,
        constrained: local.constrained,
      });
      where = `${describeCheckpoint(target)}, in this process`;
    } else {
      const opts = policyOpts as ReturnType<typeof openAIOptionsFromFlags>;
      const server = createOpenAIPolicy({ ...opts, onRetry: retryLine('azr generate') });
      policy = server;
      requests = () => server.stats();
      where = `'${opts.model}' at ${opts.baseUrls.join(', ')} (${opts.api})`;
    }
  } catch (e) {
    process.stderr.write(`azr generate: ${(e as Error).message}\n`);
    return 2;
  }
  const executor = await createExecutor({ workers: parsed.workers, langs: [parsed.lang] });
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('azr generate: stopping after this round (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    process.stdout.write(
      `azr generate: ${parsed.lang} ${parsed.types.join('+')} tasks into ${parsed.out} (target ${parsed.tasks}) with ${where}\n`,
    );
    const stats = await runGenerateMode({
      policy,
      executor,
      lang: parsed.lang,
      out: parsed.out,
      tasks: parsed.tasks,
      types: parsed.types,
      rollouts: parsed.rollouts,
      references: parsed.references,
      batch: parsed.batch,
      maxRounds: parsed.maxRounds,
      temperature: parsed.temperature,
      topP: parsed.topP,
      proposerMaxTokens: parsed.proposerMaxTokens,
      solverMaxTokens: parsed.solverMaxTokens,
      learnableOnly: values['learnable-only'] === true,
      seed: parsed.seed,
      seedFactor: parsed.seedFactor,
      ...(parsed.seedTasks !== undefined ? { seedTasks: parsed.seedTasks } : {}),
      style: 'reference',
      shouldStop: () => stop,
      log: (l) => process.stdout.write(`${l}\n`),
    });
    const served = requests();
    process.stdout.write(`${JSON.stringify({ ...stats, ...(served ? { requests: served } : {}) })}\n`);
    return 0;
  } catch (e) {
    // The server failed (the policy says which endpoint and what it answered); finished rounds are kept.
    process.stderr.write(`azr generate: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    await executor.close();
    await policy.close();
  }
}
