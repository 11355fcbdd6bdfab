// `azr exec`: run one program on one input in the sandbox, as the environment would.
import { readFileSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const execUsage = `usage: azr exec --lang python|javascript (--program FILE | --code TEXT) --input ARGS
                [--check [--runs N]] [--timeout-ms MS] [--json]

  --input ARGS     the argument list as literals, e.g. "[1, 2], 'a'"
  --check          validate as a task: safety policy, limits, runs that must agree (default 2)
  --runs N         how many runs a check compares (1 to 10)
  --timeout-ms MS  wall-time limit per run (default 2000)
  --json           the output format (the default; accepted for scripts that say so)

Prints the typed result as one JSON object: {"status": "ok", "output", "value", "timeMs"} or
{"status": "error", "kind", "message", "timeMs"}. Exits 0 whenever the program was run or judged,
whatever it did; 2 for bad usage.
`;

export async function execCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(execUsage);
    return 0;
  }
  let lang: 'python' | 'javascript';
  let program: string;
  let input: string;
  let values: Record<string, unknown>;
  let runs: number | undefined;
  let timeoutMs: number | undefined;
  try {
    ({ values } = parseFlags(argv, {
      lang: { type: 'string' },
      program: { type: 'string' },
      code: { type: 'string' },
      input: { type: 'string' },
      check: { type: 'boolean' },
      runs: { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
    }));
    const l = stringFlag(values, 'lang');
    if (l !== 'python' && l !== 'javascript') throw new UsageError('--lang takes python or javascript');
    lang = l;
    const file = stringFlag(values, 'program');
    const code = stringFlag(values, 'code');
    if ((file === undefined) === (code === undefined))
      throw new UsageError('give exactly one of --program FILE and --code TEXT');
    if (file !== undefined) {
      try {
        program = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
      }
    } else program = code as string;
    const i = stringFlag(values, 'input');
    if (i === undefined) throw new UsageError('--input is required (use "" for no arguments)');
    input = i;
    runs = intFlag(values, 'runs', 1, 10);
    if (runs !== undefined && !values.check) throw new UsageError('--runs goes with --check');
    timeoutMs = intFlag(values, 'timeout-ms', 1, 600_000);
  } catch (e) {
    process.stderr.write(`azr exec: ${(e as Error).message}\n${execUsage}`);
    return 2;
  }
  const { createExecutor } = await import('../executor/index.js');
  const executor = await createExecutor({
    workers: 1,
    langs: [lang],
    keepWarm: false,
    limits: timeoutMs ? { timeoutMs } : {},
  });
  try {
    const r = values.check
      ? await executor.check(lang, program, input, runs)
      : await executor.run(lang, program, input);
    const { ok, ...rest } = r;
    process.stdout.write(`${JSON.stringify({ status: ok ? 'ok' : 'error', ...rest })}\n`);
    return 0;
  } finally {
    await executor.close();
  }
}
