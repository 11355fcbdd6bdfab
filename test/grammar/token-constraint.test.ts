import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnswerShape, answerTokenGrammar } from '../../src/grammar/answer-structure.js';
import { DEAD } from '../../src/grammar/byte-dfa.js';
import type {
  TokenGrammar,
  TokenGrammarMatcher,
  TokenVocabulary,
} from '../../src/grammar/token-constraint.js';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import { createModelEngine } from '../../src/model/engine.js';
import { NO_UPDATES } from '../../src/model/engine-types.js';
import { sampleToken } from '../../src/model/sampler.js';
import { parseProposal, parseSolution, type Role, type TaskType } from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';
import { realModel } from '../model/real-models.js';
import { DISTINCT_SHAPES, TEXT_BEFORE } from './answer-shapes.js';

const N = 3;
type Start = AnswerShape['startsAt'];
const shape = (type: TaskType, role: Role, startsAt: Start = 'think-text'): AnswerShape => ({
  type,
  role,
  lang: 'python',
  inductionInputs: N,
  startsAt,
});

/**
 * A small byte-level BPE vocabulary shaped like a real one: the 256 bytes, the format's words and pieces
 * of them, tokens that span two sections (`</think>\n<answer>`), whole and partial UTF-8 characters, code
 * and words, a stop token and another special token.
 */
function syntheticVocabulary(): TokenVocabulary {
  const rng = new Rng(11);
  const utf8 = new TextEncoder();
  const tokens: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  const words = [
    '<think>',
    '</think>',
    '<answer>',
    '</answer>',
    '</',
    '<',
    '>',
    'think',
    'answer',
    '```',
    '``',
    '`',
    '```python\n',
    '```input\n',
    '```message\n',
    '\n```',
    '\n```\n',
    '```\n```input\n',
    '</think>\n<answer>',
    '\n</answer>',
    'def',
    ' f',
    '(x',
    '):\n',
    '    return',
    ' x',
    ' +',
    ' 1',
    '\n',
    '\n\n',
    '  ',
    '    ',
    "'a'",
    '[1, 2]',
    ' <',
    ' </',
    'x</',
    'é',
    '世界',
    ' the',
    ' answer',
    'ing',
    '\t',
    ' \n',
    '\r\n',
  ];
  for (const w of words) tokens.push(utf8.encode(w));
  tokens.push(utf8.encode('世').subarray(0, 2), utf8.encode('世').subarray(2), Uint8Array.of(0xe0, 0xa0));
  const letters = 'abcdefghijklmnopqrstuvwxyz_ ()<>/`\n=+-,.:\'"[]';
  for (let i = 0; i < 400; i++) {
    const len = 2 + rng.int(6);
    tokens.push(utf8.encode(Array.from({ length: len }, () => letters[rng.int(letters.length)]).join('')));
  }
  const stop = tokens.length;
  const specials = new Map<number, string>([
    [stop, '<|im_end|>'],
    [stop + 1, '<|im_start|>'],
  ]);
  tokens.push(utf8.encode('<|im_end|>'), utf8.encode('<|im_start|>'));
  return {
    vocabSize: tokens.length,
    stopIds: [stop],
    specialTokens: specials,
    tokenBytes: (id) => tokens[id] as Uint8Array,
  };
}

/** Whether parse.ts reads the text as a well-formed answer of this shape. */
function parses(s: AnswerShape, text: string): { ok: boolean; reason?: string } {
  const t = TEXT_BEFORE[s.startsAt] + text;
  const r =
    s.role === 'proposer'
      ? parseProposal(s.type, s.lang, t, 'reference', N)
      : parseSolution(s.type, s.lang, t, 'reference');
  return r.ok ? { ok: true } : { ok: false, reason: r.reason };
}

/** The allowed set worked out token by token: walk each token's bytes, check the budget it leaves. */
function bruteForce(g: TokenGrammar, state: number, room: number): Uint8Array {
  const { vocab, dfa } = g;
  const out = new Uint8Array(vocab.vocabSize);
  for (let t = 0; t < vocab.vocabSize; t++) {
    if (vocab.specialTokens.has(t)) continue;
    const s = dfa.walk(state, vocab.tokenBytes(t));
    if (s !== DEAD && dfa.distance(s) + 1 <= room) out[t] = 1;
  }
  if (dfa.isComplete(state)) for (const id of vocab.stopIds) out[id] = 1;
  return out;
}

test('masks are exactly the tokens whose bytes the grammar takes within the budget, at every step', () => {
  const vocab = syntheticVocabulary();
  const rng = new Rng(3);
  const mask = new Uint8Array(vocab.vocabSize);
  for (const [type, role] of DISTINCT_SHAPES) {
    // A share of 1: no separate bound on the reasoning, so the budget alone decides.
    const g = answerTokenGrammar(vocab, shape(type, role), 1);
    for (let walk = 0; walk < 6; walk++) {
      const m = g.constraint('test').start();
      // Above the shortest answer (about 70 bytes: an induction proposal's message and two inputs).
      const budget = 80 + rng.int(80);
      for (let used = 0; used < budget; used++) {
        const state = (m as TokenGrammarMatcher).automatonState;
        m.allowedTokens(mask, budget - used);
        const want = bruteForce(g, state, budget - used);
        // The mask may fall back to the closest tokens only when none fits, which a budget that started
        // above the shortest answer never needs.
        assert.deepEqual(
          [...mask].flatMap((x, i) => (x ? [i] : [])),
          [...want].flatMap((x, i) => (x ? [i] : [])),
        );
        const allowed = [...mask].flatMap((x, i) => (x ? [i] : []));
        assert.ok(allowed.length > 0);
        const id = rng.pick(allowed);
        if (vocab.stopIds.includes(id)) break;
        assert.ok(m.accept(id));
      }
    }
  }
});

test('accept refuses what the mask refuses: special tokens, a stop before the end, bytes the grammar refuses', () => {
  const vocab = syntheticVocabulary();
  const g = answerTokenGrammar(vocab, shape('deduction', 'solver'));
  const m = g.constraint('test').start();
  const id = (text: string) => {
    for (let t = 0; t < vocab.vocabSize; t++)
      if (!vocab.specialTokens.has(t) && Buffer.from(vocab.tokenBytes(t)).toString() === text) return t;
    throw new Error(`no token ${JSON.stringify(text)}`);
  };
  const stop = vocab.stopIds[0] as number;
  assert.equal(m.accept(stop), false, 'no stop before the answer');
  assert.equal(m.accept(stop + 1), false, 'special tokens are not text');
  assert.ok(m.accept(id('</think>\n<answer>')));
  assert.equal(m.accept(id('\r\n')), false, 'a carriage return would be read as a line end');
  assert.ok(m.accept(id('[1, 2]')));
  assert.equal(m.isComplete(), false);
  assert.ok(m.accept(id('</answer>')));
  assert.ok(m.isComplete());
  const mask = new Uint8Array(vocab.vocabSize);
  m.allowedTokens(mask, 10);
  assert.deepEqual(
    [...mask].flatMap((x, i) => (x ? [i] : [])),
    [stop],
    'after </answer>, only the end of the turn',
  );
  assert.ok(m.accept(stop));
  m.allowedTokens(mask, 9);
  assert.equal(mask.indexOf(1), -1);
});

test('the reasoning is steered to </think> once it has used its share of the budget', () => {
  const vocab = syntheticVocabulary();
  const g = answerTokenGrammar(vocab, shape('deduction', 'proposer'), 0.25);
  const rng = new Rng(5);
  const mask = new Uint8Array(vocab.vocabSize);
  const closeAt: number[] = [];
  for (let walk = 0; walk < 10; walk++) {
    const m = g.constraint('test').start();
    const budget = 200;
    let text = '';
    for (let used = 0; used < budget; used++) {
      m.allowedTokens(mask, budget - used);
      // Never pick a byte of </think> unless forced: a model that would think forever.
      const allowed = [...mask].flatMap((x, i) => (x ? [i] : []));
      const free = allowed.filter((t) => !/[<>/]/.test(Buffer.from(vocab.tokenBytes(t)).toString('latin1')));
      const t = text.includes('</think>') || free.length === 0 ? rng.pick(allowed) : rng.pick(free);
      if (vocab.stopIds.includes(t)) break;
      assert.ok(m.accept(t));
      text += Buffer.from(vocab.tokenBytes(t)).toString('latin1');
      if (text.includes('</think>') && closeAt.length === walk) closeAt.push(used + 1);
    }
  }
  // 25% of 200 tokens: </think> is done by then (the steering starts when it is still reachable).
  assert.equal(closeAt.length, 10);
  for (const at of closeAt) assert.ok(at <= 50, `</think> closed after ${at} tokens`);
});

/** Samples under the grammar with `logits(tokens)` as the model; returns the text and the token count. */
async function sampleAnswers(
  vocab: TokenVocabulary,
  logitsOf: (prefix: readonly number[]) => Promise<Float32Array> | Float32Array,
  opts: { seed: number; budgets: number[]; perShape: number; starts?: Start[] },
): Promise<void> {
  const rng = new Rng(opts.seed);
  const mask = new Uint8Array(vocab.vocabSize);
  const decoder = new TextDecoder();
  for (const [type, role] of DISTINCT_SHAPES)
    for (const start of opts.starts ?? ['think-text'])
      for (const budget of opts.budgets)
        for (let k = 0; k < opts.perShape; k++) {
          const s = shape(type, role, start);
          const m = answerTokenGrammar(vocab, s).constraint('test').start();
          const tokens: number[] = [];
          let stopped = false;
          while (tokens.length < budget) {
            m.allowedTokens(mask, budget - tokens.length);
            const { id } = sampleToken(await logitsOf(tokens), 1, 1, rng, mask);
            assert.ok(id >= 0, 'the mask allowed nothing');
            if (vocab.stopIds.includes(id)) {
              stopped = true;
              break;
            }
            assert.ok(m.accept(id));
            tokens.push(id);
          }
          assert.ok(stopped || m.isComplete(), 'the budget ran out before the answer closed');
          const text = decoder.decode(Buffer.concat(tokens.map((t) => vocab.tokenBytes(t))));
          const r = parses(s, text);
          assert.ok(r.ok, `${type}/${role} in ${budget} tokens: ${r.reason}: ${JSON.stringify(text)}`);
        }
}

test('random sampling over a BPE-shaped vocabulary never gives a format error, at any budget', async () => {
  const vocab = syntheticVocabulary();
  const rng = new Rng(9);
  const logits = new Float32Array(vocab.vocabSize);
  await sampleAnswers(
    vocab,
    () => {
      for (let j = 0; j < logits.length; j++) logits[j] = rng.next() * 6;
      return logits;
    },
    { seed: 1, budgets: [40, 90, 300], perShape: 4, starts: ['think-text', 'think-tag', 'answer'] },
  );
});

for (const name of ['smollm2-135m', 'qwen2.5-coder-0.5b'] as const) {
  const model = realModel(name);
  test(`${name}'s vocabulary: a tiny random model sampled under the grammar never gives a format error`, {
    skip: model.skip,
  }, async () => {
    const vocab = await BpeTokenizer.open(model.path());
    // The budget bound counts bytes as tokens: every ASCII character the format needs is one token.
    const byteToken = new Map<number, number>();
    for (let t = 0; t < vocab.vocabSize; t++)
      if (vocab.tokenBytes(t).length === 1 && !vocab.specialTokens.has(t))
        byteToken.set(vocab.tokenBytes(t)[0] as number, t);
    for (let b = 0x20; b < 0x7f; b++) assert.ok(byteToken.has(b), `byte ${b} is not a token`);
    assert.ok(byteToken.has(0x0a) && byteToken.has(0x09));
    // ... and every UTF-8 continuation byte, which is all a shortest completion from inside a character
    // needs (SmolLM2 has no single-byte token for six control bytes and the lead bytes 0xF1 and 0xF2).
    for (let b = 0x80; b < 0xc0; b++) assert.ok(byteToken.has(b), `byte ${b} is not a token`);
    // The built-in transformer at this vocabulary's size, random weights: a model whose next-token
    // distribution depends on the text so far, as a real one does, at a fraction of the cost.
    const engine = await createModelEngine(
      { vocabSize: vocab.vocabSize, contextLength: 320, layers: 1, dModel: 32, heads: 2 },
      {
        threads: 1,
        seed: 7,
        optimizer: NO_UPDATES,
      },
    );
    try {
      const prompt = [...new TextEncoder().encode('Assistant: <think>')].map(
        (b) => byteToken.get(b) as number,
      );
      let cache = engine.newCache(1);
      let last: Float32Array | undefined;
      const logitsOf = async (tokens: readonly number[]) => {
        if (tokens.length === 0) {
          engine.freeCache(cache);
          cache = engine.newCache(1);
          last = await engine.prefill(
            cache,
            Int32Array.from(prompt),
            prompt.length,
            Int32Array.of(prompt.length),
          );
        } else last = await engine.decode(cache, Int32Array.of(tokens[tokens.length - 1] as number));
        return last;
      };
      await sampleAnswers(vocab, logitsOf, {
        seed: 2,
        budgets: [48, 160],
        perShape: 1,
        starts: ['think-text', 'think-tag'],
      });
      engine.freeCache(cache);
    } finally {
      await engine.close();
    }
    // The masks the trie walk made agree with a token-by-token check, along an answer fed byte by byte.
    const g = answerTokenGrammar(vocab, shape('deduction', 'proposer'));
    const mask = new Uint8Array(vocab.vocabSize);
    const m = g.constraint('check').start() as TokenGrammarMatcher;
    const text = Buffer.from('Fine: x < 3 \u00e9.</think>\n<answer>\n```python\ndef f(x):\n    return x</');
    for (const [i, b] of [...text].entries()) {
      if (i % 5 === 0) {
        m.allowedTokens(mask, 1000);
        assert.deepEqual(
          mask,
          bruteForce(g, m.automatonState, 1000),
          `after ${JSON.stringify(text.subarray(0, i).toString('latin1'))}`,
        );
      }
      assert.ok(m.accept(byteToken.get(b) as number));
    }
  });
}
