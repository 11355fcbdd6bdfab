// CRUXEval scoring with the real executor: the project's own fixture in the CRUXEval format
// (test/fixtures/cruxeval-mini.jsonl, outputs computed with CPython), the oracle, a model with known
// answers (including an abduction answer that is not the gold input but gives the same output), and the
// JavaScript counterpart on the held-out set.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CruxProblem,
  inputTask,
  outputTask,
  problemsFromTasks,
  readCruxEvalFile,
  runCruxEval,
} from '../../src/eval/cruxeval.js';
import { answerCompletion, createOraclePolicy } from '../../src/eval/oracle.js';
import { createExecutor, type Executor } from '../../src/executor/index.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import type { AnswerFormat } from '../../src/tasks/answer-format.js';
import type { PromptStyle } from '../../src/tasks/types.js';

/** A server model's format: the given prompt style, free decoding. */
const free = (style: PromptStyle): AnswerFormat => ({ style, inductionInputs: 10, grammar: null });

import { readTaskFile, solverPrompt } from '../../src/tasks/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'cruxeval-mini.jsonl');
const HELDOUT = join(root, 'eval', 'heldout.jsonl');

let executor: Executor;
const dir = mkdtempSync(join(tmpdir(), 'azr-crux-'));
before(async () => {
  executor = await createExecutor({ workers: 1 });
});
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A model whose completions for each prompt are given in advance (the answers under test). */
function scripted(byPrompt: Map<string, string[]>): Policy {
  return {
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      return requests.map((r) => {
        const texts = byPrompt.get(r.prompt);
        if (!texts) throw new Error('unexpected prompt');
        assert.equal(texts.length, r.n);
        return texts.map((text) => ({ text, finishReason: 'stop' as const }));
      });
    },
    close: async () => {},
  };
}

test('the fixture reads as CRUXEval problems; bad files are refused with file:line', () => {
  const problems = readCruxEvalFile(FIXTURE);
  assert.equal(problems.length, 16);
  assert.ok(problems.every((p) => p.lang === 'python' && p.program.startsWith('def f(')));
  assert.equal(new Set(problems.map((p) => p.id)).size, 16);
  const noNewline = join(dir, 'last-line.jsonl');
  writeFileSync(noNewline, '{"code": "def f(x):\\n    return x", "input": "1", "output": "1", "id": "a"}');
  assert.equal(readCruxEvalFile(noNewline).length, 1);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(
    bad,
    '{"code": "def f(x):\\n    return x", "input": "1", "output": "1", "id": "a"}\n{"code": "x"}\n',
  );
  assert.throws(() => readCruxEvalFile(bad), /bad\.jsonl:2: not a CRUXEval record \(input: /);
  writeFileSync(bad, '{"code": "def f(x):\\n    return x", "input": "1", "output": "1", "id": "a"}\nnope\n');
  assert.throws(() => readCruxEvalFile(bad), /bad\.jsonl:2: not JSON/);
});

test('the oracle scores exactly 1.0 on CRUXEval-O and CRUXEval-I, in both prompt styles', async () => {
  const data = readCruxEvalFile(FIXTURE);
  for (const style of ['reference', 'compact'] as const) {
    const r = await runCruxEval({
      policy: createOraclePolicy(data, style),
      executor,
      data,
      n: 2,
      format: free(style),
    });
    assert.equal(r.cruxeval_o, 1, style);
    assert.equal(r.cruxeval_i, 1, style);
    assert.deepEqual(r.counts.output, { problems: 16, samples: 32, correct: 32, unparsed: 0 });
    assert.deepEqual(r.counts.input, { problems: 16, samples: 32, correct: 32, unparsed: 0 });
    assert.deepEqual(r.counts.unrunnable, []);
    assert.deepEqual(r.counts.goldMismatch, []);
  }
});

test('known answers: value equality for outputs, any input that gives the output, pass@1 over n', async () => {
  const data = readCruxEvalFile(FIXTURE).filter((p) => p.id === 'mini_3' || p.id === 'mini_6');
  const [sorted, fib] = data as [CruxProblem, CruxProblem];
  assert.equal(sorted.input, '[5, 2, 9, 1]');
  assert.equal(fib.input, '10');
  const a = (x: string) => answerCompletion(x, 'reference');
  const answers = new Map<string, string[]>([
    // sorted: same value with other spacing (right), a tuple (wrong: not == a list), unparseable
    [
      solverPrompt(outputTask(sorted), { style: 'reference' }),
      [a('[1,2,5,9]'), a('(1, 2, 5, 9)'), 'no answer'],
    ],
    // sorted: another input with the same output (right), the gold input (right), a wrong one
    [
      solverPrompt(inputTask(sorted), { style: 'reference' }),
      [a('[9, 1, 5, 2]'), a('[5, 2, 9, 1]'), a('[1, 2]')],
    ],
    // fib(10) = 55: 55.0 == 55 in Python (right), '55' (wrong), 56 (wrong)
    [solverPrompt(outputTask(fib), { style: 'reference' }), [a('55.0'), a("'55'"), a('56')]],
    // fib: 10 (right), 9 (wrong), not a literal (wrong, the executor refuses it)
    [solverPrompt(inputTask(fib), { style: 'reference' }), [a('10'), a('9'), a('ten')]],
  ]);
  const r = await runCruxEval({ policy: scripted(answers), executor, data, n: 3 });
  assert.deepEqual(
    r.perProblem.map((p) => [p.id, p.output, p.input]),
    [
      ['mini_3', 1 / 3, 2 / 3],
      ['mini_6', 1 / 3, 1 / 3],
    ],
  );
  assert.equal(r.cruxeval_o, 1 / 3);
  assert.equal(r.cruxeval_i, (2 / 3 + 1 / 3) / 2);
  assert.deepEqual(r.counts.output, { problems: 2, samples: 6, correct: 2, unparsed: 1 });
  assert.deepEqual(r.counts.input, { problems: 2, samples: 6, correct: 3, unparsed: 0 });
});

test('a gold the sandbox refuses (a banned import) still scores: the gold input is right, other inputs cannot be verified', async () => {
  const refused: CruxProblem = {
    id: 'fmt',
    lang: 'python',
    program: "import random\ndef f(n):\n    return '{}!'.format(n % 3)",
    input: '4',
    output: "'1!'",
  };
  const data = [refused];
  const oracle = await runCruxEval({
    policy: createOraclePolicy(data, 'compact'),
    executor,
    data,
    format: free('compact'),
  });
  assert.equal(oracle.cruxeval_o, 1);
  assert.equal(oracle.cruxeval_i, 1);
  assert.equal(oracle.counts.unrunnable.length, 1);
  assert.match(oracle.counts.unrunnable[0]?.reason ?? '', /^banned: /);
  const other = new Map([
    [solverPrompt(outputTask(refused), { style: 'compact' }), ["'1!'</answer>"]],
    [solverPrompt(inputTask(refused), { style: 'compact' }), ['7</answer>']],
  ]);
  const r = await runCruxEval({ policy: scripted(other), executor, data, format: free('compact') });
  assert.equal(r.cruxeval_o, 1);
  assert.equal(r.cruxeval_i, 0);
  // Without the banned import the same function runs (str.format is allowed behind its field check).
  const runs = { ...refused, id: 'fmt-ok', program: refused.program.replace('import random\n', '') };
  const again = await runCruxEval({
    policy: createOraclePolicy([runs], 'compact'),
    executor,
    data: [runs],
    format: free('compact'),
  });
  assert.deepEqual(again.counts.unrunnable, []);
  assert.equal(again.cruxeval_i, 1);
});

test('inputs that are expressions and functions without arguments are scored too', async () => {
  const data: CruxProblem[] = [
    {
      id: 'expr',
      lang: 'python',
      program: 'def f(d):\n    return sorted(d)',
      input: 'dict(b=1, a=2)',
      output: "['a', 'b']",
    },
    { id: 'none', lang: 'python', program: 'def f():\n    return 3', input: '', output: '3' },
  ];
  const r = await runCruxEval({ policy: createOraclePolicy(data, 'reference'), executor, data });
  assert.equal(r.cruxeval_o, 1);
  assert.equal(r.cruxeval_i, 1);
  // The expression input runs, evaluated by a program that calls f on it.
  assert.deepEqual(r.counts.unrunnable, []);
  assert.deepEqual(r.counts.goldMismatch, []);
  // The same expression with other spacing is the gold input; a literal is run through f as usual;
  // another expression is not evaluated (a model's answer is never spliced into code).
  const [expr] = data as [CruxProblem];
  const other = new Map([
    [
      solverPrompt(outputTask(expr), { style: 'reference' }),
      [
        answerCompletion("['a','b']", 'reference'),
        answerCompletion("['b', 'a']", 'reference'),
        answerCompletion("['a', 'b']", 'reference'),
      ],
    ],
    [
      solverPrompt(inputTask(expr), { style: 'reference' }),
      [
        answerCompletion('dict(b=1,  a=2)', 'reference'),
        answerCompletion('dict(a=1, b=2)', 'reference'),
        answerCompletion("{'b': 0, 'a': 0}", 'reference'),
      ],
    ],
  ]);
  const s = await runCruxEval({ policy: scripted(other), executor, data: [expr], n: 3 });
  assert.equal(s.cruxeval_o, 2 / 3);
  assert.equal(s.cruxeval_i, 2 / 3);
});

test('a wrong gold output is reported, and the oracle then fails CRUXEval-I on it', async () => {
  const data: CruxProblem[] = [
    { id: 'bad', lang: 'python', program: 'def f(x):\n    return x * 2', input: '3', output: '7' },
  ];
  const r = await runCruxEval({ policy: createOraclePolicy(data, 'reference'), executor, data });
  assert.deepEqual(r.counts.goldMismatch, ['bad']);
  assert.equal(r.cruxeval_o, 1);
  assert.equal(r.cruxeval_i, 0);
});

test('JavaScript counterpart: the held-out deduction and abduction tasks through the same path', async () => {
  const data = problemsFromTasks(readTaskFile(HELDOUT), 'javascript');
  assert.ok(data.length >= 40, `${data.length} problems`);
  assert.ok(data.every((p) => p.lang === 'javascript'));
  const r = await runCruxEval({ policy: createOraclePolicy(data, 'reference'), executor, data });
  assert.equal(r.cruxeval_o, 1);
  assert.equal(r.cruxeval_i, 1);
  assert.deepEqual(r.counts.unrunnable, []);
  assert.deepEqual(r.counts.goldMismatch, []);
  // A wrong output and an input that is no literal for every task score 0 (the oracle's 1.0 is not an artefact of the path).
  const wrong = new Map<string, string[]>();
  for (const p of data) {
    wrong.set(solverPrompt(outputTask(p), { style: 'reference' }), [
      answerCompletion('"surely not"', 'reference'),
    ]);
    wrong.set(solverPrompt(inputTask(p), { style: 'reference' }), [
      answerCompletion('not a literal (', 'reference'),
    ]);
  }
  const z = await runCruxEval({ policy: scripted(wrong), executor, data });
  assert.equal(z.cruxeval_o, 0);
  assert.equal(z.cruxeval_i, 0);
});
