import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GrammarError, GrammarMatcher, parseGrammar } from '../../src/grammar/index.js';
import { encode } from '../../src/model/tokenizer.js';

const matches = (src: string, text: string) => {
  const m = new GrammarMatcher(parseGrammar(src));
  return m.acceptAll(encode(text)) && m.isComplete();
};

test('literals, escapes, classes, groups and specials', () => {
  const g = 'root ::= "a" [0-9]{1,3} ("x" | "yz")* end\nend ::= "!"? @"</answer>"';
  assert.equal(matches(g, 'a1</answer>'), true);
  assert.equal(matches(g, 'a123xyzx!</answer>'), true);
  assert.equal(matches(g, 'a1234</answer>'), false, 'bounded repetition');
  assert.equal(matches(g, 'a1y</answer>'), false);
  assert.equal(matches(g, 'a1'), false, 'incomplete');
  assert.equal(matches(g, 'a1</answer>x'), false, 'nothing after the end');
  assert.equal(matches('root ::= [^a-c]+', 'xyz'), true);
  assert.equal(matches('root ::= [^a-c]+', 'xbz'), false);
  assert.equal(matches('root ::= [a\\-z]+', 'a-z'), true, 'escaped dash in a class');
  assert.equal(matches('root ::= [a\\-z]+', 'b'), false);
  assert.equal(matches('root ::= [\\]]', ']'), true);
  assert.equal(matches('root ::= "\\n\\"\\x41\\t\\\\"', '\n"A\t\\'), true);
  assert.equal(matches('root ::= .+', 'any thing'), true);
  assert.equal(matches('root ::= .+', 'a\nb'), false, 'dot excludes newline');
  assert.equal(matches('root ::= "é"', 'é'), true, 'UTF-8 literal is its bytes');
  assert.equal(
    matches('root ::= "a" # comment\n  | "b"', 'b'),
    true,
    'alternatives continue on the next line',
  );
  assert.equal(matches('root ::= x\nx ::= ""', ''), true, 'empty literal');
});

test('repetition forms', () => {
  const count = (op: string) => [0, 1, 2, 3, 4, 5].filter((n) => matches(`root ::= "a"${op}`, 'a'.repeat(n)));
  assert.deepEqual(count('?'), [0, 1]);
  assert.deepEqual(count('*'), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(count('+'), [1, 2, 3, 4, 5]);
  assert.deepEqual(count('{2}'), [2]);
  assert.deepEqual(count('{2,}'), [2, 3, 4, 5]);
  assert.deepEqual(count('{,2}'), [0, 1, 2]);
  assert.deepEqual(count('{1,3}'), [1, 2, 3]);
  assert.deepEqual(count('{0,0}'), [0]);
  assert.equal(matches('root ::= ("ab" | "c"){2}', 'abc'), true, 'repetition of a group');
  assert.equal(matches('root ::= ("ab" | "c"){2}', 'ab'), false);
});

test('right recursion and long repetition do not grow the stacks', () => {
  const g = parseGrammar('root ::= item\nitem ::= [0-9] item | ";"');
  const m = new GrammarMatcher(g);
  assert.ok(m.acceptAll(encode('1'.repeat(5000))));
  assert.equal(m.stackCount(), 2);
  assert.ok(m.acceptAll(encode(';')) && m.isComplete());
});

test('errors say what is wrong and where (line:col)', () => {
  const err = (src: string, re: RegExp) =>
    assert.throws(
      () => parseGrammar(src),
      (e: unknown) => e instanceof GrammarError && re.test(e.message),
      src,
    );
  err('root ::= "a', /^grammar 1:10: unterminated string$/);
  err('root ::= "a" x', /^grammar 1:14: rule 'x' is used but not defined$/);
  err('root ::= "a"\nfoo ::= bar baz', /^grammar 2:9: rule 'bar' is used but not defined$/);
  err('start ::= "a"', /no 'root' rule/);
  err('root ::= "a"\nroot ::= "b"', /^grammar 2:1: rule 'root' is defined twice$/);
  err('root ::= [z-a]', /^grammar 1:11: character range out of order$/);
  err('root ::= [^\\x00-\\xff]', /character class matches nothing/);
  err('root ::= [abc', /1:10: unterminated character class/);
  err('root ::= "\\q"', /1:11: unknown escape \\q/);
  err('root ::= "\\x4"', /bad \\x escape/);
  err('root ::= @"<nope>"', /1:10: '<nope>' is not a special token/);
  err('root ::= @nope', /expected a quoted special token/);
  err('root ::= ("a" | "b"', /1:10' is not closed|'\(' at 1:10 is not closed/);
  err('root ::= "a")', /1:13: unexpected '\)'/);
  err('root ::= "a"{3,1}', /1:13: repetition \{3,1\} has its maximum below its minimum/);
  err('root ::= "a"{,}', /bad repetition/);
  err('root ::= "a"{5000}', /above 1000/);
  err('root := "a"', /1:6: expected '::=' after 'root'/);
  err('root ::= "a" %', /1:14: unexpected '%'/);
});

test('grammars the matcher cannot run are refused', () => {
  assert.throws(() => parseGrammar('root ::= root "a" | "b"'), /left recursion.*'root' -> 'root'/);
  assert.throws(
    () => parseGrammar('root ::= x\nx ::= y "a"\ny ::= "b"? x | "c"'),
    /left recursion.*'x' -> 'y' -> 'x'/,
    'through an item that can be empty',
  );
  assert.throws(() => parseGrammar('root ::= ("a"?)*'), /repeated item that can match nothing/);
  assert.throws(() => parseGrammar('root ::= "a" root'), /rule 'root' can never finish/);
  // Right recursion and unreachable rules are fine.
  assert.doesNotThrow(() => parseGrammar('root ::= "a" root | "b"\nunused ::= unused "x" | "y"'));
});

test('large grammars parse in linear time', () => {
  const rules = Array.from({ length: 5000 }, (_, i) => `r${i} ::= "x${i}" | r${i + 1}`);
  rules.push('r5000 ::= "end"');
  const t0 = performance.now();
  const g = parseGrammar(`root ::= r0\n${rules.join('\n')}`);
  const ms = performance.now() - t0;
  assert.equal(g.names.includes('r4999'), true);
  assert.ok(ms < 5000, `${ms} ms`);
  assert.equal(matches(`root ::= r0\n${rules.join('\n')}`, 'x4321'), true);
});
