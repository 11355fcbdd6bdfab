// `azr tasks DIR`: browse the verified tasks a run produced, or export them as a dataset.
import { existsSync } from 'node:fs';
import type { TaskRecord } from '../tasks/dataset.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const tasksUsage = `usage: azr tasks RUN_DIR [--type deduction|abduction|induction] [--last N] [--export FILE]
       azr tasks RUN_DIR --diversity [--type T] [--last N] [--through ITERATION]

  Lists the verified tasks in the run's buffers (newest last); --export writes them as a JSONL dataset in
  the eval/README.md format (with the iteration that made each task).
  --diversity: over the last N tasks the run proposed of each type (default 1000; the seed not counted),
  the share of distinct programs (comments, layout and variable names aside), the share of distinct
  skeletons (constants aside too: near-copies share one), and the most repeated programs.
  --through: only the tasks made up to that iteration (to compare runs at equal iteration counts).
`;

export async function tasksCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(tasksUsage);
    return 0;
  }
  let dir: string;
  let values: Record<string, unknown>;
  let last: number;
  let through: number | undefined;
  try {
    const p = parseFlags(
      argv,
      {
        type: { type: 'string' },
        last: { type: 'string' },
        export: { type: 'string' },
        diversity: { type: 'boolean' },
        through: { type: 'string' },
      },
      true,
    );
    values = p.values;
    if (p.positionals.length !== 1) throw new UsageError('give one RUN_DIR');
    dir = p.positionals[0] as string;
    const type = stringFlag(values, 'type');
    if (type !== undefined && !['deduction', 'abduction', 'induction'].includes(type))
      throw new UsageError(`unknown --type ${type}`);
    last = intFlag(values, 'last', 1) ?? (values.diversity ? 1000 : 10);
    through = intFlag(values, 'through', 1);
    if (values.diversity && values.export !== undefined)
      throw new UsageError('--diversity and --export do not go together');
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
  const records = types
    .flatMap((t) => (existsSync(run.bufferPath(t)) ? readTaskFile(run.bufferPath(t)) : []))
    .filter((r) => through === undefined || (r.iteration ?? 0) <= through);
  if (records.length === 0) {
    process.stderr.write(`azr tasks: no task buffers in ${dir}; is it a run directory?\n`);
    return 2;
  }
  if (values.diversity) return printDiversity(records, types, last);
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

async function printDiversity(records: readonly TaskRecord[], types: readonly string[], last: number) {
  const { createExecutor } = await import('../executor/index.js');
  const { fromTaskRecord, ProgramForms, programDiversity } = await import('../tasks/index.js');
  const langs = [...new Set(records.map((r) => r.lang))];
  const executor = await createExecutor({ workers: 1, langs, keepWarm: false });
  try {
    const forms = new ProgramForms(executor);
    const share = (n: number, of: number) => (of ? (n / of).toFixed(3) : '-');
    for (const t of types) {
      // The seed (iteration 0) is no proposal.
      const mine = records.filter((r) => r.type === t && (r.iteration ?? 0) > 0).slice(-last);
      const first = mine[0]?.iteration ?? 0;
      const lastIt = mine[mine.length - 1]?.iteration ?? 0;
      const d = await programDiversity(forms, mine[0]?.lang ?? 'python', mine.map(fromTaskRecord));
      process.stdout.write(
        `== ${t}: the last ${d.tasks} proposed tasks (iterations ${first}-${lastIt})\n` +
          `distinct programs ${share(d.programs, d.tasks)} (${d.programs}), ` +
          `distinct skeletons ${share(d.skeletons, d.tasks)} (${d.skeletons})\n`,
      );
      for (const p of d.top.filter((x) => x.count > 1))
        process.stdout.write(`${String(p.count).padStart(6)} x ${JSON.stringify(p.program)}\n`);
    }
    // Figures over programs without their forms would count each as distinct: refuse them.
    const f = forms.lastFailure;
    if (f) {
      process.stderr.write(
        `azr tasks: the executor gave no normal form for ${forms.failures} program(s) (last: ${f.kind}: ${f.message}); the figures above are not to be trusted\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await executor.close();
  }
}
