// Strict parsing of completions. Anything that does not follow the format is a format error (reward -1),
// with a reason that is counted in the metrics.
//
//   completion (compact)   := BODY "</answer>" ANY        -- the prompt already ended with "<answer>"
//   completion (reference) := ["<think>"] THINK "</think>" WS "<answer>" BODY "</answer>" ANY
//                                                          -- THINK is everything up to the first "</think>"
//   BODY, proposer ded/abd := WS BLOCK(LANG) WS BLOCK("input") WS
//   BODY, proposer ind     := WS BLOCK("message") (WS BLOCK("input")){1,N} WS
//   BODY, solver ded       := WS LITERAL WS                -- the output, one line
//   BODY, solver abd       := WS LITERAL WS                -- the argument list, one line
//   BODY, solver ind       := WS BLOCK(LANG) WS
//   BLOCK(tag)             := "```" tag "\n" CONTENT "\n```"  -- CONTENT ends at the first "\n```"
//   LANG                   := "python" | "javascript"     -- the run's language, nothing else
//
// Line ends are normalised (CRLF -> LF) first. ANY (after "</answer>") is ignored. Errors:
//   unclosed         no "</answer>" (typically the completion was cut at the token limit)
//   doubled          a second "<answer>" inside BODY
//   no_think         reference style without "</think>"
//   no_answer        reference style: something other than "<answer>" follows "</think>"
//   empty            BODY, a block or a literal is empty or only whitespace
//   bad_blocks       BODY is not the sequence of blocks the (type, role) needs (text between blocks, a
//                    missing or extra block, a wrong tag, a fenced block where a literal is expected)
//   wrong_language   the program block is tagged with the other language
//   too_many_inputs  an induction proposal with more than N input blocks
//   multiline        a solver literal spread over several lines
// Content is never interpreted here: whether a program or literal is valid is the executor's call.
import type { Lang } from '../executor/types.js';
import type { PromptStyle, TaskType } from './types.js';

export type FormatError =
  | 'empty'
  | 'unclosed'
  | 'doubled'
  | 'no_think'
  | 'no_answer'
  | 'bad_blocks'
  | 'wrong_language'
  | 'too_many_inputs'
  | 'multiline';

export type Parsed<T> = ({ ok: true } & T) | { ok: false; reason: FormatError; detail: string };

const OPEN = '<answer>';
const CLOSE = '</answer>';
const THINK_CLOSE = '</think>';

function fail(reason: FormatError, detail: string): { ok: false; reason: FormatError; detail: string } {
  return { ok: false, reason, detail };
}

/** The answer body of a completion (see the grammar above). */
export function parseAnswer(text: string, style: PromptStyle): Parsed<{ body: string }> {
  let rest = text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  if (style === 'reference') {
    const thinkEnd = rest.indexOf(THINK_CLOSE);
    if (thinkEnd === -1) return fail('no_think', 'no </think> before the answer');
    rest = rest.slice(thinkEnd + THINK_CLOSE.length).trimStart();
    if (!rest.startsWith(OPEN)) return fail('no_answer', 'no <answer> right after </think>');
    rest = rest.slice(OPEN.length);
  }
  const close = rest.indexOf(CLOSE);
  if (close === -1) return fail('unclosed', 'no </answer>');
  const body = rest.slice(0, close);
  if (body.includes(OPEN)) return fail('doubled', 'a second <answer> inside the answer');
  if (body.trim() === '') return fail('empty', 'the answer is empty');
  return { ok: true, body };
}

export interface Block {
  tag: string;
  content: string;
}

const BLOCK = /\s*```([A-Za-z]*)\n([\s\S]*?)\n```/y;

/** Fenced blocks separated by whitespace only; null when anything else is in between or around. */
export function parseBlocks(body: string): Block[] | null {
  const blocks: Block[] = [];
  let at = 0;
  for (;;) {
    BLOCK.lastIndex = at;
    const m = BLOCK.exec(body);
    if (!m) break;
    blocks.push({ tag: m[1] as string, content: m[2] as string });
    at = BLOCK.lastIndex;
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

/**
 * A proposer's completion: a program and its input (deduction, abduction), or a message and 1..maxInputs
 * inputs for a given program (induction). Programs keep their text exactly; inputs and the message are
 * trimmed.
 */
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
    if (message?.tag !== 'message') return fail('bad_blocks', 'expected a message block first');
    if (inputs.length === 0) return fail('bad_blocks', 'expected input blocks after the message');
    const stray = inputs.find((b) => b.tag !== 'input');
    if (stray) return fail('bad_blocks', `expected only input blocks after the message, got '${stray.tag}'`);
    if (inputs.length > maxInputs)
      return fail('too_many_inputs', `${inputs.length} inputs, at most ${maxInputs}`);
    if (message.content.trim() === '') return fail('empty', 'an empty message');
    if (inputs.some((b) => b.content.trim() === '')) return fail('empty', 'an empty input block');
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

/**
 * A solver's answer: the output literal (deduction), the argument list (abduction), both trimmed and on one
 * line, or a program (induction), exactly as written.
 */
export function parseSolution(
  type: TaskType,
  lang: Lang,
  text: string,
  style: PromptStyle,
): Parsed<{ answer: string }> {
  const answer = parseAnswer(text, style);
  if (!answer.ok) return answer;
  if (type !== 'induction') {
    const literal = answer.body.trim();
    if (literal.startsWith('```')) return fail('bad_blocks', 'expected a bare literal, not a fenced block');
    if (literal.includes('\n')) return fail('multiline', 'the answer must be one line');
    return { ok: true, answer: literal };
  }
  const blocks = parseBlocks(answer.body);
  if (blocks?.length !== 1) return fail('bad_blocks', 'expected exactly one program block');
  const [program] = blocks as [Block];
  if (program.tag !== lang) return fail('wrong_language', `expected a ${lang} block, got '${program.tag}'`);
  if (program.content.trim() === '') return fail('empty', 'an empty program');
  return { ok: true, answer: program.content };
}
