// `azr eval --bench cruxeval --data FILE`: CRUXEval-O and CRUXEval-I (pass@1 over n samples), with the
// oracle, the built-in model or an OpenAI-compatible server as the policy. Readable lines first, then one
// JSON object with cruxeval_o and cruxeval_i as the last line.
//
// FILE is the public CRUXEval JSONL (code, input, output, id), or a task file in the eval/README.md format
// (e.g. eval/heldout.jsonl with --lang javascript), whose deduction and abduction tasks are scored the same
// way.
import { existsSync, readFileSync } from 'node:fs';
import type { CruxProblem } from '../eval/cruxeval.js';
import type { Lang } from '../executor/types.js';
import type { Policy } from '../policy/types.js';
import { type AnswerFormat, STRUCTURE_ONLY } from '../tasks/answer-format.js';
import type { PromptStyle } from '../tasks/types.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import {
  type CheckpointTarget,
  checkpointFormat,
  describeFormat,
  openCheckpoint,
  resolveCheckpoint,
  TINKER_URL_FLAG,
  tinkerUrlUsage,
} from './checkpoint-arg.js';
import {
  OPENAI_FLAGS,
  OPENAI_FLAGS_USAGE,
  openAIFlagsGiven,
  openAIOptionsFromFlags,
  retryLine,
} from './http-flags.js';

export const cruxevalUsage = `usage: azr eval --bench cruxeval --data FILE [--policy oracle|builtin|openai] [CHECKPOINT] [options]

  --data FILE           the CRUXEval JSONL (code, input, output, id), or a task file (eval/README.md format)
  --policy oracle       answer with the gold output/input: checks the scoring end to end (exit 1 unless
                        both metrics are 1.0 and the executor runs every problem)
  --policy builtin      the built-in model at CHECKPOINT (a checkpoint or a run directory; compact
                        prompts, answer grammar), or a tinker run's saved weights through the Tinker
                        sampling API (compact prompts, no grammar: as the run trained)
  --policy openai       an OpenAI-compatible server (reference prompts); the default when --base-url is given
  --lang L              task files: python or javascript (default: every deduction/abduction task)
  --n N                 samples per problem (default 1)
  --temperature T       default 0 for n = 1, 0.2 for n > 1
  --max-tokens N        completion budget (default 1024; builtin 96)
  --style S             compact or reference (default: by policy)
  --limit N             only the first N problems
  --threads N           builtin: ONNX Runtime threads (default 2)
${tinkerUrlUsage(24)}
${OPENAI_FLAGS_USAGE}
CRUXEval: download data/cruxeval.jsonl from the facebookresearch/cruxeval repository.
`;

function readProblems(file: string, lang: Lang | undefined): Promise<CruxProblem[]> {
  return (async () => {
    const { readCruxEvalFile, problemsFromTasks } = await import('../eval/cruxeval.js');
    const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
    let isCrux = false;
    try {
      isCrux = typeof (JSON.parse(first) as { code?: unknown }).code === 'string';
    } catch {
      // not JSON: let the task reader name the line
    }
    if (isCrux) {
      const problems = readCruxEvalFile(file);
      return lang ? problems.filter((p) => p.lang === lang) : problems;
    }
    const { readTaskFile } = await import('../tasks/index.js');
    return problemsFromTasks(readTaskFile(file), lang);
  })();
}

export async function cruxevalCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(cruxevalUsage);
    return 0;
  }
  const fail = (msg: string) => {
    process.stderr.write(`azr eval: ${msg}\n${cruxevalUsage}`);
    return 2;
  };
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseFlags(
      argv,
      {
        bench: { type: 'string' },
        data: { type: 'string' },
        policy: { type: 'string' },
        lang: { type: 'string' },
        n: { type: 'string' },
        temperature: { type: 'string' },
        'max-tokens': { type: 'string' },
        style: { type: 'string' },
        limit: { type: 'string' },
        threads: { type: 'string' },
        ...TINKER_URL_FLAG,
        ...OPENAI_FLAGS,
      },
      true,
    ));
  } catch (e) {
    return fail((e as Error).message);
  }
  let n: number;
  let maxTokens: number | undefined;
  let limit: number | undefined;
  let threads: number;
  let temperature: number | undefined;
  let kind: 'oracle' | 'builtin' | 'openai';
  let lang: Lang | undefined;
  let style: PromptStyle | undefined;
  try {
    const bench = stringFlag(values, 'bench');
    if (bench !== undefined && bench !== 'cruxeval') throw new UsageError(`unknown --bench '${bench}'`);
    const data = stringFlag(values, 'data');
    if (!data) throw new UsageError('give --data FILE');
    if (!existsSync(data)) throw new UsageError(`${data} does not exist`);
    n = intFlag(values, 'n', 1, 1000) ?? 1;
    maxTokens = intFlag(values, 'max-tokens', 1, 1_000_000);
    limit = intFlag(values, 'limit', 1);
    threads = intFlag(values, 'threads', 1, 64) ?? 2;
    const t = stringFlag(values, 'temperature');
    if (t !== undefined) {
      temperature = Number(t);
      if (t.trim() === '' || !(temperature >= 0 && temperature <= 2))
        throw new UsageError('--temperature takes a number in [0, 2]');
    }
    const p =
      stringFlag(values, 'policy') ??
      (values['base-url'] ? 'openai' : positionals.length ? 'builtin' : undefined);
    if (p !== 'oracle' && p !== 'builtin' && p !== 'openai')
      throw new UsageError('give --policy oracle|builtin|openai');
    kind = p;
    if (kind === 'builtin' && positionals.length !== 1)
      throw new UsageError('--policy builtin needs one CHECKPOINT');
    if (kind !== 'builtin' && positionals.length > 0)
      throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const stray = kind === 'openai' ? [] : openAIFlagsGiven(values);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')}: only with --policy openai`);
    for (const flag of ['threads', 'tinker-url'])
      if (kind !== 'builtin' && values[flag] !== undefined)
        throw new UsageError(`--${flag}: only with --policy builtin`);
    const l = stringFlag(values, 'lang');
    if (l !== undefined && l !== 'python' && l !== 'javascript')
      throw new UsageError('--lang takes python or javascript');
    lang = l;
    const s = stringFlag(values, 'style');
    if (s !== undefined && s !== 'compact' && s !== 'reference')
      throw new UsageError('--style takes compact or reference');
    style = s;
  } catch (e) {
    return fail((e as Error).message);
  }
  const dataFile = stringFlag(values, 'data') as string;
  let problems: CruxProblem[];
  try {
    problems = await readProblems(dataFile, lang);
  } catch (e) {
    process.stderr.write(`azr eval: ${(e as Error).message}\n`);
    return 2;
  }
  if (limit !== undefined) problems = problems.slice(0, limit);
  if (problems.length === 0) {
    process.stderr.write(`azr eval: no problems in ${dataFile}${lang ? ` for ${lang}` : ''}\n`);
    return 2;
  }
  const resolvedStyle: PromptStyle = style ?? (kind === 'builtin' ? 'compact' : 'reference');
  // A server model answers in the answer structure when it takes a grammar (--grammar); the built-in
  // model in its run's format (below).
  let format: AnswerFormat = {
    style: resolvedStyle,
    inductionInputs: 10,
    grammar:
      kind === 'openai' && resolvedStyle === 'reference' && values.grammar !== 'none' ? STRUCTURE_ONLY : null,
  };
  let formatSource = kind === 'builtin' ? '' : kind === 'openai' ? '--style, --grammar' : '--style';
  let policy: Policy;
  /** What the output names the policy: the kind, or 'tinker' for a tinker run's checkpoint. */
  let policyName: string = kind;
  try {
    if (kind === 'oracle') {
      const { createOraclePolicy } = await import('../eval/oracle.js');
      policy = createOraclePolicy(problems, resolvedStyle);
    } else if (kind === 'openai') {
      const { createOpenAIPolicy } = await import('../policy/openai.js');
      policy = createOpenAIPolicy({ ...openAIOptionsFromFlags(values), onRetry: retryLine('azr eval') });
    } else {
      let checkpoint: CheckpointTarget;
      try {
        const tinkerUrl = stringFlag(values, 'tinker-url');
        checkpoint = await resolveCheckpoint(
          positionals[0] as string,
          tinkerUrl === undefined ? {} : { tinkerUrl },
        );
      } catch (e) {
        return fail((e as Error).message);
      }
      const run = await checkpointFormat(checkpoint);
      // A pretrained model is asked in the reference style unless --style says otherwise.
      format = { ...run.format, style: style ?? run.format.style };
      formatSource = run.source;
      if (checkpoint.kind === 'tinker') policyName = 'tinker';
      policy = await openCheckpoint(checkpoint, { threads, constrained: true });
    }
  } catch (e) {
    return fail((e as Error).message);
  }
  const [{ createExecutor }, { runCruxEval }] = await Promise.all([
    import('../executor/index.js'),
    import('../eval/cruxeval.js'),
  ]);
  const langs = [...new Set(problems.map((p) => p.lang))];
  const executor = await createExecutor({ workers: 2, langs });
  try {
    const t0 = performance.now();
    const r = await runCruxEval({
      policy,
      executor,
      data: problems,
      n,
      format,
      maxTokens: maxTokens ?? (kind === 'builtin' ? 96 : 1024),
      ...(temperature !== undefined ? { temperature } : {}),
    });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const line = (name: string, score: number, c: { samples: number; correct: number; unparsed: number }) =>
      `${name}  pass@1 ${(100 * score).toFixed(1).padStart(5)}%   (${c.correct}/${c.samples} samples right, ${c.unparsed} unparsed)\n`;
    process.stdout.write(
      `${problems.length} problems (${langs.join(', ')}) from ${dataFile}, policy ${policyName}, n=${n}, ${secs}s\n`,
    );
    process.stdout.write(`${describeFormat(format, formatSource)}\n`);
    process.stdout.write(line('CRUXEval-O', r.cruxeval_o, r.counts.output));
    process.stdout.write(line('CRUXEval-I', r.cruxeval_i, r.counts.input));
    if (r.counts.unrunnable.length)
      process.stdout.write(
        `${r.counts.unrunnable.length} problems do not run in the sandbox (CRUXEval-I accepts only their gold input): ${r.counts.unrunnable
          .map((u) => `${u.id} (${u.reason})`)
          .join('; ')}\n`,
      );
    if (r.counts.goldMismatch.length)
      process.stdout.write(
        `gold output differs from the sandbox's run: ${r.counts.goldMismatch.join(', ')}\n`,
      );
    process.stdout.write(
      `${JSON.stringify({
        cruxeval_o: r.cruxeval_o,
        cruxeval_i: r.cruxeval_i,
        problems: problems.length,
        n,
        policy: policyName,
        unrunnable: r.counts.unrunnable.length,
        gold_mismatch: r.counts.goldMismatch.length,
      })}\n`,
    );
    // The oracle is a check of the scoring: anything short of 1.0 on both metrics with every problem run
    // by the executor fails it (an unrunnable problem scores through its gold input and would hide).
    if (kind === 'oracle') {
      const wrong = [
        ...(r.cruxeval_o < 1 ? [`CRUXEval-O ${r.cruxeval_o}`] : []),
        ...(r.cruxeval_i < 1 ? [`CRUXEval-I ${r.cruxeval_i}`] : []),
        ...(r.counts.unrunnable.length
          ? [`${r.counts.unrunnable.length} problems the executor cannot run`]
          : []),
        ...(r.counts.goldMismatch.length
          ? [`${r.counts.goldMismatch.length} gold outputs the executor disputes`]
          : []),
      ];
      if (wrong.length) {
        process.stderr.write(`azr eval: the oracle check failed: ${wrong.join('; ')}\n`);
        return 1;
      }
    }
    return 0;
  } finally {
    await executor.close();
    await policy.close();
  }
}
