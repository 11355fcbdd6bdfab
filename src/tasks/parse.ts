// Strict parsing of completions. Anything that does not follow the format is a format error (reward -1),
// with a reason that is counted.
//
//   completion (compact)   := BODY "</answer>" ANY          -- the prompt already ended with "<answer>"
//   completion (reference) := THINK? "</think>" WS "<answer>" BODY "</answer>" ANY
//   BODY, proposer ded/abd := WS BLOCK(lang) WS BLOCK("input") WS
//   BODY, proposer ind     := WS BLOCK("message") (WS BLOCK("input")){1,N} WS
//   BODY, solver ded       := a literal (the output), one or more lines, not empty
//   BODY, solver abd       := an argument list as literals, not empty
//   BODY, solver ind       := WS BLOCK(lang) WS
//   BLOCK(tag)             := "```" tag "\n" CONTENT "\n```"      -- CONTENT may not contain "\n```"
//
// Exactly one answer: a second "<answer>" inside BODY is an error ("doubled"), as is a missing
// "</answer>" ("unclosed": the completion was cut at the token limit).
import type { Lang } from '../executor/types.js';
import type { PromptStyle, TaskType } from './types.js';

export type FormatError =
  | 'empty'
  | 'unclosed'
  | 'doubled'
  | 'no_think'
  | 'bad_blocks'
  | 'wrong_language'
  | 'too_many_inputs';

export type Parsed<T> = ({ ok: true } & T) | { ok: false; reason: FormatError; detail: string };

const OPEN = '<answer>';
const CLOSE = '</answer>';

function fail(reason: FormatError, detail: string): { ok: false; reason: FormatError; detail: string } {
  return { ok: false, reason, detail };
}

/** The answer body of a completion. */
export function parseAnswer(text: string, style: PromptStyle): Parsed<{ body: string }> {
  let rest = text;
  if (style === 'reference') {
    const thinkEnd = rest.indexOf('</think>');
    if (thinkEnd === -1) return fail('no_think', 'no </think> before the answer');
    rest = rest.slice(thinkEnd + '</think>'.length).trimStart();
    if (!rest.startsWith(OPEN)) return fail('empty', 'no <answer> after </think>');
    rest = rest.slice(OPEN.length);
  }
  const close = rest.indexOf(CLOSE);
  if (close === -1) return fail('unclosed', 'no </answer>');
  const body = rest.slice(0, close);
  if (body.includes(OPEN) || body.includes('<think>'))
    return fail('doubled', 'a second answer or think block');
  if (body.trim() === '') return fail('empty', 'the answer is empty');
  return { ok: true, body };
}

export interface Block {
  tag: string;
  content: string;
}

/** Fenced blocks separated by whitespace only; null when anything else is in between. */
export function parseBlocks(body: string): Block[] | null {
  const blocks: Block[] = [];
  const re = /\s*```([A-Za-z]*)\n([\s\S]*?)\n```/y;
  let at = 0;
  for (;;) {
    re.lastIndex = at;
    const m = re.exec(body);
    if (!m) break;
    blocks.push({ tag: m[1] as string, content: m[2] as string });
    at = re.lastIndex;
  }
  return body.slice(at).trim() === '' ? blocks : null;
}

export interface ProgramProposal {
  kind: 'program';
  program: string;
  input: string;
}
export interface InputsProposal {
  kind: 'inputs';
  message: string;
  inputs: string[];
}
export type Proposal = ProgramProposal | InputsProposal;

export function parseProposal(
  type: TaskType,
  lang: Lang,
  text: string,
  style: PromptStyle,
  maxInputs = 10,
): Parsed<{ proposal: Proposal }> {
  const answer = parseAnswer(text, style);
  if (!answer.ok) return answer;
  const blocks = parseBlocks(answer.body);
  if (!blocks || blocks.length === 0)
    return fail('bad_blocks', 'the answer is not a sequence of fenced blocks');
  if (type === 'induction') {
    const [message, ...inputs] = blocks;
    if (message?.tag !== 'message' || message.content.trim() === '') {
      return fail('bad_blocks', 'expected a message block first');
    }
    if (inputs.length === 0 || inputs.some((b) => b.tag !== 'input' || b.content.trim() === '')) {
      return fail('bad_blocks', 'expected input blocks after the message');
    }
    if (inputs.length > maxInputs)
      return fail('too_many_inputs', `${inputs.length} inputs, at most ${maxInputs}`);
    return {
      ok: true,
      proposal: {
        kind: 'inputs',
        message: message.content.trim(),
        inputs: inputs.map((b) => b.content.trim()),
      },
    };
  }
  const [program, input] = blocks;
  if (blocks.length !== 2 || !program || !input || input.tag !== 'input') {
    return fail('bad_blocks', 'expected a program block and an input block');
  }
  if (program.tag !== lang) return fail('wrong_language', `expected a ${lang} block, got '${program.tag}'`);
  if (program.content.trim() === '' || input.content.trim() === '') return fail('empty', 'an empty block');
  return { ok: true, proposal: { kind: 'program', program: program.content, input: input.content.trim() } };
}

/** A solver's answer: the output literal (deduction), the argument list (abduction) or a program (induction). */
export function parseSolution(
  type: TaskType,
  lang: Lang,
  text: string,
  style: PromptStyle,
): Parsed<{ answer: string }> {
  const answer = parseAnswer(text, style);
  if (!answer.ok) return answer;
  if (type !== 'induction') return { ok: true, answer: answer.body.trim() };
  const blocks = parseBlocks(answer.body);
  if (!blocks || blocks.length !== 1) return fail('bad_blocks', 'expected exactly one program block');
  const [program] = blocks as [Block];
  if (program.tag !== lang) return fail('wrong_language', `expected a ${lang} block, got '${program.tag}'`);
  if (program.content.trim() === '') return fail('empty', 'an empty program');
  return { ok: true, answer: program.content };
}
