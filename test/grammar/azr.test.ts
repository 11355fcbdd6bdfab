import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Script } from 'node:vm';
import {
  azrConstraint,
  GrammarError,
  GrammarMatcher,
  parseGrammar,
  randomSentence,
} from '../../src/grammar/index.js';
import { decode, encode } from '../../src/model/tokenizer.js';
import { SPECIAL_ID } from '../../src/model/vocab.js';
import { parseProposal, parseSolution } from '../../src/tasks/parse.js';
import { Rng } from '../../src/util/rng.js';

const V = 272;
const matches = (src: string, text: string) => {
  const m = new GrammarMatcher(parseGrammar(src));
  return m.acceptAll(encode(text)) && m.isComplete();
};

test('grammar language: literals, classes, groups, repetition, specials', () => {
  const g = 'root ::= "a" [0-9]{1,3} ("x" | "yz")* end\nend ::= "!"? @"</answer>"';
  assert.equal(matches(g, 'a1</answer>'), true);
  assert.equal(matches(g, 'a123xyzx!</answer>'), true);
  assert.equal(matches(g, 'a1234</answer>'), false, 'bounded repetition');
  assert.equal(matches(g, 'a1y</answer>'), false);
  assert.equal(matches(g, 'a1'), false, 'incomplete');
  assert.equal(matches('root ::= [^a-c]+', 'xyz'), true);
  assert.equal(matches('root ::= [^a-c]+', 'xbz'), false);
  assert.equal(matches('root ::= "\\n\\"\\x41"', '\n"A'), true);
  assert.equal(
    matches('root ::= "a" # comment\n  | "b"', 'b'),
    true,
    'alternatives continue on the next line',
  );
});

test('grammar errors name the line and column', () => {
  assert.throws(() => parseGrammar('root ::= "a'), /1:\d+: unterminated string/);
  assert.throws(() => parseGrammar('root ::= x'), /rule 'x' is used but not defined/);
  assert.throws(() => parseGrammar('start ::= "a"'), /no 'root' rule/);
  assert.throws(() => parseGrammar('root ::= "a"\nroot ::= "b"'), /2:\d+: rule 'root' is defined twice/);
  assert.throws(() => parseGrammar('root ::= [z-a]'), GrammarError);
  assert.throws(() => parseGrammar('root ::= @"<nope>"'), /not a special token/);
});

test('the mask is exactly the set of tokens the matcher accepts', () => {
  const g = parseGrammar('root ::= ("ab" | "ac" | [0-9]+) @"</answer>"');
  const m = new GrammarMatcher(g);
  m.accept('a'.charCodeAt(0));
  const mask = new Uint8Array(V);
  m.allowedTokens(mask);
  for (let id = 0; id < V; id++) {
    const probe = new GrammarMatcher(g);
    probe.accept('a'.charCodeAt(0));
    assert.equal(probe.accept(id), mask[id] === 1, `token ${id}`);
  }
  const digits = new GrammarMatcher(g);
  digits.accept('7'.charCodeAt(0));
  digits.allowedTokens(mask);
  assert.equal(mask[SPECIAL_ID['</answer>']], 1);
  assert.equal(mask['8'.charCodeAt(0)], 1);
  assert.equal(mask['a'.charCodeAt(0)], 0);
});

test('AZR grammars accept the identity seed in both languages and refuse junk', () => {
  const py = "```python\ndef f(x):\n    return x\n```\n```input\n'Hello World'\n```</answer>";
  const js = '```javascript\nfunction f(x) {\n  return x;\n}\n```\n```input\n"Hello World"\n```</answer>';
  for (const [lang, text] of [
    ['python', py],
    ['javascript', js],
  ] as const) {
    const m = azrConstraint('deduction', 'proposer', lang).start() as GrammarMatcher;
    assert.ok(m.acceptAll(encode(text)) && m.isComplete(), lang);
    assert.equal(
      (azrConstraint('deduction', 'proposer', lang).start() as GrammarMatcher).acceptAll(encode('import os')),
      false,
    );
  }
  const sol = azrConstraint('deduction', 'solver', 'python').start() as GrammarMatcher;
  assert.ok(sol.acceptAll(encode("'Hello World'</answer>")) && sol.isComplete());
});

test('random walks through every AZR grammar end, parse as answers, and are valid Python / JavaScript', () => {
  const rng = new Rng(42);
  const programs: Record<'python' | 'javascript', string[]> = { python: [], javascript: [] };
  let totalMs = 0;
  let totalTokens = 0;
  for (const lang of ['python', 'javascript'] as const) {
    for (const type of ['deduction', 'abduction', 'induction'] as const) {
      for (const role of ['proposer', 'solver'] as const) {
        for (let k = 0; k < 15; k++) {
          const m = azrConstraint(type, role, lang, 4).start();
          const t0 = performance.now();
          const tokens = randomSentence(m, rng, V);
          totalMs += performance.now() - t0;
          totalTokens += tokens.length;
          assert.ok(m.isComplete(), `${type}/${role}/${lang} did not complete`);
          const text = decode(tokens);
          if (role === 'proposer') {
            const p = parseProposal(type, lang, text, 'compact', 4);
            assert.ok(p.ok, `${type}/${role}/${lang}: ${JSON.stringify(text)} -> ${p.ok ? '' : p.reason}`);
            if (p.proposal.kind === 'program') programs[lang].push(p.proposal.program);
          } else {
            const s = parseSolution(type, lang, text, 'compact');
            assert.ok(s.ok, `${type}/${role}/${lang}: ${JSON.stringify(text)}`);
            if (type === 'induction') programs[lang].push(s.answer);
          }
        }
      }
    }
  }
  // Speed is a benchmark's business, not a test's: report it only.
  console.log(`grammar mask + accept: ${(totalMs / totalTokens).toFixed(3)} ms per token`);
  for (const p of programs.javascript) assert.doesNotThrow(() => new Script(p), p); // compile only, never run
  const check = spawnSync(
    'python3',
    ['-c', 'import ast, json, sys\nfor p in json.load(sys.stdin):\n    ast.parse(p)\nprint("ok")'],
    { input: JSON.stringify(programs.python), encoding: 'utf8' },
  );
  assert.equal(check.stdout.trim(), 'ok', check.stderr);
});
