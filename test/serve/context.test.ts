// `azr serve` and the model's context, as vLLM behaves: prompt tokens + max_tokens over the context is a
// 400 naming the numbers (nothing is cut silently), a request exactly at the limit is served, a left-out
// max_tokens takes the room the prompt leaves, and `truncate_prompt_tokens` is the opt-in to keeping only
// the last K prompt tokens. Against the real server with the built-in tiny model (context 256).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sampleRows } from '../../src/model/sampler.js';
import { type BuiltinPolicy, promptTokens, sampleSeed } from '../../src/policy/builtin.js';
import { renderChat } from '../../src/serve/chat-template.js';
import { type Served, serve, tinyBuiltinPolicy } from './tiny-model.js';

const CONTEXT = 256;
let model: BuiltinPolicy;
let served: Served;

before(async () => {
  model = await tinyBuiltinPolicy(CONTEXT);
  served = await serve(model);
});
after(async () => {
  await served.handle.close();
  await model.close();
});

type Json = Record<string, unknown>;
type ApiError = { message: string; type: string; param: string | null; code: string | null };
type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

async function post(path: string, body: unknown): Promise<{ status: number; type: string; json: Json }> {
  const res = await fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    json: (await res.json()) as Json,
  };
}

/** A prompt of exactly `tokens` prompt tokens (BOS and one byte token per ASCII character). */
const promptOf = (tokens: number, fill = 'a') => fill.repeat(tokens - 1);

/** Chat messages whose rendered prompt has exactly `tokens` tokens. */
function messagesOf(tokens: number): { role: 'user'; content: string }[] {
  const frame = promptTokens(renderChat([{ role: 'user', content: '' }])).length;
  const messages = [{ role: 'user' as const, content: 'b'.repeat(tokens - frame) }];
  assert.equal(promptTokens(renderChat(messages)).length, tokens);
  return messages;
}

function assertOverContext(
  r: { status: number; json: Json },
  param: 'prompt' | 'messages',
  prompt: number,
  completion: number,
): void {
  assert.equal(r.status, 400, JSON.stringify(r.json));
  const err = r.json.error as ApiError;
  assert.equal(
    err.message,
    `This model's maximum context length is ${CONTEXT} tokens. However, you requested ${prompt + completion} ` +
      `tokens (${prompt} in the ${param}, ${completion} in the completion). Please reduce the length of the ` +
      `${param} or completion.`,
  );
  assert.equal(err.type, 'invalid_request_error');
  assert.equal(err.param, param);
  assert.equal(err.code, 'context_length_exceeded');
}

test('GET /v1/models gives the context length as max_model_len, as vLLM does', async () => {
  const body = (await (await fetch(`${served.url}/models`)).json()) as { data: { max_model_len: number }[] };
  assert.equal(body.data[0]?.max_model_len, CONTEXT);
});

test('completions: prompt + max_tokens over the context is a 400 naming the context, the total and both parts', async () => {
  assertOverContext(
    await post('/completions', { model: 'tiny', prompt: promptOf(250), max_tokens: 10 }),
    'prompt',
    250,
    10,
  );
  // One token over.
  assertOverContext(
    await post('/completions', { model: 'tiny', prompt: promptOf(200), max_tokens: 57 }),
    'prompt',
    200,
    57,
  );
  // Streaming too: refused before any event is sent, with the same JSON error.
  const streamed = await post('/completions', {
    model: 'tiny',
    prompt: promptOf(250),
    max_tokens: 10,
    stream: true,
  });
  assert.match(streamed.type, /application\/json/);
  assertOverContext(streamed, 'prompt', 250, 10);
  // In a list of prompts, one that does not fit refuses the request.
  assertOverContext(
    await post('/completions', { model: 'tiny', prompt: ['short', promptOf(250)], max_tokens: 10 }),
    'prompt',
    250,
    10,
  );
});

test('chat: messages + max_tokens (or max_completion_tokens) over the context is a 400 with the numbers', async () => {
  assertOverContext(
    await post('/chat/completions', { model: 'tiny', messages: messagesOf(240), max_tokens: 20 }),
    'messages',
    240,
    20,
  );
  assertOverContext(
    await post('/chat/completions', {
      model: 'tiny',
      messages: messagesOf(200),
      max_completion_tokens: 57,
      stream: true,
    }),
    'messages',
    200,
    57,
  );
});

test('a prompt that leaves no room for the completion is a 400 even without max_tokens', async () => {
  for (const tokens of [CONTEXT, CONTEXT + 44]) {
    const r = await post('/completions', { model: 'tiny', prompt: promptOf(tokens) });
    assert.equal(r.status, 400);
    const err = r.json.error as ApiError;
    assert.equal(
      err.message,
      `This model's maximum context length is ${CONTEXT} tokens. However, your request has ${tokens} tokens ` +
        'in the prompt, which leaves no room for the completion. Please reduce the length of the prompt.',
    );
    assert.equal(err.code, 'context_length_exceeded');
  }
  const chat = await post('/chat/completions', { model: 'tiny', messages: messagesOf(300) });
  assert.equal(chat.status, 400);
  assert.match((chat.json.error as ApiError).message, /your request has 300 tokens in the messages/);
});

test('a request exactly at the limit is served, with honest usage', async () => {
  const c = await post('/completions', {
    model: 'tiny',
    prompt: promptOf(200),
    max_tokens: 56,
    seed: 1,
    temperature: 0,
  });
  assert.equal(c.status, 200, JSON.stringify(c.json));
  const cu = c.json.usage as Usage;
  assert.equal(cu.prompt_tokens, 200);
  assert.ok(cu.completion_tokens >= 1 && cu.completion_tokens <= 56);
  const chat = await post('/chat/completions', {
    model: 'tiny',
    messages: messagesOf(250),
    max_tokens: 6,
    seed: 1,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  assert.equal((chat.json.usage as Usage).prompt_tokens, 250);
});

test('without max_tokens a request gets its default or the room the prompt leaves, whichever is less', async () => {
  // Completions default to 16 tokens; 251 prompt tokens leave 5.
  const c = await post('/completions', { model: 'tiny', prompt: promptOf(251), seed: 2, temperature: 0 });
  assert.equal(c.status, 200, JSON.stringify(c.json));
  const cu = c.json.usage as Usage;
  assert.equal(cu.prompt_tokens, 251);
  assert.ok(cu.completion_tokens >= 1 && cu.completion_tokens <= 5, JSON.stringify(cu));
  // Chat defaults to 256 tokens; 246 prompt tokens leave 10 (null is the same as left out).
  const chat = await post('/chat/completions', {
    model: 'tiny',
    messages: messagesOf(246),
    max_tokens: null,
    seed: 2,
    temperature: 0,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  const u = chat.json.usage as Usage;
  assert.equal(u.prompt_tokens, 246);
  assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 10, JSON.stringify(u));
});

test('truncate_prompt_tokens keeps the last K prompt tokens: the model sees exactly those, and usage counts them', async () => {
  const prompt = `${'x'.repeat(400)}${'0123456789'.repeat(20)}`;
  const all = promptTokens(prompt);
  assert.equal(all.length, 601);
  const r = await post('/completions', {
    model: 'tiny',
    prompt,
    max_tokens: 8,
    n: 2,
    seed: 9,
    truncate_prompt_tokens: 100,
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal((r.json.usage as Usage).prompt_tokens, 100);
  // What the sampler writes after exactly the last 100 tokens (no BOS: vLLM cuts it too), same seeds.
  const want = await sampleRows(
    model.engine,
    [0, 1].map((i) => ({
      prompt: all.slice(-100),
      maxTokens: 8,
      temperature: 1,
      topP: 1,
      seed: sampleSeed(9, i),
    })),
  );
  assert.deepEqual(
    (r.json.choices as { text: string }[]).map((c) => c.text),
    want.map((s) => s.text),
  );
  assert.ok(want.every((s) => s.truncatedPrompt === 0));

  // A K longer than the prompt changes nothing.
  const short = await post('/completions', {
    model: 'tiny',
    prompt: 'abc',
    max_tokens: 4,
    seed: 3,
    truncate_prompt_tokens: 200,
  });
  const plain = await post('/completions', { model: 'tiny', prompt: 'abc', max_tokens: 4, seed: 3 });
  assert.equal(short.status, 200);
  assert.deepEqual(short.json.choices, plain.json.choices);
  assert.equal((short.json.usage as Usage).prompt_tokens, 4);

  // Chat: the rendered conversation is cut the same way.
  const chat = await post('/chat/completions', {
    model: 'tiny',
    messages: messagesOf(400),
    max_tokens: 6,
    seed: 4,
    truncate_prompt_tokens: 250,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  assert.equal((chat.json.usage as Usage).prompt_tokens, 250);

  // The kept tokens and max_tokens must still fit together.
  assertOverContext(
    await post('/completions', { model: 'tiny', prompt, max_tokens: 10, truncate_prompt_tokens: 250 }),
    'prompt',
    250,
    10,
  );
});

test('bad truncate_prompt_tokens values are refused with 400 naming the field', async () => {
  const bad: [unknown, RegExp][] = [
    [0, /whole number >= 1/],
    [-1, /whole number >= 1/],
    [1.5, /whole number >= 1/],
    ['10', /expected number/],
    [
      CONTEXT + 1,
      /truncate_prompt_tokens \(257\) is greater than this model's maximum context length \(256 tokens\)/,
    ],
  ];
  for (const [value, message] of bad) {
    for (const [path, body] of [
      ['/completions', { prompt: 'abc' }],
      ['/chat/completions', { messages: [{ role: 'user', content: 'abc' }] }],
    ] as const) {
      const r = await post(path, { model: 'tiny', max_tokens: 4, ...body, truncate_prompt_tokens: value });
      assert.equal(r.status, 400, `${path} ${JSON.stringify(value)}`);
      const err = r.json.error as ApiError;
      assert.match(err.message, message);
      assert.equal(err.param, 'truncate_prompt_tokens');
      assert.equal(err.type, 'invalid_request_error');
    }
  }
});
