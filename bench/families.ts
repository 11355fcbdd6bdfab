// A diagnostic task file for `bench:ceiling --tasks`: one-line Python programs from the operation families
// the held-out set uses at difficulties 1-2 (arithmetic on an integer, string methods and slices, list
// reductions and comprehensions, two-argument arithmetic), with fresh constants and random inputs; outputs
// come from the project's executor. It answers one question: if self-play's proposer found exactly these
// families, how much would the model gain from them in a run's update budget? Nothing in training reads
// it. Several generated programs are textually equal to held-out programs (`a + 1`, `len(a)`), on other
// inputs; that makes it an optimistic bound, on purpose.
//
//   npm run bench:families -- --out FILE [--per-type N] [--seed N]
//
// Last line: one JSON object with the counts.
import { parseArgs } from 'node:util';
import { createExecutor } from '../src/executor/index.js';
import { type TaskRecord, type TaskType, writeTaskFile } from '../src/tasks/index.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    'per-type': { type: 'string', default: '3000' },
    seed: { type: 'string', default: '7' },
  },
});
const perType = Number(values['per-type']);
const seed = Number(values.seed);
if (!values.out || !Number.isInteger(perType) || perType < 1 || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run bench:families -- --out FILE [--per-type N] [--seed N]\n');
  process.exit(2);
}

const rng = new Rng(seed);
const between = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
const k = () => between(1, 9);
const letters = 'abcdefghijklmnopqrstuvwxyz';
const intInput = () => String(between(-9, 20));
const strInput = () => `'${Array.from({ length: between(1, 6) }, () => rng.pick([...letters])).join('')}'`;
const listInput = () => `[${Array.from({ length: between(1, 5) }, () => between(0, 9)).join(', ')}]`;

type Family = { params: string; input: () => string; exprs: (() => string)[] };
const FAMILIES: Family[] = [
  {
    params: 'a',
    input: intInput,
    exprs: [
      () => `a + ${k()}`,
      () => `a - ${k()}`,
      () => `a * ${k()}`,
      () => `a // ${k()}`,
      () => `a % ${k()}`,
      () => 'a * a',
      () => 'abs(a)',
      () => '-a',
      () => '[a]',
      () => '[a, a]',
      () => 'a + a',
      () => 'str(a)',
      () => `max(a, ${k()})`,
      () => `min(a, ${k()})`,
    ],
  },
  {
    params: 'a',
    input: strInput,
    exprs: [
      () => 'a.upper()',
      () => 'a[::-1]',
      () => 'len(a)',
      () => 'a + a',
      () => 'a[0]',
      () => 'a[1:]',
      () => `a[:${k()}]`,
      () => `a.count('${rng.pick([...'abcde'])}')`,
      () => 'sorted(a)',
      () => `a + ${strInput()}`,
      () => '[a]',
      () => 'a[-1]',
      () => 'a * 2',
      () => "a.replace('a', 'b')",
    ],
  },
  {
    params: 'a',
    input: listInput,
    exprs: [
      () => 'sum(a)',
      () => 'max(a)',
      () => 'min(a)',
      () => 'len(a)',
      () => 'sorted(a)',
      () => 'a[::-1]',
      () => 'a[0]',
      () => 'a + a',
      () => `[x * ${k()} for x in a]`,
      () => `[x for x in a if x > ${k()}]`,
      () => `[x + ${k()} for x in a]`,
      () => 'a[1:]',
      () => '[a]',
      () => `a.count(${between(0, 9)})`,
    ],
  },
  {
    params: 'a, b',
    input: () => `${intInput()}, ${intInput()}`,
    exprs: [
      () => 'a + b',
      () => 'a * b',
      () => 'a - b',
      () => 'max(a, b)',
      () => 'min(a, b)',
      () => '[a, b]',
    ],
  },
];

const executor = await createExecutor({ workers: 2, langs: ['python'] });
const types: TaskType[] = ['deduction', 'abduction', 'induction'];
const records: TaskRecord[] = [];
let failed = 0;
for (const type of types) {
  let made = 0;
  while (made < perType) {
    const family = rng.pick(FAMILIES);
    const program = `def f(${family.params}):\n    return ${rng.pick(family.exprs)()}`;
    // Seven inputs: the task's own, then three shown and three hidden pairs for induction.
    const inputs = Array.from({ length: type === 'induction' ? 7 : 1 }, family.input);
    const runs = await Promise.all(inputs.map((input) => executor.run('python', program, input)));
    const outputs = runs.map((r) => (r.ok ? r.output : null));
    if (outputs.some((o) => o === null)) {
      failed++; // an index past a short string's end, `max` of nothing: draw again
      continue;
    }
    const pair = (i: number) => ({ input: inputs[i] as string, output: outputs[i] as string });
    records.push({
      id: `families-${type}-${made}`,
      lang: 'python',
      type,
      program,
      ...pair(0),
      ...(type === 'induction'
        ? { message: 'what does f do?', shown: [1, 2, 3].map(pair), hidden: [4, 5, 6].map(pair) }
        : {}),
    });
    made++;
  }
}
await executor.close();
writeTaskFile(values.out, records);
const distinct = new Set(records.map((r) => r.program)).size;
console.log(
  `wrote ${records.length} tasks (${distinct} distinct programs) to ${values.out}; ${failed} draws failed`,
);
console.log(
  JSON.stringify({
    out: values.out,
    perType,
    seed,
    tasks: records.length,
    distinctPrograms: distinct,
    failed,
  }),
);
