// `azr eval --bench cruxeval` as a command (the real `azr` in a child process): the oracle on the fixture and on the JavaScript held-out tasks, the built-in model from a
// checkpoint, an OpenAI-compatible server (the real `azr serve` over the tiny model), and usage errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve, tinyBuiltinPolicy } from '../serve/tiny-model.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'cruxeval-mini.jsonl');
const HELDOUT = join(root, 'eval', 'heldout.jsonl');
const AZR = join(here, '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-crux-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function azrEval(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [AZR, 'eval', ...args]);
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const lastJson = (out: string) =>
  JSON.parse(out.trim().split('\n').at(-1) as string) as {
    cruxeval_o: number;
    cruxeval_i: number;
    problems: number;
    unrunnable: number;
  };

test('--policy oracle scores 1.0 on the fixture and on the JavaScript held-out tasks', async () => {
  const py = await azrEval(['--bench', 'cruxeval', '--data', FIXTURE, '--policy', 'oracle']);
  assert.equal(py.code, 0, py.err);
  assert.match(py.out, /^16 problems \(python\)/);
  assert.match(py.out, /CRUXEval-O {2}pass@1 100\.0%/);
  assert.deepEqual(lastJson(py.out), {
    cruxeval_o: 1,
    cruxeval_i: 1,
    problems: 16,
    n: 1,
    policy: 'oracle',
    unrunnable: 0,
    gold_mismatch: 0,
  });
  const js = await azrEval([
    '--bench',
    'cruxeval',
    '--data',
    HELDOUT,
    '--lang',
    'javascript',
    '--policy',
    'oracle',
  ]);
  assert.equal(js.code, 0, js.err);
  const j = lastJson(js.out);
  assert.equal(j.cruxeval_o, 1, js.out);
  assert.equal(j.cruxeval_i, 1, js.out);
});

test('the oracle check fails (exit 1) on a problem the executor cannot run, though it scores 1.0', async () => {
  const file = join(dir, 'unrunnable.jsonl');
  const ok = { code: 'def f(x):\n    return x + 1', input: '1', output: '2', id: 'ok' };
  const banned = {
    code: 'import random\ndef f(x):\n    return x * 2',
    input: '3',
    output: '6',
    id: 'banned',
  };
  writeFileSync(file, `${JSON.stringify(ok)}\n${JSON.stringify(banned)}\n`);
  const r = await azrEval(['--bench', 'cruxeval', '--data', file, '--policy', 'oracle']);
  assert.equal(r.code, 1, r.err);
  const j = lastJson(r.out);
  assert.equal(j.cruxeval_o, 1);
  assert.equal(j.cruxeval_i, 1);
  assert.equal(j.unrunnable, 1);
  assert.match(r.err, /the oracle check failed: 1 problems the executor cannot run/);
  const bad = join(dir, 'mismatch.jsonl');
  writeFileSync(bad, `${JSON.stringify({ ...ok, output: '3' })}\n`);
  const m = await azrEval(['--bench', 'cruxeval', '--data', bad, '--policy', 'oracle']);
  assert.equal(m.code, 1);
  assert.match(m.err, /the oracle check failed: CRUXEval-I 0; 1 gold outputs the executor disputes/);
});

test('the built-in model from a checkpoint and an OpenAI-compatible server both run the benchmark', async () => {
  const model = await tinyBuiltinPolicy(256);
  const ckpt = join(dir, 'ckpt');
  await model.save(ckpt);
  const served = await serve(model);
  try {
    const builtin = await azrEval([
      '--bench',
      'cruxeval',
      '--data',
      FIXTURE,
      '--limit',
      '3',
      ckpt,
      '--max-tokens',
      '24',
    ]);
    assert.equal(builtin.code, 0, builtin.err);
    assert.match(builtin.out, /policy builtin, n=1/);
    assert.match(builtin.out, /answer format: compact prompts, grammar-constrained decoding/);
    const b = lastJson(builtin.out);
    assert.equal(b.problems, 3);
    assert.ok(b.cruxeval_o >= 0 && b.cruxeval_o <= 1 && b.cruxeval_i >= 0 && b.cruxeval_i <= 1);
    // The reference prompts (about 700 byte tokens) do not fit the tiny model's 256-token context: the
    // server keeps the last 200 tokens of each, as asked (without the flag it refuses them with a 400).
    const remote = await azrEval([
      ...['--bench', 'cruxeval', '--data', FIXTURE, '--limit', '2', '--n', '2'],
      ...[
        '--base-url',
        served.url,
        '--model',
        'tiny',
        '--max-tokens',
        '16',
        '--truncate-prompt-tokens',
        '200',
      ],
    ]);
    assert.equal(remote.code, 0, remote.err);
    assert.match(remote.out, /policy openai, n=2/);
    // --grammar auto (the default) offers the answer grammar to the server.
    assert.match(
      remote.out,
      /answer format: reference prompts, grammar-constrained decoding \(from --style, --grammar\)/,
    );
    // A random model writes no well-formed answer in 16 tokens: every sample is counted as unparsed.
    assert.match(remote.out, /CRUXEval-I .*\(0\/4 samples right, 4 unparsed\)/);
  } finally {
    await served.handle.close();
    await model.close();
  }
});

test('usage errors exit 2 with a reason', async () => {
  const cases: [string[], RegExp][] = [
    [['--bench', 'cruxeval'], /give --data FILE/],
    [['--bench', 'other', '--data', FIXTURE], /unknown --bench 'other'/],
    [['--bench', 'cruxeval', '--data', FIXTURE], /give --policy oracle\|builtin\|openai/],
    [['--bench', 'cruxeval', '--data', FIXTURE, '--policy', 'openai'], /give --base-url/],
    [
      [
        '--bench',
        'cruxeval',
        '--data',
        FIXTURE,
        '--policy',
        'openai',
        '--base-url',
        'ftp://h',
        '--model',
        'm',
      ],
      /--base-url: base URL must be http or https/,
    ],
    [
      [
        '--bench',
        'cruxeval',
        '--data',
        FIXTURE,
        '--policy',
        'oracle',
        '--base-url',
        'http://h',
        '--model',
        'm',
      ],
      /--base-url, --model: only with --policy openai/,
    ],
    [
      ['--bench', 'cruxeval', '--data', FIXTURE, '--policy', 'oracle', '--threads', '2'],
      /--threads: only with/,
    ],
    [
      ['--bench', 'cruxeval', '--data', FIXTURE, '--policy', 'oracle', '--n', '0'],
      /--n takes a whole number/,
    ],
    [['--bench', 'cruxeval', '--data', join(dir, 'missing.jsonl'), '--policy', 'oracle'], /does not exist/],
    // Without --bench, `azr eval` is the held-out evaluation of a checkpoint.
    [['--data', FIXTURE], /give one CHECKPOINT/],
  ];
  for (const [args, want] of cases) {
    const r = await azrEval(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, want);
  }
});
