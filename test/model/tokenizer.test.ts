import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byteTokenizer, decode, encode, StreamDecoder, tokenText } from '../../src/model/tokenizer.js';
import { MIN_VOCAB, SPECIAL_ID, SPECIAL_TOKENS } from '../../src/model/vocab.js';

test('ASCII text is one id per byte', () => {
  assert.deepEqual(encode('def f(x):'), [100, 101, 102, 32, 102, 40, 120, 41, 58]);
  assert.equal(decode(encode('def f(x):\n\treturn x')), 'def f(x):\n\treturn x');
});

test('unicode round-trips through UTF-8 bytes', () => {
  const samples = ['é', 'naïve café', '日本語のテキスト', '😀 emoji 👩‍👩‍👧', 'mixed ß∑ ok', '\u0000nul', ''];
  for (const s of samples) {
    const ids = encode(s);
    assert.ok(
      ids.every((i) => i >= 0 && i < 256),
      s,
    );
    assert.equal(ids.length, new TextEncoder().encode(s).length);
    assert.equal(decode(ids), s);
  }
  assert.deepEqual(encode('é'), [0xc3, 0xa9]);
  assert.deepEqual(encode('😀'), [0xf0, 0x9f, 0x98, 0x80]);
});

test('special strings in text become their single ids and decode back', () => {
  for (const s of SPECIAL_TOKENS) {
    assert.deepEqual(encode(s), [SPECIAL_ID[s]]);
    assert.equal(decode([SPECIAL_ID[s]]), s);
  }
  const text = '<|bos|>Q: 1+1?<think>two</think><answer>2</answer><|eos|>';
  const ids = encode(text);
  assert.deepEqual(ids.slice(0, 1), [SPECIAL_ID['<|bos|>']]);
  assert.equal(ids.filter((i) => i >= 256).length, 6);
  assert.equal(decode(ids), text);
});

test('encode with specials off keeps special strings as bytes', () => {
  const ids = encode('<answer>', { specials: false });
  assert.equal(ids.length, 8);
  assert.ok(ids.every((i) => i < 256));
  assert.equal(decode(ids), '<answer>');
});

test('strings that only look like specials stay bytes', () => {
  for (const s of ['<answer', 'answer>', '<|bos|', '< answer>', '<ANSWER>', '<<answer>>', '</answer']) {
    const ids = encode(s);
    assert.equal(decode(ids), s);
  }
  assert.deepEqual(
    encode('<<answer>>'),
    [60, SPECIAL_ID['<answer>'], 62],
    'the special inside extra brackets is still found',
  );
  assert.ok(encode('<answer').every((i) => i < 256));
});

test('a special split across separately encoded pieces stays bytes; bytes spelling a special decode to it', () => {
  const ids = [...encode('<ans'), ...encode('wer>')];
  assert.ok(ids.every((i) => i < 256));
  assert.equal(decode(ids), '<answer>');
  // The text re-encodes to the single id: id sequences are not unique, text is.
  assert.deepEqual(encode(decode(ids)), [SPECIAL_ID['<answer>']]);
});

test('a multi-byte character split by a special decodes to replacement characters, never throws', () => {
  const euro = encode('€'); // 3 bytes
  const ids = [euro[0] as number, SPECIAL_ID['<think>'], euro[1] as number, euro[2] as number];
  assert.equal(decode(ids), '\uFFFD<think>\uFFFD\uFFFD');
  assert.equal(decode([0xff]), '\uFFFD');
});

test('the stream decoder yields text as soon as a character is whole', () => {
  const d = new StreamDecoder();
  const ids = encode('a€<answer>b');
  const pieces = ids.map((i) => d.push(i));
  assert.deepEqual(pieces, ['a', '', '', '€', '<answer>', 'b']);
  assert.equal(d.flush(), '');
  const d2 = new StreamDecoder();
  d2.push(0xe2);
  assert.equal(d2.flush(), '\uFFFD');
  // Unused vocabulary slots render as nothing.
  assert.equal(decode([104, 270, 105]), 'hi');
});

test('tokenText shows bytes and specials', () => {
  assert.equal(tokenText(65), 'A');
  assert.equal(tokenText(SPECIAL_ID['<|eos|>']), '<|eos|>');
  assert.equal(tokenText(300), '<300>');
});

test('a byte-order mark is text like any other character, at the start or after a special', () => {
  for (const s of ['\uFEFFx', '<answer>\uFEFF1</answer>', '\uFEFF']) {
    assert.equal(decode(encode(s)), s);
    const d = new StreamDecoder();
    let out = '';
    for (const id of encode(s)) out += d.push(id);
    assert.equal(out + d.flush(), s);
  }
});

test('behind the shared tokenizer interface: bytes of each id, stop ids, specials, no chat template', () => {
  assert.equal(byteTokenizer.vocabSize, MIN_VOCAB);
  assert.deepEqual(byteTokenizer.stopIds, [SPECIAL_ID['<|eos|>']]);
  assert.deepEqual([...byteTokenizer.specialTokens.values()], [...SPECIAL_TOKENS]);
  const text = '<think>é</think><answer>日本</answer>';
  const ids = byteTokenizer.encode(text);
  assert.deepEqual(ids, encode(text));
  const bytes = ids.flatMap((id) => [...byteTokenizer.tokenBytes(id)]);
  assert.equal(Buffer.from(bytes).toString('utf8'), text);
  assert.equal(byteTokenizer.decode(ids), text);
  assert.equal(byteTokenizer.decode(ids, { skipSpecialTokens: true }), 'é日本');
  assert.deepEqual([...byteTokenizer.tokenBytes(MIN_VOCAB)], []);
  assert.equal(byteTokenizer.hasChatTemplate, false);
  assert.throws(() => byteTokenizer.applyChatTemplate([]), /no chat template/);
});
