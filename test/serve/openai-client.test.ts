// The official `openai` client against a real `azr serve` process on loopback: prompts as token ids (one
// list, and a list of lists) sample what the same ids give the policy in process, bad ids are refused with
// a typed 400 naming the id, and a body over the server's limit gets a 413 while the server keeps serving.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { encode } from '../../src/model/tokenizer.js';
import { type BuiltinPolicy, loadBuiltinPolicy, promptTokens } from '../../src/policy/builtin.js';
import type { GenerateRequest } from '../../src/policy/types.js';
import { tinyBuiltinPolicy } from './tiny-model.js';

const AZR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-serve-openai-'));
/** `azr serve`'s default body limit (4 MiB); the oversized bodies below are 5 MB. */
const BODY_LIMIT = 4 * 1024 * 1024;

let child: ChildProcess;
let url: string;
let client: OpenAI;
/** The served checkpoint, loaded in this process as `azr serve` loads it: the reference. */
let reference: BuiltinPolicy;

before(async () => {
  const model = await tinyBuiltinPolicy(128, 7);
  const ckpt = join(dir, 'ckpt');
  await model.save(ckpt);
  await model.close();
  child = spawn(process.execPath, [AZR, 'serve', ckpt, '--port', '0', '--model', 'mine', '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`azr serve exited ${code}: ${out}`)));
  });
  reference = await loadBuiltinPolicy(ckpt, { threads: 1, trainUnderMask: false });
  client = new OpenAI({ baseURL: url, apiKey: 'not-checked', maxRetries: 0 });
});

after(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await reference?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sampling = { temperature: 1, topP: 1, seed: 3 } as const;

/** What the policy samples in process for these token-id prompts. */
const direct = (prompts: number[][], extra: Partial<GenerateRequest>) =>
  reference.generate(
    prompts.map((ids) => ({ prompt: '', promptTokenIds: ids, n: 1, maxTokens: 8, ...sampling, ...extra })),
  );

test('a prompt of token ids samples what the same ids give the policy, with logprobs per token', async () => {
  const ids = promptTokens('def f(x):');
  const r = await client.completions.create({
    model: 'mine',
    prompt: ids,
    max_tokens: 8,
    seed: 3,
    logprobs: 2,
  });
  const want = (await direct([ids], { topLogprobs: 2 }))[0]?.[0];
  assert.ok(want?.tokenIds && want.logprobs && want.topLogprobs);
  const [c] = r.choices;
  assert.equal(c?.text, want.text);
  assert.equal(c?.finish_reason, want.finishReason);
  assert.deepEqual(c?.logprobs?.token_logprobs, want.logprobs);
  assert.equal(c?.logprobs?.tokens?.length, want.tokenIds.length);
  assert.deepEqual(
    c?.logprobs?.top_logprobs?.map((at) => Object.values(at)),
    want.topLogprobs.map((at) => at.map((t) => t.logprob)),
  );
  assert.deepEqual(r.usage, {
    prompt_tokens: ids.length,
    completion_tokens: want.tokenIds.length,
    total_tokens: ids.length + want.tokenIds.length,
  });
  // The text that tokenizes to these ids (the built-in policy puts BOS first) gives the same choices.
  const asText = await client.completions.create({
    model: 'mine',
    prompt: 'def f(x):',
    max_tokens: 8,
    seed: 3,
    logprobs: 2,
  });
  assert.deepEqual(asText.choices, r.choices);
});

test('token ids are used as sent: nothing is added in front, and the largest id is accepted', async () => {
  const ids = [...encode('x = '), reference.vocabSize - 1];
  const r = await client.completions.create({
    model: 'mine',
    prompt: ids,
    max_tokens: 8,
    seed: 3,
    logprobs: 0,
  });
  const want = (await direct([ids], {}))[0]?.[0];
  assert.equal(r.usage?.prompt_tokens, ids.length);
  assert.equal(r.choices[0]?.text, want?.text);
  assert.deepEqual(r.choices[0]?.logprobs?.token_logprobs, want?.logprobs);
});

test('a list of token-id lists with n gives prompts x n choices in order, as the policy samples them', async () => {
  const prompts = [promptTokens('ab'), encode('[1, 2]')];
  const r = await client.completions.create({
    model: 'mine',
    prompt: prompts,
    n: 2,
    max_tokens: 6,
    seed: 5,
    logprobs: 0,
  });
  const want = (await direct(prompts, { n: 2, maxTokens: 6, seed: 5 })).flat();
  assert.deepEqual(
    r.choices.map((c) => c.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    r.choices.map((c) => [c.text, c.logprobs?.token_logprobs]),
    want.map((c) => [c.text, c.logprobs]),
  );
  assert.equal(r.usage?.prompt_tokens, prompts[0]!.length + prompts[1]!.length);
});

test('an id outside the vocabulary is a 400 naming the id and where it is; the server keeps serving', async () => {
  const V = reference.vocabSize;
  const cases: [number[] | number[][], string, string][] = [
    [[1, 2, V], 'prompt.2', `token id ${V} `],
    [
      [
        [5, 6],
        [7, -1],
      ],
      'prompt.1.1',
      'token id -1 ',
    ],
    [[3, 1.5], 'prompt.1', 'token id 1.5 '],
  ];
  for (const [prompt, param, named] of cases) {
    const err = await client.completions.create({ model: 'mine', prompt, max_tokens: 2 }).then(
      () => assert.fail(`accepted ${JSON.stringify(prompt)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.code, 'invalid_token_id');
    assert.equal(err.param, param);
    assert.equal(
      (err.error as { message: string }).message,
      `${param}: ${named}is not in the model's vocabulary (ids 0 to ${V - 1})`,
    );
  }
  const ok = await client.completions.create({ model: 'mine', prompt: [1, 2, V - 1], max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test('a 5 MB body gets 413 with an OpenAI-style error, and the server keeps serving', async () => {
  const err = await client.completions
    .create({ model: 'mine', prompt: 'x'.repeat(5_000_000), max_tokens: 1 })
    .then(
      () => assert.fail('a 5 MB body was accepted'),
      (e: unknown) => e,
    );
  assert.ok(err instanceof OpenAI.APIError && !(err instanceof OpenAI.APIConnectionError), String(err));
  assert.equal(err.status, 413);
  assert.deepEqual(err.error, {
    message: `The request body is over this server's limit of ${BODY_LIMIT} bytes`,
    type: 'invalid_request_error',
    param: null,
    code: 'request_too_large',
  });
  const ok = await client.completions.create({ model: 'mine', prompt: 'ok', max_tokens: 2, seed: 1 });
  assert.equal(ok.choices.length, 1);
});

test('a 5 MB chunked body (no Content-Length) gets 413, and its connection serves the next request', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const post = (chunks: Buffer[]) =>
    new Promise<{ status: number; body: string; reusedSocket: boolean }>((resolve, reject) => {
      const req = request(
        `${url}/completions`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket }));
        },
      );
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  try {
    // 5 MB in 50 chunks of 100 kB, sent with chunked transfer encoding: the server counts as it reads.
    const big = Buffer.from(`{"model":"mine","prompt":"${'y'.repeat(100_000 - 26)}`);
    const over = await post(Array.from({ length: 50 }, () => big));
    assert.equal(over.status, 413);
    assert.deepEqual(JSON.parse(over.body), {
      error: {
        message: `The request body is over this server's limit of ${BODY_LIMIT} bytes`,
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
    const next = await post([Buffer.from(JSON.stringify({ model: 'mine', prompt: 'ok', max_tokens: 2 }))]);
    assert.equal(next.status, 200, next.body);
    assert.equal(next.reusedSocket, true, 'the 413 left its connection open for the next request');
  } finally {
    agent.destroy();
  }
});
