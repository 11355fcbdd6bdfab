// `azr tasks DIR`: browse the verified tasks a run produced, or export them as a dataset.
import { existsSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const tasksUsage = `usage: azr tasks RUN_DIR [--type deduction|abduction|induction] [--last N] [--export FILE]

  Lists the verified tasks in the run's buffers (newest last); --export writes them as a JSONL dataset in
  the eval/README.md format (with the iteration that made each task).
`;

export async function tasksCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(tasksUsage);
    return 0;
  }
  let dir: string;
  let values: Record<string, unknown>;
  let last: number;
  try {
    const p = parseFlags(
      argv,
      { type: { type: 'string' }, last: { type: 'string' }, export: { type: 'string' } },
      true,
    );
    values = p.values;
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    const type = stringFlag(values, 'type');
    if (type !== undefined && !['deduction', 'abduction', 'induction'].includes(type))
      throw new UsageError(`unknown --type ${type}`);
    last = intFlag(values, 'last', 1) ?? 10;
  } catch (e) {
    process.stderr.write(`azr tasks: ${(e as Error).message}\n${tasksUsage}`);
    return 2;
  }
  const { RunDir } = await import('../run/rundir.js');
  const { readTaskFile, writeTaskFile } = await import('../tasks/index.js');
  const run = new RunDir(dir);
  const types = (
    stringFlag(values, 'type') ? [stringFlag(values, 'type')] : ['deduction', 'abduction', 'induction']
  ) as string[];
  const records = types.flatMap((t) =>
    existsSync(run.bufferPath(t)) ? readTaskFile(run.bufferPath(t)) : [],
  );
  if (records.length === 0) {
    process.stderr.write(`azr tasks: no task buffers in ${dir}; is it a run directory?\n`);
    return 2;
  }
  const out = stringFlag(values, 'export');
  if (out) {
    writeTaskFile(out, records);
    process.stdout.write(`wrote ${records.length} tasks to ${out}\n`);
    return 0;
  }
  for (const t of types) {
    const mine = records.filter((r) => r.type === t);
    process.stdout.write(`== ${t}: ${mine.length} tasks\n`);
    for (const r of mine.slice(-last)) {
      process.stdout.write(
        `-- iteration ${r.iteration ?? 0}\n${r.program}\n   input: ${r.input}\n   output: ${r.output}\n`,
      );
      if (r.message) process.stdout.write(`   message: ${r.message}\n`);
    }
  }
  return 0;
}
