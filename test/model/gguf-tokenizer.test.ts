// Tokenizers built from GGUF metadata agree with Python. Two references, both recorded by
// python/tokenizer_fixture.py:
//   - the committed tiny vocabulary under each pre-tokenizer a GGUF may name, against the Rust `tokenizers`
//     library with that family's own tokenizer.json layout: the pieces the pre-tokenizer cuts, and the ids;
//   - the real models (SmolLM2-135M, Qwen2.5-Coder-0.5B; skipped when not pulled), against the tokenizer
//     transformers builds from the same GGUF (corrected as the script says): ids of code, unicode and
//     special tokens, and chat renders as text and as ids.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import type { GgufFile, GgufValue } from '../../src/model/gguf.js';
import { ggufTokenizerSpec } from '../../src/model/gguf-tokenizer.js';
import type { ChatMessage } from '../../src/model/text-tokenizer.js';
import { type RealModelName, realModel } from './real-models.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

interface TinyFixture {
  cases: { text: string; ids: number[] }[];
  preTokenizations: {
    pre: string;
    /** The family's tokenizer.json parts. */
    layout: { normalizer: unknown; pre_tokenizer: unknown; ignore_merges: boolean };
    pieces: string[][];
    ids: number[][];
  }[];
  /** Each id's bytes in hex, through transformers' byte-level alphabet. */
  tokenBytes: string[];
}
const tiny = readJson(join(fixtures, 'tiny-qwen3-tokenizer-ids.json')) as TinyFixture;

/** The committed tiny tokenizer as a GGUF's metadata would carry it (no tensors, no file). */
function tinyGguf(extra: Record<string, GgufValue> = {}): GgufFile {
  const dir = join(root, 'python', 'tiny-qwen3-tokenizer');
  const json = readJson(join(dir, 'tokenizer.json'));
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(json.model.vocab as Record<string, number>)) tokens[id] = t;
  const types = tokens.map(() => 1);
  for (const a of json.added_tokens as { id: number; content: string; special: boolean }[]) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4; // CONTROL : USER_DEFINED
  }
  const metadata = new Map<string, GgufValue>(
    Object.entries({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'qwen2',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.merges': (json.model.merges as [string, string][]).map((m) => m.join(' ')),
      'tokenizer.ggml.token_type': types,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.padding_token_id': 0,
      'tokenizer.chat_template': readJson(join(dir, 'tokenizer_config.json')).chat_template,
      ...extra,
    }),
  );
  return { path: 'tiny.gguf', version: 3, metadata, tensors: new Map() };
}

test('each pre-tokenizer a GGUF names is written as its family writes it, and cuts and encodes as Rust does', () => {
  assert.deepEqual(
    tiny.preTokenizations.map((p) => p.pre),
    ['gpt2', 'smollm', 'qwen2', 'llama-bpe'],
  );
  for (const { pre, layout, pieces, ids } of tiny.preTokenizations) {
    const file = tinyGguf({ 'tokenizer.ggml.pre': pre });
    const { json } = ggufTokenizerSpec(file);
    assert.deepEqual(
      {
        normalizer: json.normalizer,
        pre_tokenizer: json.pre_tokenizer,
        ignore_merges: json.model.ignore_merges,
      },
      layout,
    );
    const tok = BpeTokenizer.fromGguf(file);
    tiny.cases.forEach(({ text }, i) => {
      assert.deepEqual(tok.preTokenize(text), pieces[i], `${pre} pieces of ${JSON.stringify(text)}`);
      assert.deepEqual(tok.encode(text), ids[i], `${pre} ids of ${JSON.stringify(text)}`);
    });
  }
});

test("a Hugging Face folder with each family's layout encodes as Rust does", async () => {
  const src = join(root, 'python', 'tiny-qwen3-tokenizer');
  const dir = mkdtempSync(join(tmpdir(), 'azr-tokenizer-'));
  try {
    copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    for (const { pre, layout, pieces, ids } of tiny.preTokenizations) {
      const json = readJson(join(src, 'tokenizer.json'));
      json.normalizer = layout.normalizer;
      json.pre_tokenizer = layout.pre_tokenizer;
      json.model.ignore_merges = layout.ignore_merges;
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
      const tok = await BpeTokenizer.load(dir);
      tiny.cases.forEach(({ text }, i) => {
        assert.deepEqual(tok.preTokenize(text), pieces[i], `${pre} pieces of ${JSON.stringify(text)}`);
        assert.deepEqual(tok.encode(text), ids[i], `${pre} ids of ${JSON.stringify(text)}`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('from GGUF metadata, the tiny Qwen2-style tokenizer equals the one read from its folder, bytes of each id included', async () => {
  // As a pretrained checkpoint hands them over (its GGUF already read, or its folder).
  const fromGguf = await BpeTokenizer.fromSource({ kind: 'gguf', file: tinyGguf() });
  const fromFolder = await BpeTokenizer.fromSource({
    kind: 'hf-folder',
    dir: join(root, 'python', 'tiny-qwen3-tokenizer'),
  });
  for (const { text, ids } of tiny.cases) {
    assert.deepEqual(fromGguf.encode(text), ids);
    assert.deepEqual(fromFolder.encode(text), ids);
  }
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  for (const tok of [fromGguf, fromFolder]) {
    const bytes = Array.from({ length: tok.vocabSize }, (_, id) => hex(tok.tokenBytes(id)));
    assert.deepEqual(bytes, tiny.tokenBytes);
  }
  assert.deepEqual([...fromGguf.specialTokens], [...fromFolder.specialTokens]);
  // A USER_DEFINED token is matched in text but is not special: skip-special decoding keeps it.
  assert.equal(
    fromGguf.decode(fromGguf.encode('<|im_end|>x</answer>'), { skipSpecialTokens: true }),
    'x</answer>',
  );
  const messages = [{ role: 'user', content: 'hi' }];
  assert.equal(fromGguf.applyChatTemplate(messages), fromFolder.applyChatTemplate(messages));
});

test("GGUF's add_bos_token and add_eos_token put BOS and EOS around the text when asked", () => {
  const tok = BpeTokenizer.fromGguf(
    tinyGguf({
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.add_bos_token': true,
      'tokenizer.ggml.add_eos_token': true,
    }),
  );
  const plain = tok.encode('def f');
  assert.deepEqual(tok.encode('def f', { addSpecialTokens: true }), [1, ...plain, 2]);
  assert.deepEqual(BpeTokenizer.fromGguf(tinyGguf()).encode('def f', { addSpecialTokens: true }), plain);
});

test('the ids that end a turn: EOS, end-of-turn ids the file names, and the special end-of-turn tokens', () => {
  assert.deepEqual(BpeTokenizer.fromGguf(tinyGguf()).stopIds, [0, 2]); // <|endoftext|>, <|im_end|>
  const withEot = BpeTokenizer.fromGguf(tinyGguf({ 'tokenizer.ggml.eot_token_id': 1 }));
  assert.deepEqual(withEot.stopIds, [0, 1, 2]);
});

test('unsupported tokenizers are refused with what the file says', () => {
  assert.throws(
    () => ggufTokenizerSpec(tinyGguf({ 'tokenizer.ggml.pre': 'deepseek-coder' })),
    /tiny\.gguf: tokenizer\.ggml\.pre 'deepseek-coder' is not supported; supported: gpt2, smollm, qwen2, llama-bpe/,
  );
  const noPre = tinyGguf();
  noPre.metadata.delete('tokenizer.ggml.pre');
  assert.throws(() => ggufTokenizerSpec(noPre), /tokenizer\.ggml\.pre is missing/);
  assert.throws(
    () => ggufTokenizerSpec(tinyGguf({ 'tokenizer.ggml.model': 'llama' })),
    /tokenizer\.ggml\.model 'llama' is not supported; byte-level BPE \('gpt2'\) is/,
  );
  assert.throws(
    () => ggufTokenizerSpec(tinyGguf({ 'tokenizer.ggml.eos_token_id': 5000 })),
    /tokenizer\.ggml\.eos_token_id = 5000 is not a token id below 1025/,
  );
});

interface ModelFixture {
  gguf: { bytes: number; sha256: string; pre: string; vocabSize: number };
  cases: { text: string; ids: number[] }[];
  chats: { messages: ChatMessage[]; addGenerationPrompt: boolean; text: string; ids: number[] }[];
}

const utf8 = new TextEncoder();

function realModelTests(name: RealModelName, eot: { eos: string; stops: string[] }): void {
  const model = realModel(name);
  const fixture = readJson(join(fixtures, `tokenizer-${name}.json`)) as ModelFixture;
  let built: Promise<BpeTokenizer> | undefined;
  const tokenizer = () => {
    // The fixture was recorded from one file; another one under the same name would fail obscurely.
    assert.equal(
      statSync(model.path()).size,
      fixture.gguf.bytes,
      `${model.path()} is not the recorded ${name}`,
    );
    built ??= BpeTokenizer.open(model.path());
    return built;
  };
  // Qwen2 normalizes to NFC before splitting, so its ids decode to the NFC form of the text.
  const decoded = (text: string) => (fixture.gguf.pre === 'qwen2' ? text.normalize('NFC') : text);

  test(`${name}: ids as transformers gives them for code, unicode and special tokens`, {
    skip: model.skip,
  }, async () => {
    const tok = await tokenizer();
    assert.equal(tok.vocabSize, fixture.gguf.vocabSize);
    for (const c of fixture.cases) assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
  });

  test(`${name}: decoding, all at once or id by id, gives the text back`, { skip: model.skip }, async () => {
    const tok = await tokenizer();
    for (const c of fixture.cases) {
      const text = decoded(c.text);
      assert.equal(tok.decode(c.ids), text);
      const bytes = c.ids.flatMap((id) => [...tok.tokenBytes(id)]);
      assert.deepEqual(bytes, [...utf8.encode(text)], `bytes of ${JSON.stringify(c.text)}`);
      const stream = tok.streamDecoder();
      const pieces = c.ids.map((id) => stream.push(id));
      pieces.push(stream.flush());
      // A piece that ended inside a character would hold U+FFFD, which the text does not.
      assert.equal(pieces.join(''), text);
    }
  });

  test(`${name}: chat template renders as apply_chat_template, as text and as ids`, {
    skip: model.skip,
  }, async () => {
    const tok = await tokenizer();
    assert.ok(tok.hasChatTemplate);
    for (const c of fixture.chats) {
      const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.addGenerationPrompt });
      assert.equal(text, c.text);
      assert.deepEqual(tok.encode(text), c.ids);
    }
  });

  test(`${name}: special tokens, and the ids that end a turn`, { skip: model.skip }, async () => {
    const tok = await tokenizer();
    assert.equal(tok.eosToken, eot.eos);
    const ids = (names: string[]) => names.map((t) => tok.tokenId(t) as number).sort((a, b) => a - b);
    assert.deepEqual(tok.stopIds, ids(eot.stops));
    for (const [id, text] of tok.specialTokens) {
      assert.deepEqual(tok.encode(text), [id]);
      assert.deepEqual(tok.tokenBytes(id), utf8.encode(text));
    }
    const turn = tok.encode('<|im_start|>user\nhi<|im_end|>\n');
    assert.equal(tok.decode(turn, { skipSpecialTokens: true }), 'user\nhi\n');
  });
}

realModelTests('smollm2-135m', { eos: '<|im_end|>', stops: ['<|endoftext|>', '<|im_end|>'] });
realModelTests('qwen2.5-coder-0.5b', { eos: '<|im_end|>', stops: ['<|endoftext|>', '<|im_end|>'] });
