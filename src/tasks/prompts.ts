// Prompts for the six (task type x role) pairs, in two styles.
//
// 'compact' (the built-in small model, 512-byte context): a few header words, the material in fenced
// blocks, and the prompt ends with <answer>, so the completion is just `BODY</answer>`. Short prompts leave
// the context for content, and the fixed shape is easy to learn from rewards alone.
// 'reference' (real LLMs): the requirements of the Absolute Zero paper's prompts, in our own words, inside
// a think-then-answer conversation frame that ends with `Assistant: <think>`; the completion is
// `...</think><answer>BODY</answer>`.
//
// In both styles references are shown in the same body format the proposer must write, so copying the
// structure is the first thing a model can learn. parse.ts documents the body grammar.
import type { Lang } from '../executor/types.js';
import type { PromptStyle, Task, TaskType } from './types.js';

export const fence = (tag: string, text: string): string => `\`\`\`${tag}\n${text}\n\`\`\``;

export interface PromptOptions {
  style: PromptStyle;
  /** Longest prompt in UTF-8 bytes (the built-in model's tokens); references are left out until it fits. */
  maxBytes?: number;
  /** Longest prompt in UTF-16 code units (string length); applied like maxBytes when given. */
  maxChars?: number;
  /** Longest prompt in a real model's tokens, counted by `tokens.count`; applied like maxBytes. */
  maxTokens?: { max: number; count: (prompt: string) => number };
  /** Inputs an induction proposer is asked for (N). */
  inductionInputs?: number;
}

const LANG_NAME: Record<Lang, string> = { python: 'Python', javascript: 'JavaScript' };

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Does `prompt` fit the budgets of `opts` (no budget: always)? */
export function fitsBudget(prompt: string, opts: PromptBudget): boolean {
  if (opts.maxChars !== undefined && prompt.length > opts.maxChars) return false;
  if (opts.maxBytes !== undefined && utf8Bytes(prompt) > opts.maxBytes) return false;
  if (opts.maxTokens !== undefined && opts.maxTokens.count(prompt) > opts.maxTokens.max) return false;
  return true;
}

/** The budgets a prompt may be held to. */
export type PromptBudget = Pick<PromptOptions, 'maxBytes' | 'maxChars' | 'maxTokens'>;

/**
 * The references a prompt can show within a budget: greedily, in order, each one that still fits is
 * kept (so one huge reference does not push out the small ones after it), never fewer than `min` (the
 * prompt may then be over budget: an induction prompt cannot leave out its subject). `render` builds the
 * prompt from a list of references.
 */
export function fitReferences<T>(
  references: readonly T[],
  render: (refs: readonly T[]) => string,
  opts: PromptBudget,
  min = 0,
): T[] {
  const kept = references.slice(0, min);
  for (const r of references.slice(min)) {
    if (fitsBudget(render([...kept, r]), opts)) kept.push(r);
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------------
// Reference style: the paper's requirements, our wording.

/** The think-then-answer frame (the R1-style template the reference wraps every prompt in). */
function conversation(user: string): string {
  return (
    'A conversation between User and Assistant. The Assistant first reasons step by step, privately, ' +
    'and then gives the User the answer. The reasoning goes inside <think> </think> and the answer ' +
    'inside <answer> </answer>, like this: <think> reasoning </think> <answer> answer </answer>.\n\n' +
    `User: ${user}\n\nAssistant: <think>`
  );
}

// No example values: Qwen2.5-Coder-0.5B copied them, greedy and in training, as inputs and as answers
// (`'John', {'age': 20}`, `[1, 'a']`); the answer grammar keeps the shape, so the words need not show it.
const ARGS_RULE =
  'The input is the argument list of one call of f: what goes between its parentheses, each argument ' +
  'a literal (a number, a quoted string, a list, tuple, dict or set of literals, True, False, None), ' +
  'several arguments separated by commas.';
const ARGS_RULE_JS =
  'The input is the argument list of one call of f: what goes between its parentheses, each argument ' +
  'a JSON-like literal (a number, a double-quoted string, an array or object of literals, true, false, ' +
  'null), several arguments separated by commas.';
const argsRule = (lang: Lang) => (lang === 'python' ? ARGS_RULE : ARGS_RULE_JS);

function functionRules(lang: Lang): string {
  const imports =
    lang === 'python'
      ? '- Import only pure standard modules (math, itertools, collections, functools, heapq, bisect, ' +
        'string, re and the like), at the top; anything that reaches the system (os, sys, subprocess, ' +
        'threading, logging, time, datetime, random, hashlib, ...) is refused.'
      : '- No require or import, no eval or Function, no Date, Math.random, timers, Promises or async.';
  return [
    lang === 'python'
      ? '- The entry point is one top-level function named `f`; helper functions go inside it (classes ' +
        'may be defined above it).'
      : '- The entry point is one top-level function named `f`; helper functions go inside it.',
    '- f takes at least one argument and returns a value.',
    '- f is deterministic and self-contained: no randomness, clocks or dates, files, network, printing ' +
      'or other outside state. The same input must always give the same output.',
    '- It finishes within a second or two.',
    imports,
  ].join('\n');
}

function referenceProposerPrompt(type: TaskType, lang: Lang, refs: readonly Task[], n: number): string {
  const L = LANG_NAME[lang];
  if (type === 'induction') {
    const subject = refs[0] as Task;
    return conversation(
      `## Task: choose ${n} inputs for the ${L} function below, and write a message about it\n\n` +
        'A test subject will see some of your inputs with the outputs f returns for them, and your ' +
        'message, and must write f from that; the other inputs are the hidden tests of their function. ' +
        'Choose inputs that together reveal what f does: cover its behaviour and give diverse outputs, ' +
        'so the puzzle is challenging but possible. The message is a hint in any form (a description, ' +
        'a question, a riddle) and must not contain the code.\n\n' +
        `### Inputs\n${argsRule(lang)} Each input goes in its own input block; give ${n}, all different.\n\n` +
        '### Answer format\nInside <answer>, the message block first, then the input blocks:\n' +
        `<answer>\n${fence('message', 'your hint')}\n${fence('input', 'arguments of call 1')}\n` +
        `${fence('input', 'arguments of call 2')}\n(and so on)\n</answer>\n\n` +
        `### The function\n${fence(lang, subject.program)}`,
    );
  }
  const solverSees =
    type === 'deduction'
      ? 'f and your input, and must predict the output'
      : 'f and the output it returns on your input, and must find an input that produces that output';
  const hardPart =
    type === 'deduction' ? 'predicting the output from the input' : 'finding an input from the output';
  const examples = refs
    .map(
      (r, i) =>
        `Reference ${i + 1}:\n${fence(lang, r.program)}\n${fence('input', r.input)}\n${fence('output', r.output)}`,
    )
    .join('\n\n');
  return conversation(
    `## Task: write a new ${L} function f and one input for it\n\n` +
      `This is a reasoning test: a test subject will be given ${solverSees}. Make ${hardPart} take ` +
      'careful, multi-step reasoning (state that changes over several steps, data structures, loops, ' +
      'recursion, conditions), while staying solvable. The function must be clearly different from the ' +
      'references below.\n\n' +
      `### Requirements for f\n${functionRules(lang)}\n\n` +
      `### Requirements for the input\nExactly one input. ${argsRule(lang)}\n\n` +
      `### Answer format\nInside <answer>, a ${lang} block with the function, then an input block:\n` +
      `<answer>\n${fence(lang, lang === 'python' ? 'def f(...):\n    ...' : 'function f(...) {\n  ...\n}')}\n` +
      `${fence('input', 'arguments')}\n</answer>` +
      (examples ? `\n\n### References (program, input, and the output it gives)\n${examples}` : ''),
  );
}

function referenceSolverPrompt(task: Task): string {
  const { lang } = task;
  const L = LANG_NAME[lang];
  switch (task.type) {
    case 'deduction':
      return conversation(
        `## Task: predict the output of a ${L} function\n\nWork out exactly what f returns on this input.\n\n` +
          `${fence(lang, task.program)}\n${fence('input', task.input)}\n\n` +
          `### Answer format\nThe returned value as one ${L} literal on one line (strings quoted), and ` +
          'nothing else: the value itself, not an expression or a call.',
      );
    case 'abduction':
      return conversation(
        `## Task: find an input of a ${L} function\n\nFind an input on which f returns exactly this ` +
          'output. Any input that does is correct.\n\n' +
          `${fence(lang, task.program)}\n${fence('output', task.output)}\n\n` +
          `### Answer format\n${argsRule(lang)} Give them on one line and nothing else: the arguments ` +
          'themselves, not a call of f.',
      );
    case 'induction': {
      const pairs = (task.shown ?? [])
        .map((p) => `${fence('input', p.input)}\n${fence('output', p.output)}`)
        .join('\n');
      return conversation(
        `## Task: write a ${L} function from examples\n\nWrite a function f that returns each output ` +
          'below for its input. It is tested on hidden inputs too, so it has to capture the rule, not ' +
          'the examples. The message is a hint from the person who chose the examples.\n\n' +
          `${fence('message', task.message ?? '')}\n${pairs}\n\n` +
          `### Requirements for f\n${functionRules(lang)}\n\n` +
          `### Answer format\nThe function in one ${lang} block inside <answer>:\n` +
          `<answer>\n${fence(lang, lang === 'python' ? 'def f(...):\n    ...' : 'function f(...) {\n  ...\n}')}\n</answer>`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Compact style: the built-in model's prompts. Changing their text changes what a trained checkpoint
// sees, so keep them stable.

function compactProposerPrompt(type: TaskType, lang: Lang, refs: readonly Task[], n: number): string {
  if (type === 'induction') {
    const subject = refs[0] as Task;
    return `propose induction ${lang}\n${fence(lang, subject.program)}\nhint and ${n} inputs:\n<answer>`;
  }
  const examples = refs.map((r) => `example:\n${fence(lang, r.program)}\n${fence('input', r.input)}\n`);
  return `propose ${type} ${lang}\n${examples.join('')}new:\n<answer>`;
}

function compactSolverPrompt(task: Task): string {
  const { lang } = task;
  switch (task.type) {
    case 'deduction':
      return `deduction ${lang}\n${fence(lang, task.program)}\n${fence('input', task.input)}\noutput:\n<answer>`;
    case 'abduction':
      return `abduction ${lang}\n${fence(lang, task.program)}\n${fence('output', task.output)}\ninput:\n<answer>`;
    case 'induction': {
      const pairs = (task.shown ?? [])
        .map((p) => `${fence('input', p.input)}\n${fence('output', p.output)}`)
        .join('\n');
      return `induction ${lang}\n${fence('message', task.message ?? '')}\n${pairs}\nprogram:\n<answer>`;
    }
  }
}

/**
 * The prompt asking for a new task of `type`. Deduction and abduction: `references` are buffer tasks
 * shown as examples (as many as fit the budget, in order). Induction: the first reference is the program
 * the proposer writes inputs for (never left out; the prompt may exceed the budget if it alone does).
 */
export function proposerPrompt(
  type: TaskType,
  lang: Lang,
  references: readonly Task[],
  opts: PromptOptions,
): string {
  return proposerPromptShowing(type, lang, references, opts).prompt;
}

/**
 * The proposer prompt and the references it shows: those that fit the budget (the copy check compares a
 * proposal with what its prompt showed, not with references left out for length).
 */
export function proposerPromptShowing(
  type: TaskType,
  lang: Lang,
  references: readonly Task[],
  opts: PromptOptions,
): { prompt: string; shown: Task[] } {
  const n = opts.inductionInputs ?? 10;
  const render = (refs: readonly Task[]) =>
    opts.style === 'compact'
      ? compactProposerPrompt(type, lang, refs, n)
      : referenceProposerPrompt(type, lang, refs, n);
  if (type === 'induction') {
    const subject = references[0];
    if (!subject) throw new Error('an induction proposal needs a program to write inputs for');
    return { prompt: render([subject]), shown: [subject] };
  }
  const shown = fitReferences(references, render, opts);
  return { prompt: render(shown), shown };
}

/** The prompt asking a solver to solve `task` (induction solvers see the message and shown pairs only). */
export function solverPrompt(task: Task, opts: PromptOptions): string {
  return opts.style === 'compact' ? compactSolverPrompt(task) : referenceSolverPrompt(task);
}
