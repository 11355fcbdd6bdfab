// `azr verify --cases FILE`: check answers as the self-play loop would. Each line of FILE is
// {"task": <a task in the eval/README.md format>, "answer": "<the parsed answer text>"}; the cases are
// verified in order, one at a time, through the loop's own verification, in one executor with one sandbox
// per language, so that they share an interpreter as a run's requests do. One JSON line per case, then a
// summary line.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const verifyUsage = `usage: azr verify --cases FILE [--timeout-ms MS]

  --cases FILE     JSONL, one case a line: {"task": {...}, "answer": "..."}; the task in the format of
                   eval/README.md, the answer as the solver's parsed answer (an output literal for
                   deduction, an argument list for abduction, a program for induction)
  --timeout-ms MS  wall-time limit per run (default 2000)

Prints one JSON object per case, in order: {"case", "id"?, "type", "lang", "correct", "kind"?, "message"?}
(kind and message: why the first check that failed did not run to a value, e.g. not_a_value, banned,
syntax), then {"cases": N, "correct": K}. Exits 0 when every case was judged, whatever the verdicts; 1 for
a file that cannot be read; 2 for bad usage.
`;

const CaseSchema = z.object({ task: z.unknown(), answer: z.string() }).strict();

interface Case {
  line: number;
  task: import('../tasks/types.js').Task;
  answer: string;
}

async function readCases(file: string): Promise<Case[]> {
  const { parseTaskRecord, fromTaskRecord } = await import('../tasks/index.js');
  const text = readFileSync(file, 'utf8');
  const cases: Case[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${where}: not JSON: ${(e as Error).message}`);
    }
    const c = CaseSchema.safeParse(json);
    if (!c.success) {
      const issue = c.error.issues[0];
      throw new Error(`${where}: not a case: ${issue?.path.join('.') || ''} ${issue?.message ?? ''}`.trim());
    }
    try {
      cases.push({ line: i + 1, task: fromTaskRecord(parseTaskRecord(c.data.task)), answer: c.data.answer });
    } catch (e) {
      throw new Error(`${where}: task: ${(e as Error).message}`);
    }
  });
  return cases;
}

export async function verifyCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(verifyUsage);
    return 0;
  }
  let file: string;
  let timeoutMs: number | undefined;
  try {
    const { values } = parseFlags(argv, { cases: { type: 'string' }, 'timeout-ms': { type: 'string' } });
    const f = stringFlag(values, 'cases');
    if (f === undefined) throw new UsageError('--cases FILE is required');
    file = f;
    timeoutMs = intFlag(values, 'timeout-ms', 1, 600_000);
  } catch (e) {
    process.stderr.write(`azr verify: ${(e as Error).message}\n${verifyUsage}`);
    return 2;
  }
  let cases: Case[];
  try {
    cases = await readCases(file);
  } catch (e) {
    process.stderr.write(`azr verify: ${(e as Error).message}\n`);
    return 1;
  }
  const { createExecutor } = await import('../executor/index.js');
  const { verificationRequests, verdict } = await import('../tasks/index.js');
  const langs = [...new Set(cases.map((c) => c.task.lang))];
  const executor = await createExecutor({
    workers: 1,
    langs: langs.length > 0 ? langs : ['python'],
    keepWarm: false,
    limits: timeoutMs ? { timeoutMs } : {},
  });
  let correct = 0;
  try {
    for (const [i, c] of cases.entries()) {
      // One case at a time, in file order: a case runs after everything the cases before it did.
      const results = await executor.batch(verificationRequests({ task: c.task, answer: c.answer }));
      const right = verdict(results);
      if (right) correct++;
      const failed = results.find((r) => !r.ok);
      const line: Record<string, unknown> = {
        case: i + 1,
        ...(c.task.id !== undefined ? { id: c.task.id } : {}),
        type: c.task.type,
        lang: c.task.lang,
        correct: right,
      };
      if (failed && !failed.ok) {
        line.kind = failed.kind;
        line.message = failed.message;
      }
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  } finally {
    await executor.close();
  }
  process.stdout.write(`${JSON.stringify({ cases: cases.length, correct })}\n`);
  return 0;
}
