// The model's own tokenizer in TypeScript, on the tiny Qwen3-style tokenizer committed in python/: the
// ids must be Python's (`tokenizers`, recorded by python/tokenizer_fixture.py), decoding must give the
// text back, and the chat template must render as transformers renders it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = join(root, 'python', 'tiny-qwen3-tokenizer');
const fixture = JSON.parse(
  readFileSync(join(root, 'test', 'fixtures', 'tiny-qwen3-tokenizer-ids.json'), 'utf8'),
) as {
  cases: { text: string; ids: number[] }[];
  chat: { messages: { role: string; content: string }[]; text: string; ids: number[] };
};

test('encodes as Python tokenizers does, special tokens included', async () => {
  const tok = await BpeTokenizer.load(DIR);
  for (const c of fixture.cases) assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
});

test('decoding the ids gives the text back', async () => {
  const tok = await BpeTokenizer.load(DIR);
  // The tokenizer normalizes to NFC before it splits, so ids decode to the NFC form of the text.
  for (const c of fixture.cases) assert.equal(tok.decode(c.ids), c.text.normalize('NFC'));
  const code = 'for i in range(10):\n\tprint(i ** 2)  # squares\n';
  assert.equal(tok.decode(tok.encode(code)), code);
});

test('the chat template renders as transformers renders it', async () => {
  const tok = await BpeTokenizer.load(DIR);
  assert.ok(tok.hasChatTemplate);
  const text = tok.applyChatTemplate(fixture.chat.messages, { addGenerationPrompt: true });
  assert.equal(text, fixture.chat.text);
  assert.deepEqual(tok.encode(text), fixture.chat.ids);
});

test('special tokens: eos from the config, and skipped on request when decoding', async () => {
  const tok = await BpeTokenizer.load(DIR);
  assert.equal(tok.eosToken, '<|im_end|>');
  assert.equal(tok.eosTokenId, 2);
  const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'user\nhi');
});

test('a folder without tokenizer.json is refused with its path', async () => {
  await assert.rejects(BpeTokenizer.load(join(root, 'python')), /no tokenizer\.json in .*python/);
});
