// `azr serve`'s HTTP API with raw requests against the real server (the built-in tiny model, random
// weights): routes, validation errors in the OpenAI shape, streaming, prompt lists, log-probs, batching.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encode } from '../../src/model/tokenizer.js';
import type { BuiltinPolicy } from '../../src/policy/builtin.js';
import { promptTokens } from '../../src/policy/builtin.js';
import type { GenerateRequest, Policy } from '../../src/policy/types.js';
import { renderChat } from '../../src/serve/chat-template.js';
import { type Served, serve, tinyBuiltinPolicy } from './tiny-model.js';

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

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

type Choice = {
  index: number;
  text: string;
  finish_reason: string;
  logprobs: null | Record<string, unknown>;
};

const direct = (prompt: string, extra: Partial<GenerateRequest>) =>
  model.generate([{ prompt, n: 1, temperature: 1, topP: 1, maxTokens: 16, seed: 1, ...extra }]);

test('GET /v1/models lists the served model; /health answers', async () => {
  const res = await fetch(`${served.url}/models`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { object: string; data: { id: string; object: string }[] };
  assert.equal(body.object, 'list');
  assert.deepEqual(
    body.data.map((m) => [m.id, m.object]),
    [['tiny', 'model']],
  );
  const health = await fetch(`${served.url.replace(/\/v1$/, '')}/health`);
  assert.equal(health.status, 200);
});

test('invalid requests get 400 with an OpenAI-style error naming the field', async () => {
  const cases: [unknown, RegExp, string | null][] = [
    ['{not json', /not JSON/, null],
    [{ model: 'tiny' }, /prompt/, 'prompt'],
    [{ model: 'tiny', prompt: 'a', n: 0 }, /n:/, 'n'],
    [{ model: 'tiny', prompt: 'a', temperature: 3 }, /temperature/, 'temperature'],
    [{ model: 'tiny', prompt: 'a', top_p: 0 }, /top_p/, 'top_p'],
    [{ model: 'tiny', prompt: 'a', max_tokens: 1.5 }, /max_tokens/, 'max_tokens'],
    [{ model: 'tiny', prompt: 'a', stop: 7 }, /stop/, 'stop'],
    [{ model: 'tiny', prompt: 'a', presence_penalty: 1 }, /presence_penalty/, 'presence_penalty'],
    [{ model: 'tiny', prompt: 'a', n: 2, best_of: 3 }, /best_of/, 'best_of'],
    [{ model: 'tiny', prompt: 'a', top_k: 5 }, /^Unrecognized request argument supplied: top_k$/, 'top_k'],
    [{ model: 'tiny', prompt: 'a', logit_bias: { '5': 100 } }, /logit_bias/, 'logit_bias'],
    [{ model: 'tiny', prompt: 'a', suffix: 'x' }, /suffix/, 'suffix'],
    [
      { model: 'tiny', prompt: [] },
      /^prompt: must be a string, a list of strings, a list of token ids/,
      'prompt',
    ],
    [{ model: 'tiny', prompt: ['a', 1] }, /^prompt: must be/, 'prompt'],
    [{ model: 'tiny', prompt: [[1, 2], []] }, /^prompt\.1: /, 'prompt.1'],
    [
      { model: 'tiny', prompt: [1, model.vocabSize] },
      new RegExp(`^prompt\\.1: token id ${model.vocabSize} is not in the model's vocabulary`),
      'prompt.1',
    ],
  ];
  for (const [body, message, param] of cases) {
    const r = await post('/completions', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    const err = r.json.error as { message: string; type: string; param: string | null };
    assert.match(err.message, message);
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.param, param);
  }
  const chat = await post('/chat/completions', {
    model: 'tiny',
    messages: [{ role: 'robot', content: 'x' }],
  });
  assert.equal(chat.status, 400);
  assert.equal((chat.json.error as { param: string }).param, 'messages.0.role');
  const unknown = await post('/chat/completions', {
    model: 'tiny',
    messages: [{ role: 'user', content: 'x' }],
    tools: [{ type: 'function', function: { name: 'g' } }],
  });
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.json.error, {
    message: 'Unrecognized request argument supplied: tools',
    type: 'invalid_request_error',
    param: 'tools',
    code: null,
  });
});

test('null fields mean their defaults, and unimplemented fields at their neutral value are accepted', async () => {
  const messages = [{ role: 'user', content: 'defaults' }];
  const plain = await post('/chat/completions', { model: 'tiny', messages, max_tokens: 8, seed: 6 });
  const nulls = await post('/chat/completions', {
    model: 'tiny',
    messages,
    max_tokens: 8,
    seed: 6,
    n: null,
    temperature: null,
    top_p: null,
    stop: null,
    stream: null,
    logprobs: null,
    max_completion_tokens: null,
    presence_penalty: 0,
    frequency_penalty: null,
    logit_bias: {},
    response_format: { type: 'text' },
  });
  assert.equal(nulls.status, 200, JSON.stringify(nulls.json));
  const text = (r: typeof plain) =>
    (r.json.choices as { message: { content: string } }[])[0]?.message.content;
  assert.equal(text(nulls), text(plain));
  const c = await post('/completions', {
    model: 'tiny',
    prompt: 'ab',
    seed: 6,
    max_tokens: null,
    suffix: null,
    echo: false,
    best_of: null,
  });
  assert.equal(c.status, 200, JSON.stringify(c.json));
  // max_tokens null is the API's default of 16.
  assert.equal((c.json.usage as { completion_tokens: number }).completion_tokens, 16);
});

test('stop as a string is the same as a one-element list', async () => {
  const base = { model: 'tiny', prompt: 'x = ', max_tokens: 16, seed: 11 };
  const free = ((await post('/completions', base)).json.choices as Choice[])[0]?.text ?? '';
  const at = [...free].findIndex((ch, i) => i >= 2 && /[!-~]/.test(ch));
  assert.ok(at > 0, `a printable character to stop at in ${JSON.stringify(free)}`);
  const stop = [...free][at] as string;
  const asString = (await post('/completions', { ...base, stop })).json.choices as Choice[];
  const asList = (await post('/completions', { ...base, stop: [stop] })).json.choices as Choice[];
  assert.equal(asString[0]?.text, free.slice(0, free.indexOf(stop)));
  assert.equal(asString[0]?.finish_reason, 'stop');
  assert.deepEqual(asString, asList);
});

test('an unknown model is 404 model_not_found; unknown routes are 404, wrong methods 405', async () => {
  const r = await post('/completions', { model: 'other', prompt: 'a' });
  assert.equal(r.status, 404);
  assert.equal((r.json.error as { code: string }).code, 'model_not_found');
  assert.equal((await post('/nothing', {})).status, 404);
  assert.equal((await fetch(`${served.url}/completions`)).status, 405);
});

test('completions: a list of prompts with n gives prompts x n choices, indexed in order, with usage', async () => {
  const r = await post('/completions', { model: 'tiny', prompt: ['ab', 'cd'], n: 2, max_tokens: 5, seed: 4 });
  assert.equal(r.status, 200);
  const choices = r.json.choices as Choice[];
  assert.deepEqual(
    choices.map((c) => c.index),
    [0, 1, 2, 3],
  );
  const want = await model.generate(
    ['ab', 'cd'].map((prompt) => ({ prompt, n: 2, temperature: 1, topP: 1, maxTokens: 5, seed: 4 })),
  );
  assert.deepEqual(
    choices.map((c) => c.text),
    want.flat().map((c) => c.text),
  );
  const usage = r.json.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  assert.equal(usage.prompt_tokens, promptTokens('ab').length + promptTokens('cd').length);
  assert.equal(
    usage.completion_tokens,
    want.flat().reduce((s, c) => s + (c.tokenIds?.length ?? 0), 0),
  );
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
});

test('completions logprobs: one per sampled token, with the token texts and offsets', async () => {
  const r = await post('/completions', { model: 'tiny', prompt: 'xy', max_tokens: 6, seed: 2, logprobs: 0 });
  const [c] = r.json.choices as Choice[];
  const lp = c?.logprobs as { tokens: string[]; token_logprobs: number[]; text_offset: number[] };
  const d = (await direct('xy', { maxTokens: 6, seed: 2 }))[0]?.[0];
  assert.ok(d?.logprobs && d.tokenIds);
  assert.deepEqual(lp.token_logprobs, d.logprobs);
  assert.equal(lp.tokens.length, d.tokenIds.length);
  assert.equal(lp.text_offset[0], 0);
  const without = await post('/completions', { model: 'tiny', prompt: 'xy', max_tokens: 6, seed: 2 });
  assert.equal((without.json.choices as Choice[])[0]?.logprobs, null);
});

test('top logprobs: the k most likely tokens at each position, as the policy reports them', async () => {
  const d = (await direct('xy', { maxTokens: 6, seed: 2, topLogprobs: 3 }))[0]?.[0];
  assert.ok(d?.topLogprobs && d.tokenIds);
  assert.equal(d.topLogprobs.length, d.tokenIds.length);
  // Completions: per position an object from token text to log-probability, most likely first.
  const r = await post('/completions', { model: 'tiny', prompt: 'xy', max_tokens: 6, seed: 2, logprobs: 3 });
  const lp = (r.json.choices as Choice[])[0]?.logprobs as { top_logprobs: Record<string, number>[] };
  assert.equal(lp.top_logprobs.length, d.tokenIds.length);
  lp.top_logprobs.forEach((at, k) => {
    const want = d.topLogprobs?.[k] ?? [];
    assert.equal(want.length, 3);
    assert.deepEqual(
      Object.values(at),
      want.map((t) => t.logprob),
    ); // three distinct token names
  });
  // Chat: top_logprobs entries with token, logprob and bytes, only when logprobs is true.
  const messages = [{ role: 'user', content: 'xy' }];
  const chat = await post('/chat/completions', {
    model: 'tiny',
    messages,
    max_tokens: 5,
    seed: 4,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.json));
  const content = (
    chat.json.choices as {
      logprobs: { content: { logprob: number; top_logprobs: { logprob: number; bytes: number[] }[] }[] };
    }[]
  )[0]?.logprobs.content;
  const want = (
    await direct(renderChat(messages as never), { maxTokens: 5, seed: 4, topLogprobs: 2 })
  )[0]?.[0];
  assert.ok(content && want?.topLogprobs);
  assert.deepEqual(
    content.map((e) => e.top_logprobs.map((t) => t.logprob)),
    want.topLogprobs.map((at) => at.map((t) => t.logprob)),
  );
  for (const e of content) {
    assert.equal(e.top_logprobs.length, 2);
    assert.ok(
      (e.top_logprobs[0]?.logprob ?? 0) >= e.logprob - 1e-12,
      'the first alternative is the most likely',
    );
  }
  const refused = await post('/chat/completions', { model: 'tiny', messages, top_logprobs: 2 });
  assert.equal(refused.status, 400);
  assert.equal((refused.json.error as { param: string }).param, 'top_logprobs');
});

test('logprobs name each token by its own bytes and offset it in characters of the text', async () => {
  // A scripted model behind the real server, so the completion holds a two-byte character: the byte-level
  // tokenizer makes 'é' two tokens, neither of them text on its own.
  const text = 'é=<answer>';
  const ids = encode(text);
  const scripted: Policy = {
    generate: async (rs) =>
      rs.map((r) =>
        Array.from({ length: r.n }, () => ({
          text,
          tokenIds: ids,
          logprobs: ids.map(() => -0.5),
          finishReason: 'stop' as const,
        })),
      ),
    close: async () => {},
  };
  const s = await serve(scripted, 'scripted');
  try {
    const ask = (path: string, body: object) =>
      fetch(`${s.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'scripted', ...body }),
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
    const c = ((await ask('/completions', { prompt: 'p', logprobs: 0 })).choices as Choice[])[0];
    assert.deepEqual(c?.logprobs, {
      tokens: ['bytes:\\xc3', 'bytes:\\xa9', '=', '<answer>'],
      token_logprobs: [-0.5, -0.5, -0.5, -0.5],
      top_logprobs: null,
      text_offset: [0, 0, 1, 2],
    });
    const chat = (
      await ask('/chat/completions', { messages: [{ role: 'user', content: 'p' }], logprobs: true })
    ).choices as { logprobs: { content: { token: string; bytes: number[] }[] } }[];
    const entries = chat[0]?.logprobs.content ?? [];
    assert.deepEqual(
      entries.map((e) => [e.token, e.bytes]),
      [
        ['bytes:\\xc3', [0xc3]],
        ['bytes:\\xa9', [0xa9]],
        ['=', [0x3d]],
        ['<answer>', [...Buffer.from('<answer>')]],
      ],
    );
    assert.equal(Buffer.from(entries.flatMap((e) => e.bytes)).toString('utf8'), text);
  } finally {
    await s.handle.close();
  }
});

test('token-id prompts meet the context as text does: refused when too long, or cut to the last k ids', async () => {
  const context = model.engine.config.contextLength;
  const ids = Array.from({ length: context - 4 }, (_, i) => 32 + (i % 90));
  const over = await post('/completions', { model: 'tiny', prompt: ids, max_tokens: 5 });
  assert.equal(over.status, 400);
  assert.equal((over.json.error as { code: string }).code, 'context_length_exceeded');
  assert.match(
    (over.json.error as { message: string }).message,
    new RegExp(`you requested ${context + 1} tokens \\(${context - 4} in the prompt, 5 in the completion\\)`),
  );
  const cut = await post('/completions', {
    model: 'tiny',
    prompt: ids,
    max_tokens: 5,
    truncate_prompt_tokens: 6,
    seed: 9,
    logprobs: 0,
  });
  assert.equal(cut.status, 200, JSON.stringify(cut.json));
  assert.equal((cut.json.usage as { prompt_tokens: number }).prompt_tokens, 6);
  const want = (
    await model.generate([
      { prompt: '', promptTokenIds: ids.slice(-6), n: 1, temperature: 1, topP: 1, maxTokens: 5, seed: 9 },
    ])
  )[0]?.[0];
  const [c] = cut.json.choices as Choice[];
  assert.ok(c?.logprobs && want);
  assert.equal(c.text, want.text);
  assert.deepEqual(c.logprobs.token_logprobs, want.logprobs);
});

test('a policy that takes only text refuses token-id prompts with a 400, and still answers text', async () => {
  const textOnly: Policy = {
    generate: async (rs) => rs.map((r) => [{ text: `echo ${r.prompt}`, finishReason: 'stop' as const }]),
    close: async () => {},
  };
  const s = await serve(textOnly, 'text-only');
  try {
    const ask = (prompt: unknown) =>
      fetch(`${s.url}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-only', prompt }),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));
    for (const prompt of [
      [1, 2],
      [[1], [2]],
    ]) {
      const r = await ask(prompt);
      assert.equal(r.status, 400);
      assert.deepEqual(r.json.error, {
        message: "This server's model takes text prompts only, not token ids",
        type: 'invalid_request_error',
        param: 'prompt',
        code: null,
      });
    }
    const text = await ask('hi');
    assert.equal(text.status, 200);
    assert.equal((text.json.choices as Choice[])[0]?.text, 'echo hi');
  } finally {
    await s.handle.close();
  }
});

test('chat: messages go through the chat template; logprobs as content entries', async () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hi' },
  ] as const;
  assert.equal(renderChat([...messages]), 'Be brief.\n\nUser: hi\n\nAssistant: <think>');
  assert.equal(
    renderChat([...messages, { role: 'assistant', content: 'Sure:' }]),
    'Be brief.\n\nUser: hi\n\nAssistant: Sure:',
  );
  const r = await post('/chat/completions', {
    model: 'tiny',
    messages,
    max_tokens: 8,
    seed: 5,
    n: 2,
    logprobs: true,
  });
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'chat.completion');
  const choices = r.json.choices as {
    message: { role: string; content: string };
    logprobs: { content: { logprob: number }[] };
  }[];
  const want = await model.generate([
    { prompt: renderChat([...messages]), n: 2, temperature: 1, topP: 1, maxTokens: 8, seed: 5 },
  ]);
  assert.deepEqual(
    choices.map((c) => c.message.content),
    want[0]?.map((c) => c.text),
  );
  assert.deepEqual(
    choices.map((c) => c.logprobs.content.map((t) => t.logprob)),
    want[0]?.map((c) => c.logprobs),
  );
  assert.ok(choices.every((c) => c.message.role === 'assistant'));
});

test('chat streaming: server-sent events whose pieces add up to the completion, then [DONE]', async () => {
  const body = { model: 'tiny', messages: [{ role: 'user', content: 'stream' }], max_tokens: 40, seed: 8 };
  const whole = await post('/chat/completions', body);
  const wantText = (whole.json.choices as { message: { content: string } }[])[0]?.message.content;
  const res = await fetch(`${served.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = (await res.text())
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map(
    (e) =>
      JSON.parse(e) as {
        object: string;
        choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
        usage?: unknown;
      },
  );
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.equal(text, wantText);
  const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f);
  assert.equal(finishes.length, 1);
  assert.ok(chunks.at(-1)?.usage, 'usage chunk last');
  assert.deepEqual(chunks.at(-1)?.choices, []);
  // Every other chunk carries usage: null, as OpenAI streams do with include_usage.
  assert.ok(chunks.slice(0, -1).every((c) => 'usage' in c && c.usage === null));
});

/** The JSON chunks of a server-sent event stream, checking it ends with [DONE]. */
async function events(res: Response): Promise<Record<string, unknown>[]> {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const data = (await res.text())
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
  assert.equal(data.at(-1), '[DONE]');
  return data.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>);
}

const stream = (path: string, body: unknown) =>
  fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

test('streaming with n > 1: each choice index reassembles to the non-streamed choice, with its finish reason and logprobs', async () => {
  const chatBody = {
    model: 'tiny',
    messages: [{ role: 'user', content: 'two' }],
    max_tokens: 20,
    seed: 12,
    n: 3,
    logprobs: true,
  };
  const whole = (await post('/chat/completions', chatBody)).json.choices as {
    index: number;
    message: { content: string };
    finish_reason: string;
    logprobs: { content: { logprob: number }[] };
  }[];
  const chunks = (await events(await stream('/chat/completions', { ...chatBody, stream: true }))) as {
    choices: {
      index: number;
      delta: { role?: string; content?: string };
      finish_reason: string | null;
      logprobs: { content: { logprob: number }[] } | null;
    }[];
  }[];
  for (const w of whole) {
    const mine = chunks.flatMap((c) => c.choices).filter((c) => c.index === w.index);
    assert.equal(mine.filter((c) => c.delta.role === 'assistant').length, 1, `role once for ${w.index}`);
    assert.equal(mine.map((c) => c.delta.content ?? '').join(''), w.message.content);
    const ends = mine.filter((c) => c.finish_reason !== null);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]?.finish_reason, w.finish_reason);
    const lps = mine.flatMap((c) => c.logprobs?.content ?? []).map((t) => t.logprob);
    assert.deepEqual(
      lps,
      w.logprobs.content.map((t) => t.logprob),
    );
  }
  assert.deepEqual([...new Set(chunks.flatMap((c) => c.choices.map((x) => x.index)))].sort(), [0, 1, 2]);

  const cBody = { model: 'tiny', prompt: ['p', 'q'], max_tokens: 10, seed: 13, n: 2, logprobs: 0 };
  const cWholeBody = (await post('/completions', cBody)).json;
  const cWhole = cWholeBody.choices as Choice[];
  const cAll = (await events(
    await stream('/completions', { ...cBody, stream: true, stream_options: { include_usage: true } }),
  )) as { object: string; choices: Choice[]; usage: unknown }[];
  assert.ok(cAll.every((c) => c.object === 'text_completion'));
  assert.deepEqual(cAll.at(-1)?.choices, []);
  assert.deepEqual(cAll.at(-1)?.usage, cWholeBody.usage);
  const cChunks = cAll.slice(0, -1);
  assert.ok(cChunks.every((c) => c.usage === null));
  assert.equal(cWhole.length, 4);
  for (const w of cWhole) {
    const mine = cChunks.flatMap((c) => c.choices).filter((c) => c.index === w.index);
    assert.equal(mine.map((c) => c.text).join(''), w.text);
    const ends = mine.filter((c) => c.finish_reason !== null);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]?.finish_reason, w.finish_reason);
    assert.deepEqual(ends[0]?.logprobs, w.logprobs);
  }
});

test('concurrent requests are batched into the model and answer as they would alone', async () => {
  const bodies = [1, 2, 3, 4].map((seed) => ({ model: 'tiny', prompt: `p${seed}`, max_tokens: 6, seed }));
  const together = await Promise.all(bodies.map((b) => post('/completions', b)));
  const alone: unknown[] = [];
  for (const b of bodies) alone.push(((await post('/completions', b)).json.choices as Choice[])[0]?.text);
  assert.deepEqual(
    together.map((r) => (r.json.choices as Choice[])[0]?.text),
    alone,
  );
});

test('without a seed, two identical requests sample differently', async () => {
  const body = { model: 'tiny', prompt: 'same', max_tokens: 12, temperature: 1 };
  const texts = new Set<string>();
  for (let i = 0; i < 3; i++)
    texts.add(((await post('/completions', body)).json.choices as Choice[])[0]?.text ?? '');
  assert.ok(texts.size > 1);
});
