// The OpenAI policy's command-line flags (shared by azr generate and azr eval --bench cruxeval): what
// they set, and readable refusals of missing or bad values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openAIFlagsGiven, openAIOptionsFromFlags } from '../../src/cli/http-flags.js';

test('flags set the policy options', () => {
  assert.deepEqual(
    openAIOptionsFromFlags({
      'base-url': ' http://a:8000/v1, http://b:8000 ,',
      model: 'qwen',
      chat: true,
      concurrency: '3',
      'timeout-ms': '5000',
      retries: '0',
      'api-key-env': 'VLLM_KEY',
      'no-logprobs': true,
      'truncate-prompt-tokens': '200',
      grammar: 'gbnf',
      'think-share': '0.25',
    }),
    {
      baseUrls: ['http://a:8000/v1', 'http://b:8000'],
      model: 'qwen',
      api: 'chat',
      concurrency: 3,
      timeoutMs: 5000,
      retries: 0,
      apiKeyEnv: 'VLLM_KEY',
      logprobs: false,
      truncatePromptTokens: 200,
      grammar: 'gbnf',
      thinkShare: 0.25,
    },
  );
  assert.deepEqual(openAIOptionsFromFlags({ 'base-url': 'http://a', model: 'm' }), {
    baseUrls: ['http://a'],
    model: 'm',
    api: 'completions',
    grammar: 'auto',
  });
});

test('missing or bad flags are refused with the flag named', () => {
  const ok = { 'base-url': 'http://a', model: 'm' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ model: 'm' }, /^give --base-url URL\[,URL\]$/],
    [{ 'base-url': ' , ', model: 'm' }, /^give --base-url/],
    [{ 'base-url': 'http://a' }, /^give --model NAME$/],
    [{ ...ok, model: ' ' }, /^give --model NAME$/],
    [{ ...ok, 'base-url': 'ftp://a' }, /^--base-url: base URL must be http or https: 'ftp:\/\/a'$/],
    [{ ...ok, 'base-url': 'http://a,localhost:8000' }, /^--base-url: .*'localhost:8000'/],
    [{ ...ok, 'base-url': 'nohost' }, /^--base-url: not a URL: 'nohost'$/],
    [{ ...ok, concurrency: '0' }, /^--concurrency takes a whole number >= 1, got '0'$/],
    [{ ...ok, 'timeout-ms': '1e3' }, /^--timeout-ms takes a whole number >= 1, got '1e3'$/],
    [{ ...ok, retries: '-1' }, /^--retries takes a whole number >= 0, got '-1'$/],
    [
      { ...ok, 'truncate-prompt-tokens': '0' },
      /^--truncate-prompt-tokens takes a whole number >= 1, got '0'$/,
    ],
    [{ ...ok, 'truncate-prompt-tokens': '-1' }, /^--truncate-prompt-tokens takes a whole number >= 1/],
    [{ ...ok, grammar: 'xgrammar' }, /^--grammar takes auto, gbnf or none, got 'xgrammar'$/],
    [{ ...ok, 'think-share': '1' }, /^--think-share takes a number between 0 and 1, got '1'$/],
  ];
  for (const [values, want] of cases)
    assert.throws(
      () => openAIOptionsFromFlags(values),
      (e: Error) => want.test(e.message),
      JSON.stringify(values),
    );
});

test('the flags given are listed, for commands that refuse them with another policy', () => {
  assert.deepEqual(openAIFlagsGiven({ model: 'm', chat: true, n: '2' }), ['--model', '--chat']);
  assert.deepEqual(openAIFlagsGiven({ n: '2' }), []);
});
