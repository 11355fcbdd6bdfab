// The OpenAI-compatible policy against the real `azr serve` server on localhost (the built-in tiny model,
// random weights): what the policy gets over HTTP must be exactly what the model samples directly.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { answerGrammar } from '../../src/grammar/answer-structure.js';
import type { BuiltinPolicy } from '../../src/policy/builtin.js';
import {
  createOpenAIPolicy,
  normalizeBaseUrl,
  type RetryInfo,
  retryAfterMs,
  toChatMessages,
} from '../../src/policy/openai.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import { renderChat } from '../../src/serve/chat-template.js';
import { identityTask, proposerPrompt, solverPrompt } from '../../src/tasks/index.js';
import { type Served, serve, tinyBuiltinPolicy } from '../serve/tiny-model.js';

let model: BuiltinPolicy;
let served: Served;

before(async () => {
  model = await tinyBuiltinPolicy();
  served = await serve(model);
});
after(async () => {
  await served.handle.close();
  await model.close();
});

const req = (prompt: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt,
  n: 1,
  temperature: 1,
  topP: 1,
  maxTokens: 12,
  seed: 3,
  ...extra,
});

const fast = { retries: 3, backoffMs: 5, maxBackoffMs: 20 };

/** Text and finish reason: what must survive the HTTP round trip exactly (token ids do not travel). */
const visible = (cs: Completion[]) => cs.map((c) => ({ text: c.text, finishReason: c.finishReason }));

/**
 * Same text and finish reasons, and log-probs equal up to float32 rounding: the server batches requests
 * its own way, and a matmul over a different batch shape may sum in a different order.
 */
function assertSameCompletions(http: Completion[][], direct: Completion[][]): void {
  assert.deepEqual(http.map(visible), direct.map(visible));
  for (const [i, cs] of http.entries()) {
    for (const [j, c] of cs.entries()) {
      const got = c.logprobs ?? [];
      const want = direct[i]?.[j]?.logprobs ?? [];
      assert.equal(got.length, want.length, `logprobs of ${i}/${j}`);
      for (const [k, lp] of got.entries()) {
        const w = want[k] as number;
        assert.ok(Math.abs(lp - w) < 1e-4, `logprob ${i}/${j}/${k}: ${lp} vs ${w}`);
      }
    }
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

const closeServer = (s: Server) =>
  new Promise<void>((r) => {
    s.close(() => r());
    s.closeAllConnections();
  });

/** A port nothing listens on: bind one, note it, close it. */
async function deadPort(): Promise<number> {
  const s = createHttpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await closeServer(s);
  return port;
}

type Failure = { status: number; body: string; headers?: Record<string, string> };

/**
 * A proxy in front of the real server: `decide` sees each request body and returns a failure to answer
 * with (a status, a body, headers), or nothing to forward the request.
 */
function gatedProxy(
  target: string,
  decide: (body: string) => Failure | undefined,
  rewrite: (body: Buffer) => Buffer = (b) => b,
) {
  const seen = { total: 0, failed: 0, forwarded: 0 };
  const t = new URL(target);
  const server = createHttpServer((req, res) => {
    seen.total++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const f = decide(body.toString('utf8'));
      if (f) {
        seen.failed++;
        res.writeHead(f.status, { 'content-type': 'text/html', ...f.headers });
        res.end(f.body);
        return;
      }
      seen.forwarded++;
      const forwarded = rewrite(body);
      const headers = { ...req.headers, 'content-length': String(forwarded.length) };
      const up = httpRequest(
        { host: t.hostname, port: t.port, path: req.url, method: req.method, headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.end(forwarded);
    });
  });
  return { server, seen };
}

/**
 * A proxy that records each request body and forwards it without the grammar fields: `azr serve` refuses
 * fields it does not know, as OpenAI's API does, and here stands for a server that applies the grammar.
 */
function grammarServer(target: string, bodies: Record<string, unknown>[]) {
  return gatedProxy(
    target,
    (body) => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      return undefined;
    },
    (body) => {
      const { grammar: _, structured_outputs: __, ...rest } = JSON.parse(body.toString('utf8'));
      return Buffer.from(JSON.stringify(rest));
    },
  );
}

/** A proxy that answers the first requests with the given failures, then forwards everything. */
const flakyProxy = (target: string, failures: Failure[]) => gatedProxy(target, () => failures.shift());

test('n > 1 over /v1/completions gives the completions the model samples directly, with log-probs', async () => {
  const policy = createOpenAIPolicy({ baseUrls: [served.url], model: 'tiny', ...fast });
  try {
    const r = [req('def f(x):', { n: 3 }), req('<answer>', { n: 2, seed: 9 })];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assert.deepEqual(
      http.map((cs) => cs.length),
      [3, 2],
    );
    assertSameCompletions(http, direct);
    // Samples of one request differ from each other (distinct per-sample streams).
    assert.equal(new Set(http[0]?.map((c) => c.text)).size > 1, true);
    for (const c of http.flat()) {
      assert.ok(c.logprobs && c.logprobs.length > 0, 'log-probs are returned');
      assert.ok(c.logprobs.every((x) => x <= 0));
    }
  } finally {
    await policy.close();
  }
});

test('chat: the transcript prompt goes as system + user messages and renders back to the same prompt', async () => {
  const prompt = 'A conversation between User and Assistant.\n\nUser: say hi\n\nAssistant: <think>';
  const messages = toChatMessages(prompt);
  assert.deepEqual(messages, [
    { role: 'system', content: 'A conversation between User and Assistant.' },
    { role: 'user', content: 'say hi' },
  ]);
  assert.equal(renderChat(messages), prompt);
  assert.deepEqual(toChatMessages('plain text'), [{ role: 'user', content: 'plain text' }]);
  const policy = createOpenAIPolicy({ baseUrls: [served.url], model: 'tiny', api: 'chat', ...fast });
  try {
    const r = [req(prompt, { n: 2 })];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assertSameCompletions(http, direct);
  } finally {
    await policy.close();
  }
});

test('chat: every reference prompt (both languages, proposer and solver, each task type) goes as system + user and renders back exactly', () => {
  for (const lang of ['python', 'javascript'] as const) {
    for (const type of ['deduction', 'abduction', 'induction'] as const) {
      const t = identityTask(type, lang);
      const prompts = [
        solverPrompt(t, { style: 'reference' }),
        proposerPrompt(type, lang, [t, identityTask(type, lang)], {
          style: 'reference',
          inductionInputs: 10,
        }),
      ];
      for (const p of prompts) {
        const m = toChatMessages(p);
        assert.deepEqual(
          m.map((x) => x.role),
          ['system', 'user'],
          `${lang} ${type}`,
        );
        assert.ok(
          !m[1]?.content.includes('Assistant:'),
          `${lang} ${type}: the user turn holds no reply frame`,
        );
        assert.equal(renderChat(m), p, `${lang} ${type}`);
      }
    }
  }
});

test('stop sequences end the text before the stop string, as in direct sampling', async () => {
  const policy = createOpenAIPolicy({ baseUrls: [served.url], model: 'tiny', ...fast });
  try {
    // Find a sample with a printable character after its start, and stop at that character.
    let checked = 0;
    for (let seed = 0; seed < 40 && checked < 2; seed++) {
      const free = (await model.generate([req('x = ', { seed, maxTokens: 16 })]))[0]?.[0] as Completion;
      const at = [...free.text].findIndex((ch, i) => i >= 2 && /[!-~]/.test(ch));
      if (at < 0) continue;
      const stop = [...free.text][at] as string;
      const cut = free.text.slice(0, free.text.indexOf(stop));
      const [http] = await policy.generate([req('x = ', { seed, maxTokens: 16, stop: [stop] })]);
      assert.equal(http?.[0]?.text, cut, `seed ${seed}, stop ${JSON.stringify(stop)}`);
      assert.equal(http?.[0]?.finishReason, 'stop');
      checked++;
    }
    assert.equal(checked, 2, 'found samples to cut');
  } finally {
    await policy.close();
  }
});

test('a length-limited completion says so', async () => {
  const policy = createOpenAIPolicy({ baseUrls: [served.url], model: 'tiny', ...fast });
  try {
    const [[c]] = (await policy.generate([req('abc', { maxTokens: 1, seed: 1 })])) as [[Completion]];
    const [[d]] = (await model.generate([req('abc', { maxTokens: 1, seed: 1 })])) as [[Completion]];
    assert.equal(c.finishReason, d.finishReason);
    assert.equal(c.logprobs?.length, 1);
  } finally {
    await policy.close();
  }
});

test('an endpoint that is down fails with an error naming it and the connection error', async () => {
  const port = await deadPort();
  const policy = createOpenAIPolicy({ baseUrls: [`http://127.0.0.1:${port}`], model: 'tiny', ...fast });
  try {
    await assert.rejects(policy.generate([req('a')]), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/v1/completions \\(ECONNREFUSED\\)`),
      );
      assert.match(e.message, /every attempt failed \(4\)/);
      return true;
    });
  } finally {
    await policy.close();
  }
});

test('a wrong model name fails at once with what the server answered (no retries)', async () => {
  const policy = createOpenAIPolicy({ baseUrls: [served.url], model: 'gpt-none', ...fast });
  try {
    await assert.rejects(
      policy.generate([req('a')]),
      /\/v1\/completions answered 404: The model 'gpt-none' does not exist/,
    );
    assert.equal(policy.stats()[0]?.requests, 1);
  } finally {
    await policy.close();
  }
});

test("a prompt too long for the server's context fails at once with the server's 400 (no retries)", async () => {
  const long = 'a'.repeat(300); // 301 prompt tokens; the served tiny model has 256
  for (const api of ['completions', 'chat'] as const) {
    const retried: RetryInfo[] = [];
    const policy = createOpenAIPolicy({
      baseUrls: [served.url],
      model: 'tiny',
      api,
      ...fast,
      onRetry: (r) => retried.push(r),
    });
    try {
      await assert.rejects(policy.generate([req(long)]), (e: Error) => {
        const path = api === 'chat' ? 'chat/completions' : 'completions';
        const what = api === 'chat' ? 'messages' : 'prompt';
        assert.match(
          e.message,
          new RegExp(
            `^${served.url.replace(/[.]/g, '\\.')}/${path} answered 400: This model's maximum context length is ` +
              `256 tokens\\. However, you requested \\d+ tokens \\(\\d+ in the ${what}, 12 in the completion\\)`,
          ),
        );
        assert.match(e.message, /send truncate_prompt_tokens K so that the server keeps only the last K/);
        return true;
      });
      assert.equal(policy.stats()[0]?.requests, 1);
      assert.deepEqual(retried, []);
    } finally {
      await policy.close();
    }
  }
});

test('truncatePromptTokens is sent as truncate_prompt_tokens: the server keeps the last K prompt tokens', async () => {
  const long = `${'a'.repeat(300)} and then f(x) =`;
  const policy = createOpenAIPolicy({
    baseUrls: [served.url],
    model: 'tiny',
    truncatePromptTokens: 100,
    ...fast,
  });
  try {
    const http = await policy.generate([req(long, { n: 2 }), req('short', { truncatePromptTokens: 3 })]);
    const direct = await model.generate([
      req(long, { n: 2, truncatePromptTokens: 100 }),
      req('short', { truncatePromptTokens: 3 }),
    ]);
    assertSameCompletions(http, direct);
  } finally {
    await policy.close();
  }
  assert.throws(
    () => createOpenAIPolicy({ baseUrls: [served.url], model: 'tiny', truncatePromptTokens: 0 }),
    /truncatePromptTokens must be a whole number >= 1, got 0/,
  );
});

test('500s and garbage bodies are retried until the endpoint recovers', async () => {
  const proxy = flakyProxy(served.url, [
    { status: 500, body: 'internal error' },
    { status: 200, body: '<html>not json</html>' },
    { status: 503, body: '{"error": {"message": "overloaded"}}' },
    { status: 200, body: '{"choices": [{"txt": 1}]}' },
  ]);
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({
    baseUrls: [url],
    model: 'tiny',
    retries: 5,
    backoffMs: 5,
    maxBackoffMs: 20,
  });
  try {
    const r = [req('def f(a, b):', { n: 2 })];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assertSameCompletions(http, direct);
    assert.deepEqual(proxy.seen, { total: 5, failed: 4, forwarded: 1 });
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('Retry-After: seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('2', now), 2000);
  assert.equal(retryAfterMs(' 0.5 ', now), 500);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:03 GMT', now), 3000);
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs(null, now), undefined);
});

test('a 429 with Retry-After is retried after the time it asks for, not the shorter backoff', async () => {
  const proxy = flakyProxy(served.url, [
    { status: 429, body: '{"error": {"message": "slow down"}}', headers: { 'retry-after': '1' } },
    { status: 503, body: '{"error": {"message": "warming up"}}' },
  ]);
  const url = await listen(proxy.server);
  const retries: RetryInfo[] = [];
  const policy = createOpenAIPolicy({
    baseUrls: [url],
    model: 'tiny',
    ...fast,
    onRetry: (r) => retries.push(r),
  });
  try {
    const r = [req('def g(x):', { n: 2 })];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assertSameCompletions(http, direct);
    assert.deepEqual(proxy.seen, { total: 3, failed: 2, forwarded: 1 });
    assert.equal(retries.length, 2);
    assert.match(retries[0]?.error ?? '', /\/v1\/completions answered 429: slow down$/);
    assert.equal(retries[0]?.attempt, 1);
    // The header's second, where the backoff alone would have waited at most 5 ms.
    assert.ok((retries[0]?.waitMs ?? 0) >= 900, `waited ${retries[0]?.waitMs} ms`);
    assert.match(retries[1]?.error ?? '', /answered 503: warming up$/);
    assert.ok((retries[1]?.waitMs ?? 0) <= 20, `waited ${retries[1]?.waitMs} ms`);
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('408 and 409 are retried as OpenAI clients do, and retry-after-ms sets the wait', async () => {
  const proxy = flakyProxy(served.url, [
    { status: 408, body: '{"error": {"message": "request timeout"}}', headers: { 'retry-after-ms': '300' } },
    { status: 409, body: '{"error": {"message": "conflict"}}' },
  ]);
  const url = await listen(proxy.server);
  const retries: RetryInfo[] = [];
  const policy = createOpenAIPolicy({
    baseUrls: [url],
    model: 'tiny',
    ...fast,
    onRetry: (r) => retries.push(r),
  });
  try {
    const r = [req('def k(x):')];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assertSameCompletions(http, direct);
    assert.deepEqual(proxy.seen, { total: 3, failed: 2, forwarded: 1 });
    assert.match(retries[0]?.error ?? '', /answered 408: request timeout$/);
    assert.ok((retries[0]?.waitMs ?? 0) >= 250, `waited ${retries[0]?.waitMs} ms`);
    assert.match(retries[1]?.error ?? '', /answered 409: conflict$/);
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('a server that refuses the logprobs parameter is asked again without it, once for all requests', async () => {
  const proxy = gatedProxy(served.url, (body) =>
    'logprobs' in (JSON.parse(body) as object)
      ? {
          status: 400,
          body: JSON.stringify({
            error: { message: 'logprobs is not supported with this model', param: 'logprobs' },
          }),
        }
      : undefined,
  );
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', concurrency: 1, retries: 0 });
  try {
    const r = [req('def h(x):', { n: 2 }), req('x = ', { seed: 5 })];
    const [http, direct] = await Promise.all([policy.generate(r), model.generate(r)]);
    assert.deepEqual(http.map(visible), direct.map(visible));
    assert.ok(http.flat().every((c) => c.logprobs === undefined));
    // One refusal, then both requests without logprobs.
    assert.deepEqual(proxy.seen, { total: 3, failed: 1, forwarded: 2 });
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('a base URL with the wrong path fails at once, naming the URL and what the server answered', async () => {
  const wrong = served.url.replace(/\/v1$/, '/api');
  const policy = createOpenAIPolicy({ baseUrls: [wrong], model: 'tiny', ...fast });
  try {
    await assert.rejects(policy.generate([req('a')]), (e: Error) => {
      assert.ok(
        e.message.startsWith(`${wrong}/completions answered 404: no route /api/completions`),
        e.message,
      );
      assert.ok(e.message.includes(`base URL ${wrong} right?`), e.message);
      return true;
    });
    assert.equal(policy.stats()[0]?.requests, 1);
  } finally {
    await policy.close();
  }
});

test('an endpoint that only answers garbage fails with what it answered', async () => {
  const proxy = flakyProxy(
    served.url,
    Array.from({ length: 10 }, () => ({ status: 200, body: '<html>oops</html>' })),
  );
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', retries: 2, backoffMs: 5 });
  try {
    await assert.rejects(
      policy.generate([req('a')]),
      /answered 200 with a body that is not JSON: <html>oops<\/html>/,
    );
    assert.equal(proxy.seen.total, 3);
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('an endpoint that answers with no choices fails naming it, after its retries', async () => {
  const proxy = gatedProxy(served.url, () => ({ status: 200, body: '{"choices": []}' }));
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', retries: 1, backoffMs: 5 });
  try {
    await assert.rejects(policy.generate([req('a')]), (e: Error) => {
      assert.ok(
        e.message.includes(`${url}/completions answered 200 with no choices: {"choices": []}`),
        e.message,
      );
      return true;
    });
    assert.equal(proxy.seen.total, 2);
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('an endpoint that does not answer in time is a timeout naming it', async () => {
  const silent = createHttpServer(() => {
    // never answers
  });
  const url = await listen(silent);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', timeoutMs: 150, retries: 0 });
  try {
    await assert.rejects(policy.generate([req('a')]), /\/v1\/completions did not answer within 150 ms/);
  } finally {
    await policy.close();
    await closeServer(silent);
  }
});

test('close ends requests in flight and sends none of those waiting for a slot', {
  timeout: 30_000,
}, async () => {
  let got = 0;
  let seen: () => void = () => {};
  const first = new Promise<void>((r) => {
    seen = r;
  });
  const silent = createHttpServer(() => {
    got++;
    seen();
  });
  const url = await listen(silent);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', concurrency: 1, ...fast });
  try {
    // Separate calls, so each is awaited on its own (a waiting request that was sent would hang here).
    const pending = [policy.generate([req('a')]), policy.generate([req('b')]), policy.generate([req('c')])];
    await first;
    await policy.close();
    for (const p of pending) await assert.rejects(p, /closed/);
    assert.equal(got, 1);
  } finally {
    await closeServer(silent);
  }
});

/** Wraps a policy to count generate calls and the most that ran at once. */
function counting(inner: Policy) {
  const c = { calls: 0, active: 0, maxActive: 0 };
  const policy: Policy = {
    async generate(requests) {
      c.calls++;
      c.active++;
      c.maxActive = Math.max(c.maxActive, c.active);
      try {
        return await inner.generate(requests);
      } finally {
        c.active--;
      }
    },
    close: async () => {},
  };
  return { policy, c };
}

test('two endpoints share the load, each within its concurrency limit', async () => {
  const a = counting(model);
  const b = counting(model);
  const sa = await serve(a.policy);
  const sb = await serve(b.policy);
  const policy = createOpenAIPolicy({ baseUrls: [sa.url, sb.url], model: 'tiny', concurrency: 1, ...fast });
  try {
    const reqs = Array.from({ length: 8 }, (_, i) => req(`p${i}`, { seed: i, maxTokens: 4 }));
    const [http, direct] = await Promise.all([policy.generate(reqs), model.generate(reqs)]);
    assertSameCompletions(http, direct);
    assert.ok(a.c.calls >= 2 && b.c.calls >= 2, `calls ${a.c.calls} + ${b.c.calls}`);
    assert.equal(a.c.calls + b.c.calls, 8);
    assert.equal(a.c.maxActive, 1);
    assert.equal(b.c.maxActive, 1);
    assert.deepEqual(
      policy.stats().map((s) => s.requests),
      [a.c.calls, b.c.calls],
    );
  } finally {
    await policy.close();
    await sa.handle.close();
    await sb.handle.close();
  }
});

test('with one endpoint down, the other serves every request', async () => {
  const port = await deadPort();
  const policy = createOpenAIPolicy({
    baseUrls: [`http://127.0.0.1:${port}/v1`, served.url],
    model: 'tiny',
    ...fast,
  });
  try {
    const reqs = Array.from({ length: 4 }, (_, i) => req(`q${i}`, { seed: i, maxTokens: 4 }));
    const out = await policy.generate(reqs);
    assert.equal(out.length, 4);
    assert.ok(out.every((cs) => cs.length === 1));
  } finally {
    await policy.close();
  }
});

test('base URLs: a bare origin gets /v1, anything else is kept; bad URLs are refused', () => {
  assert.equal(normalizeBaseUrl('http://h:8000'), 'http://h:8000/v1');
  assert.equal(normalizeBaseUrl('http://h:8000/v1/'), 'http://h:8000/v1');
  assert.equal(normalizeBaseUrl('https://h/api/v1'), 'https://h/api/v1');
  assert.throws(() => normalizeBaseUrl('h:8000x'), /not a URL|http or https/);
  assert.throws(() => createOpenAIPolicy({ baseUrls: [], model: 'm' }), /at least one base URL/);
});

test('the API key comes from the named environment variable', async () => {
  let auth: string | undefined;
  const s = createHttpServer((req, res) => {
    auth = req.headers.authorization;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ index: 0, text: 'ok', finish_reason: 'stop' }] }));
  });
  const url = await listen(s);
  const policy = createOpenAIPolicy({
    baseUrls: [url],
    model: 'm',
    apiKeyEnv: 'MY_KEY',
    env: { MY_KEY: 'sk-test' },
  });
  try {
    const [[c]] = (await policy.generate([req('a')])) as [[Completion]];
    assert.equal(c.text, 'ok');
    assert.equal(c.logprobs, undefined);
    assert.equal(auth, 'Bearer sk-test');
  } finally {
    await policy.close();
    await closeServer(s);
  }
});

test('a refused API key fails at once, naming the endpoint and the variable the key comes from', async () => {
  // azr serve takes no API key, so a server that wants one is stood in for here.
  const s = createHttpServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }),
    );
  });
  const url = await listen(s);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'm', apiKeyEnv: 'MY_KEY', env: {}, ...fast });
  try {
    await assert.rejects(policy.generate([req('a')]), (e: Error) => {
      assert.equal(
        e.message,
        `${url}/completions answered 401: Incorrect API key provided (the API key is read from the environment variable MY_KEY, which is not set)`,
      );
      return true;
    });
    assert.equal(policy.stats()[0]?.requests, 1);
  } finally {
    await policy.close();
    await closeServer(s);
  }
});

test('a server that ignores n is asked again for the missing samples', async () => {
  const seeds: unknown[] = [];
  const s = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { seed: number };
      seeds.push(body.seed);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, text: `s${body.seed}`, finish_reason: 'length' }] }));
    });
  });
  const url = await listen(s);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'm' });
  try {
    const [cs] = (await policy.generate([req('a', { n: 3, seed: 10 })])) as [Completion[]];
    assert.equal(cs.length, 3);
    assert.equal(new Set(cs.map((c) => c.text)).size, 3);
    assert.equal(seeds.length, 3);
    assert.ok(cs.every((c) => c.finishReason === 'length'));
  } finally {
    await policy.close();
    await closeServer(s);
  }
});

/** A reference-style solver request: the constraint a server with a grammar turns into the answer grammar. */
const referenceReq = (prompt: string, extra: Partial<GenerateRequest> = {}): GenerateRequest =>
  req(prompt, {
    maxTokens: 16,
    constraint: {
      style: 'reference',
      type: 'deduction',
      role: 'solver',
      lang: 'python',
      inductionInputs: 4,
      returnOnly: false,
      exprDepth: 2,
      shortInputs: false,
      boolReturns: true,
    },
    ...extra,
  });

test('grammar on /v1/completions: the reasoning free within its share of the budget, then the answer under the grammar', async () => {
  const bodies: Record<string, unknown>[] = [];
  const proxy = grammarServer(served.url, bodies);
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', grammar: 'gbnf', thinkShare: 0.25 });
  try {
    const [cs] = (await policy.generate([referenceReq('Assistant: <think>', { n: 2 })])) as [Completion[]];
    assert.equal(cs.length, 2);
    const [first, ...answers] = bodies as [Record<string, unknown>, ...Record<string, unknown>[]];
    // 1. The reasoning: no grammar, a quarter of the budget, stopped at </think>.
    assert.equal(first.grammar, undefined);
    assert.equal(first.max_tokens, 4);
    assert.deepEqual(first.stop, ['</think>']);
    // 2. One answer per reasoning, continuing after it with the rest of the budget, under the grammar that
    // starts after </think>, in llama.cpp's field and vLLM's.
    assert.equal(answers.length, 2);
    const g = answerGrammar({
      type: 'deduction',
      role: 'solver',
      lang: 'python',
      inductionInputs: 4,
      startsAt: 'answer',
    });
    for (const [i, b] of answers.entries()) {
      assert.equal(b.grammar, g);
      assert.deepEqual(b.structured_outputs, { grammar: g });
      assert.equal(b.max_tokens, 12);
      assert.equal(b.n, 1);
      const think = (cs[i] as Completion).text.split('</think>')[0] as string;
      assert.equal(b.prompt, `Assistant: <think>${think}</think>`);
      assert.ok((cs[i] as Completion).text.startsWith(`${think}</think>`));
    }
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test('grammar on /v1/chat/completions: one request, the grammar starting at the turn’s own <think>', async () => {
  const bodies: Record<string, unknown>[] = [];
  const proxy = grammarServer(served.url, bodies);
  const url = await listen(proxy.server);
  const policy = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', api: 'chat', grammar: 'auto' });
  try {
    await policy.generate([referenceReq('Frame.\n\nUser: What is f(1)?\n\nAssistant: <think>')]);
    assert.equal(bodies.length, 1);
    const g = answerGrammar({
      type: 'deduction',
      role: 'solver',
      lang: 'python',
      inductionInputs: 4,
      startsAt: 'think-tag',
    });
    assert.equal(bodies[0]?.grammar, g);
    // Compact-style requests and requests without a constraint never carry a grammar.
    bodies.length = 0;
    await policy.generate([
      req('x'),
      referenceReq('y', {
        constraint: {
          ...(referenceReq('y').constraint as NonNullable<GenerateRequest['constraint']>),
          style: 'compact',
        },
      }),
    ]);
    assert.ok(bodies.every((b) => b.grammar === undefined && b.structured_outputs === undefined));
  } finally {
    await policy.close();
    await closeServer(proxy.server);
  }
});

test("grammar 'auto': a server that refuses it is asked again without, once for all requests; 'gbnf' fails naming it", async () => {
  const refuse = (body: string): Failure | undefined =>
    'grammar' in (JSON.parse(body) as object)
      ? {
          status: 400,
          body: JSON.stringify({ error: { message: 'Unrecognized request argument supplied: grammar' } }),
        }
      : undefined;
  const proxy = gatedProxy(served.url, refuse);
  const url = await listen(proxy.server);
  const auto = createOpenAIPolicy({
    baseUrls: [url],
    model: 'tiny',
    concurrency: 1,
    retries: 0,
    grammar: 'auto',
  });
  try {
    const out = await auto.generate([referenceReq('a <think>'), referenceReq('b <think>', { seed: 4 })]);
    assert.ok(out.flat().every((c) => c.text.includes('</think>')));
    // Reasoning (a), answer refused, answer again (a); then b's reasoning and answer with no grammar.
    assert.deepEqual(proxy.seen, { total: 5, failed: 1, forwarded: 4 });
  } finally {
    await auto.close();
  }
  const strict = createOpenAIPolicy({ baseUrls: [url], model: 'tiny', retries: 0, grammar: 'gbnf' });
  try {
    await assert.rejects(
      strict.generate([referenceReq('a <think>')]),
      /answered 400: Unrecognized request argument supplied: grammar \(the server refused the answer grammar: use --grammar auto/,
    );
  } finally {
    await strict.close();
    await closeServer(proxy.server);
  }
});
