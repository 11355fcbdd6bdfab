import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alternative, Grammar } from '../../src/grammar/gbnf.js';
import { GrammarMatcher, parseGrammar } from '../../src/grammar/index.js';
import { encode } from '../../src/model/tokenizer.js';
import { SPECIAL_ID } from '../../src/model/vocab.js';
import { Rng } from '../../src/util/rng.js';

const V = 272;
const END = SPECIAL_ID['</answer>'];

/** An independent reference: memoised recursive descent over byte positions (no left recursion). */
function referenceMatches(g: Grammar, tokens: readonly number[]): boolean {
  const memo = new Map<string, Set<number>>();
  const rule = (r: number, i: number): Set<number> => {
    const key = `${r}@${i}`;
    const hit = memo.get(key);
    if (hit) return hit;
    const out = new Set<number>();
    memo.set(key, out);
    for (const alt of g.rules[r] as Alternative[]) {
      let at = new Set([i]);
      for (const e of alt) {
        const next = new Set<number>();
        for (const j of at) {
          if (e.kind === 'ref') for (const k of rule(e.rule, j)) next.add(k);
          else if (j < tokens.length) {
            const t = tokens[j] as number;
            if (e.kind === 'bytes' ? t < 256 && e.set[t] === 1 : e.id === t) next.add(j + 1);
          }
        }
        at = next;
      }
      for (const j of at) out.add(j);
    }
    return out;
  };
  return rule(g.root, 0).has(tokens.length);
}

const GRAMMARS = [
  'root ::= ("ab" | "ac" | [0-9]+) @"</answer>"',
  'root ::= list @"</answer>"\nlist ::= "[" (item (", " item){0,3})? "]"\nitem ::= [0-9]{1,2} | list',
  'root ::= x{1,4}\nx ::= "a" y? | "ab"\ny ::= "b" | "bb" | x',
  'root ::= "k" (a | b)\na ::= "x"* "y"\nb ::= "x"+ "z" @"</answer>"',
];

test('the mask is exactly the set of tokens accept() takes, at every step of random walks', () => {
  const rng = new Rng(1);
  const mask = new Uint8Array(V);
  for (const src of GRAMMARS) {
    const g = parseGrammar(src);
    for (let walk = 0; walk < 20; walk++) {
      const m = new GrammarMatcher(g);
      for (let step = 0; step < 30; step++) {
        m.allowedTokens(mask);
        const allowed: number[] = [];
        for (let id = 0; id < V; id++) {
          assert.equal(m.fork().accept(id), mask[id] === 1, `${src}: token ${id}`);
          if (mask[id]) allowed.push(id);
        }
        if (allowed.length === 0) {
          assert.ok(m.isComplete(), 'a dead end is only allowed at a complete sentence');
          break;
        }
        assert.ok(m.accept(rng.pick(allowed)));
      }
    }
  }
});

test('complete sentences agree with an independent recursive-descent reference', () => {
  const rng = new Rng(2);
  const alphabet = [...Buffer.from('abcdkxyz[], 0123456789'), END];
  const mask = new Uint8Array(V);
  for (const src of GRAMMARS) {
    const g = parseGrammar(src);
    const verdicts = { in: 0, out: 0 };
    for (let k = 0; k < 1500; k++) {
      // A random walk (a sentence or a prefix of one), then sometimes a random edit of it.
      const walker = new GrammarMatcher(g);
      const tokens: number[] = [];
      for (let n = rng.int(14); n > 0; n--) {
        walker.allowedTokens(mask);
        const ids = [...mask.keys()].filter((i) => mask[i]);
        if (ids.length === 0) break;
        const id = rng.pick(ids);
        walker.accept(id);
        tokens.push(id);
      }
      const edit = rng.int(4);
      const at = rng.int(tokens.length + 1);
      if (edit === 1) tokens.splice(at, 0, rng.pick(alphabet));
      else if (edit === 2 && tokens.length > 0) tokens.splice(at, 1);
      else if (edit === 3 && tokens.length > 0) tokens[Math.min(at, tokens.length - 1)] = rng.pick(alphabet);
      const m = new GrammarMatcher(g);
      const mine = m.acceptAll(tokens) && m.isComplete();
      assert.equal(mine, referenceMatches(g, tokens), `${src}: ${JSON.stringify(tokens)}`);
      verdicts[mine ? 'in' : 'out']++;
    }
    assert.ok(verdicts.in > 50 && verdicts.out > 50, `${src}: ${JSON.stringify(verdicts)}`);
  }
});

test('a refused token leaves the state unchanged', () => {
  const m = new GrammarMatcher(parseGrammar('root ::= "ab" @"</answer>"'));
  assert.equal(m.accept(encode('a')[0] as number), true);
  assert.equal(m.accept(encode('x')[0] as number), false);
  assert.equal(m.accept(END), false);
  assert.equal(m.accept(encode('b')[0] as number), true);
  assert.equal(m.isComplete(), false);
  assert.equal(m.accept(END), true);
  assert.equal(m.isComplete(), true);
});

test('special tokens are terminals of their own, distinct from their text as bytes', () => {
  const m = new GrammarMatcher(parseGrammar('root ::= [a-z<>/]* @"</answer>"'));
  const mask = new Uint8Array(V);
  m.allowedTokens(mask);
  assert.equal(mask[END], 1);
  assert.equal(mask[SPECIAL_ID['<answer>']], 0);
  assert.ok(m.acceptAll([...Buffer.from('</answer>')]), 'the text is just bytes');
  assert.equal(m.isComplete(), false);
  assert.ok(m.accept(END) && m.isComplete());
});

test('with a budget, only tokens that can still finish in time are allowed', () => {
  const g = parseGrammar('root ::= "a"{0,20} "b" @"</answer>"');
  const rng = new Rng(3);
  for (let budget = 2; budget < 25; budget++) {
    for (let walk = 0; walk < 5; walk++) {
      const m = new GrammarMatcher(g);
      const mask = new Uint8Array(V);
      let used = 0;
      for (;;) {
        m.allowedTokens(mask, budget - used);
        const ids = [...mask.keys()].filter((i) => mask[i]);
        if (ids.length === 0) break;
        m.accept(rng.pick(ids));
        used++;
      }
      assert.ok(m.isComplete(), `budget ${budget}`);
      assert.ok(used <= budget);
    }
  }
  const m = new GrammarMatcher(g);
  const mask = new Uint8Array(V);
  m.allowedTokens(mask, 2);
  assert.deepEqual(
    [...mask.keys()].filter((i) => mask[i]),
    encode('b'),
  );
  assert.equal(m.minRemaining(), 2);
});
