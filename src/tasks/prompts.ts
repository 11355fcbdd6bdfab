// Prompts for the six (task type x role) pairs, in two styles.
//
// 'compact' (the built-in small model): a few header words, the material in fenced blocks, and the prompt
// ends with <answer>, so the completion is just `BODY</answer>`. Short prompts leave the small model's
// context for content, and the fixed shape is easy to learn from rewards alone.
// 'reference' (real LLMs): instructions in the spirit of the Absolute Zero paper's prompts, and the
// completion is `<think>...</think><answer>BODY</answer>`.
//
// References are shown in the same body format the proposer must write, so copying the structure is the
// first thing a model can learn.
import type { Lang } from '../executor/types.js';
import type { PromptStyle, Task, TaskType } from './types.js';

export const fence = (tag: string, text: string): string => `\`\`\`${tag}\n${text}\n\`\`\``;

export interface PromptOptions {
  style: PromptStyle;
  /** Longest prompt, in characters; references are dropped (last first) until it fits. */
  maxChars?: number;
  /** Inputs an induction proposer is asked for. */
  inductionInputs?: number;
}

const LANG_NAME: Record<Lang, string> = { python: 'Python', javascript: 'JavaScript' };

function referenceBlock(
  t: Pick<Task, 'program' | 'input' | 'output'>,
  lang: Lang,
  withOutput: boolean,
): string {
  const parts = [fence(lang, t.program), fence('input', t.input)];
  if (withOutput) parts.push(fence('output', t.output));
  return parts.join('\n');
}

const REFERENCE_FORMAT =
  'Think step by step inside <think> </think>, then give only the final answer inside <answer> </answer>.';

function proposerIntro(type: TaskType, lang: Lang, n: number): string {
  const L = LANG_NAME[lang];
  if (type === 'induction') {
    return (
      `You are designing a program-induction puzzle. Below is a ${L} function f. Write a one-line message ` +
      `that hints at what f does without giving away its code, and ${n} different inputs that together ` +
      'reveal its behaviour. Answer format:\n' +
      `${fence('message', '<hint>')}\n${fence('input', '<arguments>')}\n... (one input block per input)`
    );
  }
  const goal =
    type === 'deduction'
      ? 'a solver will be given your function and input and must predict the output'
      : 'a solver will be given your function and its output and must find an input that produces it';
  return (
    `You are designing a reasoning puzzle: ${goal}. Write a new ${L} function f that is different from the ` +
    'examples, deterministic, self-contained (no files, network, clocks or randomness), and an input for it. ' +
    'Make it hard enough to need reasoning but solvable. The input is the argument list as literals, ' +
    "e.g. [1, 2], 'a' for two arguments. Answer format:\n" +
    `${fence(lang, 'def f(...): ...')}\n${fence('input', '<arguments>')}`
  );
}

/** The prompt asking for a new task of `type`. `references` are buffer tasks; for induction, the first one's program is the subject. */
export function proposerPrompt(
  type: TaskType,
  lang: Lang,
  references: readonly Task[],
  opts: PromptOptions,
): string {
  const n = opts.inductionInputs ?? 10;
  const build = (refs: readonly Task[]): string => {
    if (type === 'induction') {
      const subject = refs[0];
      if (!subject) throw new Error('an induction proposal needs a program to write inputs for');
      if (opts.style === 'compact')
        return `propose induction ${lang}\n${fence(lang, subject.program)}\nhint and ${n} inputs:\n<answer>`;
      return `${proposerIntro(type, lang, n)}\n\n${fence(lang, subject.program)}\n\n${REFERENCE_FORMAT}\n<think>`;
    }
    const examples = refs.map((r) => referenceBlock(r, lang, false));
    if (opts.style === 'compact') {
      return `propose ${type} ${lang}\n${examples.map((e) => `example:\n${e}\n`).join('')}new:\n<answer>`;
    }
    const shown = examples.map((e, i) => `Example ${i + 1}:\n${e}`).join('\n\n');
    return `${proposerIntro(type, lang, n)}\n\n${shown}\n\n${REFERENCE_FORMAT}\n<think>`;
  };
  let refs = references.slice();
  let prompt = build(refs);
  const minRefs = type === 'induction' ? 1 : 0;
  while (opts.maxChars !== undefined && prompt.length > opts.maxChars && refs.length > minRefs) {
    refs = refs.slice(0, -1);
    prompt = build(refs);
  }
  return prompt;
}

/** The prompt asking a solver to solve `task`. */
export function solverPrompt(task: Task, opts: PromptOptions): string {
  const { lang } = task;
  const compact = opts.style === 'compact';
  switch (task.type) {
    case 'deduction': {
      const body = `${fence(lang, task.program)}\n${fence('input', task.input)}`;
      return compact
        ? `deduction ${lang}\n${body}\noutput:\n<answer>`
        : `Predict the exact output of f on the input, written as a ${LANG_NAME[lang]} literal.\n\n${body}\n\n${REFERENCE_FORMAT}\n<think>`;
    }
    case 'abduction': {
      const body = `${fence(lang, task.program)}\n${fence('output', task.output)}`;
      return compact
        ? `abduction ${lang}\n${body}\ninput:\n<answer>`
        : `Find an input for which f returns exactly this output. Answer with the argument list as literals, e.g. [1, 2], 'a' for two arguments.\n\n${body}\n\n${REFERENCE_FORMAT}\n<think>`;
    }
    case 'induction': {
      const pairs = (task.shown ?? [])
        .map((p) => `${fence('input', p.input)}\n${fence('output', p.output)}`)
        .join('\n');
      const hint = fence('message', task.message ?? '');
      return compact
        ? `induction ${lang}\n${hint}\n${pairs}\nprogram:\n<answer>`
        : `Write a ${LANG_NAME[lang]} function f that maps each input to its output below (and generalises: it is tested on hidden inputs). The message hints at what f does. Answer with the function in a ${lang} code block.\n\n${hint}\n${pairs}\n\n${REFERENCE_FORMAT}\n<think>`;
    }
  }
}
