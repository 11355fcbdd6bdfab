import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lang } from '../../src/executor/types.js';
import { BpeTokenizer } from '../../src/model/bpe-tokenizer.js';
import {
  fitReferences,
  identityTask,
  parseProposal,
  proposerPrompt,
  proposerPromptShowing,
  solverPrompt,
  type Task,
  type TaskType,
} from '../../src/tasks/index.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const LANGS: Lang[] = ['python', 'javascript'];
const task = (type: TaskType, lang: Lang, n: number): Task => ({
  ...identityTask(type, lang),
  program: lang === 'python' ? `def f(x):\n    return x * ${n}` : `function f(x) {\n  return x * ${n};\n}`,
  input: String(n),
  output: String(n * n),
});

test('compact prompts are short, end with <answer>, and show references in the answer format', () => {
  for (const lang of LANGS) {
    for (const type of ['deduction', 'abduction'] as TaskType[]) {
      const bare = proposerPrompt(type, lang, [], { style: 'compact' });
      assert.ok(bare.endsWith('<answer>'));
      assert.ok(bytes(bare) < 64, `instructions are a few words: ${bytes(bare)} bytes`);
      const refs = [task(type, lang, 2), task(type, lang, 3)];
      const p = proposerPrompt(type, lang, refs, { style: 'compact' });
      // Each example is exactly a proposal body: copying one (plus </answer>) parses as a proposal.
      const examples = p
        .split('example:\n')
        .slice(1)
        .map((e) => e.replace(/\nnew:\n<answer>$/, '').trimEnd());
      assert.equal(examples.length, 2);
      for (const [k, e] of examples.entries()) {
        const r = parseProposal(type, lang, `${e}</answer>`, 'compact');
        assert.ok(r.ok && r.proposal.kind === 'program', e);
        assert.equal(r.proposal.program, refs[k]?.program);
        assert.equal(r.proposal.input, refs[k]?.input);
      }
      assert.ok(!p.includes('```output'), 'proposers see no outputs in compact prompts');
    }
    const ind = proposerPrompt('induction', lang, [task('deduction', lang, 5)], {
      style: 'compact',
      inductionInputs: 4,
    });
    assert.ok(ind.endsWith('<answer>') && ind.includes('4 inputs') && ind.includes('x * 5'));
  }
});

test('solver prompts show what the role may see and never the answer', () => {
  for (const lang of LANGS) {
    for (const style of ['compact', 'reference'] as const) {
      const ded = { ...task('deduction', lang, 7), output: '4242' };
      const pd = solverPrompt(ded, { style });
      assert.ok(pd.includes(ded.program) && pd.includes(ded.input) && !pd.includes('4242'));
      const abd = { ...task('abduction', lang, 7), input: '31337', output: '777' };
      const pa = solverPrompt(abd, { style });
      assert.ok(pa.includes(abd.program) && pa.includes('777') && !pa.includes('31337'));
      const ind: Task = {
        ...task('induction', lang, 7),
        message: 'multiplies by seven',
        shown: [{ input: '1', output: '7' }],
        hidden: [{ input: '1001', output: '7007' }],
      };
      const pi = solverPrompt(ind, { style });
      assert.ok(pi.includes('multiplies by seven') && pi.includes('```output\n7\n```'));
      assert.ok(
        !pi.includes(ind.program) && !pi.includes('1001') && !pi.includes('7007'),
        'no program, no hidden pairs',
      );
      assert.ok(style === 'compact' ? pi.endsWith('<answer>') : pi.endsWith('Assistant: <think>'));
    }
  }
});

test('reference prompts carry the paper requirements and the answer format', () => {
  const refs = [task('deduction', 'python', 2), task('deduction', 'python', 3)];
  const p = proposerPrompt('abduction', 'python', refs, { style: 'reference' });
  assert.ok(p.endsWith('Assistant: <think>'));
  for (const needle of [
    'named `f`',
    'deterministic',
    'different from',
    '```input',
    'Reference 2:',
    '```output\n9\n```',
  ])
    assert.ok(p.includes(needle), needle);
  const js = proposerPrompt('deduction', 'javascript', [task('deduction', 'javascript', 2)], {
    style: 'reference',
  });
  assert.ok(js.includes('```javascript') && js.includes('no eval') && !js.includes('def f'));
  const ind = proposerPrompt('induction', 'python', refs, { style: 'reference', inductionInputs: 10 });
  assert.ok(
    ind.includes('10 inputs') && ind.includes('```message') && ind.includes(refs[0]?.program as string),
  );
});

test('references are fitted to a byte budget: greedy, in order, counted in UTF-8 bytes', () => {
  const small = (n: number) => task('deduction', 'python', n);
  const huge: Task = { ...small(9), input: `'${'\u4e16'.repeat(100)}'` }; // 100 chars, 300 bytes
  const refs = [small(1), huge, small(2), small(3)];
  const none = bytes(proposerPrompt('deduction', 'python', [], { style: 'compact' }));
  const per = bytes(proposerPrompt('deduction', 'python', [small(1)], { style: 'compact' })) - none;
  const budget = none + 3 * per;
  const p = proposerPrompt('deduction', 'python', refs, { style: 'compact', maxBytes: budget });
  assert.ok(bytes(p) <= budget, `${bytes(p)} > ${budget}`);
  assert.equal(p.split('example:').length - 1, 3, 'the huge one is left out, the small ones after it stay');
  assert.ok(!p.includes('\u4e16'));
  // maxChars counts string length: the same huge reference fits 300 chars but not 300 bytes.
  const byChars = proposerPrompt('deduction', 'python', [huge], { style: 'compact', maxChars: none + 250 });
  const byBytes = proposerPrompt('deduction', 'python', [huge], { style: 'compact', maxBytes: none + 250 });
  assert.ok(byChars.includes('\u4e16') && !byBytes.includes('\u4e16'));
  // proposerPromptShowing says which references the prompt shows (the copy check compares with those).
  const showing = proposerPromptShowing('deduction', 'python', refs, { style: 'compact', maxBytes: budget });
  assert.equal(showing.prompt, p);
  assert.deepEqual(showing.shown, [small(1), small(2), small(3)]);
  // The induction subject is never dropped, even over budget.
  const ind = proposerPrompt('induction', 'python', [huge], { style: 'compact', maxBytes: 10 });
  assert.ok(ind.includes(huge.program));
  // fitReferences on its own: `min` references are always kept.
  const render = (xs: readonly string[]) => xs.join('');
  assert.deepEqual(fitReferences(['aaaa', 'bbbbbbbb', 'cc', 'd'], render, { maxBytes: 7 }), [
    'aaaa',
    'cc',
    'd',
  ]);
  assert.deepEqual(fitReferences(['aaaaaaaaaa', 'b'], render, { maxBytes: 3 }, 1), ['aaaaaaaaaa']);
  assert.deepEqual(fitReferences(['a', 'b'], render, {}), ['a', 'b']);
  assert.throws(() => proposerPrompt('induction', 'python', [], { style: 'compact' }), /program/);
});

test("a token budget counts a real model's tokens: references a string-length budget of the same size drops are shown", async () => {
  const tokenizer = await BpeTokenizer.load(join(projectRoot, 'python', 'tiny-qwen3-tokenizer'));
  const count = (p: string) => tokenizer.encode(p).length;
  const refs = [1, 2, 3].map((n) => task('deduction', 'python', n));
  const all = proposerPrompt('deduction', 'python', refs, { style: 'reference' });
  // A BPE token spans several characters: the full prompt's token count is well under its length.
  assert.ok(count(all) < all.length / 2, `${count(all)} tokens, ${all.length} chars`);
  const max = count(all);
  const byTokens = proposerPromptShowing('deduction', 'python', refs, {
    style: 'reference',
    maxTokens: { max, count },
  });
  assert.deepEqual(byTokens.shown, refs);
  assert.equal(byTokens.prompt, all);
  const byChars = proposerPromptShowing('deduction', 'python', refs, { style: 'reference', maxChars: max });
  assert.deepEqual(byChars.shown, []);
  // One token short of the whole prompt: the last reference goes.
  const tight = proposerPromptShowing('deduction', 'python', refs, {
    style: 'reference',
    maxTokens: { max: max - 1, count },
  });
  assert.deepEqual(tight.shown, refs.slice(0, 2));
  assert.ok(count(tight.prompt) <= max - 1);
});
