// Generate mode end to end over HTTP: `azr generate` (the CLI function) with the OpenAI policy against the
// real `azr serve` server on localhost.
//  - With the built-in tiny model (random weights): it writes almost nothing valid; the test checks the
//    accounting (every proposal is unparsed, rejected or valid) and the summary line.
//  - With a scripted model behind the same server (a test-only Policy that writes well-formed proposals and
//    answers, since a random model never does): the dataset's format, solve rates, duplicates, rejections
//    and resuming by appending.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createExecutor, type Executor } from '../../src/executor/index.js';
import type { BuiltinPolicy } from '../../src/policy/builtin.js';
import { createOpenAIPolicy } from '../../src/policy/openai.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import { runGenerateMode } from '../../src/selfplay/generate.js';
import { readTaskFile } from '../../src/tasks/index.js';
import { type Served, serve, tinyBuiltinPolicy } from './tiny-model.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'azr-generate-'));
let executor: Executor;
before(async () => {
  executor = await createExecutor({ workers: 1, langs: ['python'] });
});
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

const AZR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** `azr generate ARGS` in a child process. */
async function azrGenerate(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [AZR, 'generate', ...args]);
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: `${err.stdout}\n${err.stderr}` };
  }
}

const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

test('azr generate against azr serve with the built-in tiny model: every proposal is accounted for', async () => {
  const model: BuiltinPolicy = await tinyBuiltinPolicy(256);
  const served: Served = await serve(model);
  const out = join(dir, 'tiny.jsonl');
  const args = [
    ...['--base-url', served.url, '--model', 'tiny', '--out', out, '--tasks', '2'],
    ...['--batch', '2', '--max-rounds', '2', '--rollouts', '2', '--references', '2'],
    ...['--proposer-max-tokens', '40', '--solver-max-tokens', '12', '--workers', '1'],
    // No seeding stage and no grammar (which asks for the reasoning and the answer in two requests):
    // the counts below are the rounds' own, one request per proposal.
    ...['--seed-factor', '0', '--grammar', 'none'],
  ];
  try {
    // The reference proposer prompts (about 2000 byte tokens) do not fit the tiny model's 256-token
    // context: the server refuses them with a 400 naming the numbers, and the run stops at the first one,
    // without retrying it.
    const refused = await azrGenerate(args);
    assert.equal(refused.code, 1, refused.out);
    assert.match(
      refused.out,
      /azr generate: http:\/\/127\.0\.0\.1:\d+\/v1\/completions answered 400: This model's maximum context length is 256 tokens\. However, you requested (\d+) tokens \((\d+) in the prompt, 40 in the completion\)/,
    );
    const [, total, prompt] = refused.out.match(/you requested (\d+) tokens \((\d+) in the prompt/) ?? [];
    assert.equal(Number(total), Number(prompt) + 40);
    assert.ok(Number(prompt) > 256);
    assert.match(refused.out, /send truncate_prompt_tokens K/);
    assert.doesNotMatch(refused.out, /retrying/);
    assert.equal(existsSync(out), false);

    // With --truncate-prompt-tokens the server keeps the end of each prompt, as vLLM would.
    const { code, out: stdout } = await azrGenerate([...args, '--truncate-prompt-tokens', '200']);
    assert.equal(code, 0, stdout);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^azr generate: python deduction\+abduction\+induction tasks into/);
    const s = JSON.parse(lines.at(-1) as string) as {
      rounds: number;
      proposed: number;
      formatErrors: Record<string, number>;
      rejected: Record<string, number>;
      valid: number;
      written: number;
      total: number;
      stopped: string;
      requests: { requests: number }[];
    };
    assert.equal(lines.filter((l) => l.startsWith('round ')).length, s.rounds, stdout);
    assert.ok(s.rounds >= 1 && s.rounds <= 2);
    assert.equal(s.proposed, s.rounds * 2 * 3);
    assert.equal(sum(s.formatErrors) + sum(s.rejected) + s.valid, s.proposed);
    assert.ok(s.written <= s.valid);
    assert.equal(s.total, s.written);
    assert.equal(s.stopped, s.total >= 2 ? 'target' : 'max_rounds');
    // One request per proposal, plus one per valid task (its n rollouts in one request).
    assert.equal(s.requests[0]?.requests, s.proposed + s.valid);
    if (existsSync(out)) assert.equal(readTaskFile(out).length, s.written);
  } finally {
    await served.handle.close();
    await model.close();
  }
});

const PROPOSE = '## Task: write a new';

/**
 * A scripted model: proposes `f(x) = len(str(x)) % 2` on a new input each time, written with another even
 * constant each time (`(len(str(x)) + 2k) % 2`: one program with many inputs would be rejected as a copy;
 * every fifth proposal raises, and every fifth repeats the previous program and input), and as a solver
 * gives sample i the answer `i % 2` (deduction: the output 0 or 1) or `1`/`10` (abduction: inputs with
 * outputs 1 and 0). So each task is solved by exactly one of two rollouts: solve rate 0.5.
 */
function scriptedModel(): Policy {
  let k = 0;
  let last = { program: '', input: '0' };
  const block = (lang: string, text: string) => `\`\`\`${lang}\n${text}\n\`\`\``;
  const answer = (body: string) => `<think>scripted</think> <answer>${body}</answer>`;
  const propose = (): string => {
    k++;
    if (k % 5 === 0)
      return answer(`\n${block('python', 'def f(x):\n    return 1 // 0')}\n${block('input', '3')}\n`);
    const next =
      k % 5 === 3
        ? last
        : { program: `def f(x):\n    return (len(str(x)) + ${2 * k}) % 2`, input: String(k * 37) };
    last = next;
    return answer(`\n${block('python', next.program)}\n${block('input', next.input)}\n`);
  };
  return {
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      return requests.map((r) =>
        Array.from({ length: r.n }, (_, i) => {
          let text: string;
          if (r.prompt.includes(PROPOSE)) text = propose();
          else if (r.prompt.includes('predict the output')) text = answer(String(i % 2));
          else text = answer(i % 2 === 0 ? '1' : '10');
          return { text, finishReason: 'stop' as const };
        }),
      );
    },
    close: async () => {},
  };
}

test('generate mode writes verified tasks with solve rates, skips duplicates and failures, and resumes by appending', async () => {
  const served = await serve(scriptedModel(), 'scripted');
  const out = join(dir, 'scripted.jsonl');
  // One request at a time, so the scripted model sees the proposals in slot order.
  const policy = createOpenAIPolicy({
    baseUrls: [served.url],
    model: 'scripted',
    api: 'chat',
    concurrency: 1,
  });
  const common = {
    policy,
    executor,
    lang: 'python' as const,
    out,
    types: ['deduction', 'abduction'] as const,
    rollouts: 2,
    batch: 5,
  };
  try {
    const first = await runGenerateMode({ ...common, tasks: 6 });
    assert.equal(first.before, 0);
    assert.equal(first.total, 6);
    assert.equal(first.written, 6);
    assert.equal(first.stopped, 'target');
    // Round 1 proposes 10: k = 1..10; k = 5, 10 raise; k = 3, 8 repeat the input of k = 2, 7.
    assert.equal(first.proposed, 10);
    assert.deepEqual(first.rejected, { runtime: 2, duplicate: 2 });
    assert.equal(first.valid, 6);
    assert.equal(first.meanSolveRate, 0.5);
    assert.equal(first.learnable, 6);
    const records = readTaskFile(out);
    assert.equal(records.length, 6);
    for (const r of records) {
      assert.equal(r.lang, 'python');
      assert.equal(r.solveRate, 0.5);
      assert.match(r.program, /^def f\(x\):\n {4}return \(len\(str\(x\)\) \+ \d+\) % 2$/);
      assert.equal(r.output, String(String(Number(r.input)).length % 2));
    }
    assert.deepEqual(
      records.map((r) => r.type),
      ['deduction', 'deduction', 'deduction', 'abduction', 'abduction', 'abduction'],
    );
    // Resume: the 6 count, the next run appends up to 9 with fresh ids and no repeated task.
    const second = await runGenerateMode({ ...common, tasks: 9 });
    assert.equal(second.before, 6);
    assert.equal(second.total, 9);
    assert.equal(second.written, 3);
    const all = readTaskFile(out);
    assert.equal(all.length, 9);
    assert.deepEqual(all.slice(0, 6), records);
    assert.equal(new Set(all.map((r) => r.id)).size, 9);
    assert.equal(new Set(all.map((r) => `${r.type}|${r.input}`)).size, 9);
    assert.ok(readFileSync(out, 'utf8').endsWith('\n'));
  } finally {
    await policy.close();
    await served.handle.close();
  }
});

test('azr generate names the endpoint when the server is down, and refuses bad flags', async () => {
  const out = join(dir, 'down.jsonl');
  // A port nothing listens on: bind one, note it, close it.
  const probe = createHttpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const down = await azrGenerate([
    ...[
      '--base-url',
      `http://127.0.0.1:${port}`,
      '--model',
      'm',
      '--out',
      out,
      '--tasks',
      '1',
      '--retries',
      '0',
    ],
  ]);
  assert.equal(down.code, 1);
  assert.ok(
    down.out.includes(`cannot reach http://127.0.0.1:${port}/v1/completions (ECONNREFUSED)`),
    down.out,
  );
  assert.doesNotMatch(down.out, /retrying/);
  // With a retry, each one is reported on stderr before the final error.
  const retried = await azrGenerate([
    ...['--base-url', `http://127.0.0.1:${port}`, '--model', 'm', '--out', out, '--tasks', '1'],
    ...['--retries', '1', '--batch', '1', '--types', 'deduction'],
  ]);
  assert.equal(retried.code, 1);
  assert.match(
    retried.out,
    new RegExp(
      `azr generate: attempt 1 failed, retrying in \\d+ ms: cannot reach http://127\\.0\\.0\\.1:${port}/v1/completions`,
    ),
  );
  assert.match(retried.out, /every attempt failed \(2\)/);
  const usage = await azrGenerate(['--base-url', 'http://127.0.0.1:9', '--model', 'm', '--tasks', '1']);
  assert.equal(usage.code, 2);
  assert.match(usage.out, /give --out FILE/);
});
