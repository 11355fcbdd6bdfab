// The structure of a reference-style answer (src/tasks/parse.ts), as a grammar: free reasoning, `</think>`,
// then `<answer>` holding exactly the fenced blocks (or the one-line literal) the task type and role ask
// for, then `</answer>` and the end of the turn. What goes inside (the reasoning, code, inputs, a message)
// is free text; the grammar only keeps out what would end a section early or break the parse: the
// section's closing word (`</think>`, a closing fence, `</answer>`), a second `<answer>`, carriage returns
// (the parser reads them as line ends), and blank blocks. Every text it admits parses, and every shape
// issue 32 saw from real models (no `</think>`, no `<answer>`, an unclosed answer, wrong blocks) is
// outside it.
//
// Two rules of validation (tasks/validate.ts) are cheap to hold here as well, and untrained models broke
// them in most of their rejected proposals: a program defines `f`, so its block starts with `def f(`
// (Python, after any import lines) or `function f(`; and an induction proposal gives at least the inputs
// validation needs (inductionInputsNeeded), not one. And in Python, an input block or a literal answer
// starts as a literal does and `def f(` is followed by a parameter: untrained models copied the prompt's
// format skeleton (`def f(...):`, `arguments of call 1`) and answered abduction tasks with calls of f.
//
// One description serves every engine: renderGrammar writes it for llama.cpp's server (`grammar`), vLLM
// (`structured_outputs.grammar`) and this project's token matcher (token-constraint.ts), which bounds
// the reasoning and the whole answer by the token budget.
import type { Lang } from '../executor/types.js';
import type { DecodeConstraint } from '../model/constraint.js';
import type { AnswerConstraint } from '../tasks/answer-format.js';
import type { Role, TaskType } from '../tasks/types.js';
import { inductionInputsNeeded } from '../tasks/validate.js';
import {
  alt,
  avoidingText,
  type ClassEncoding,
  EMPTY,
  type Expr,
  type GrammarSpec,
  ref,
  renderGrammar,
  seq,
  text,
} from './ebnf.js';
import { parseGrammar } from './gbnf.js';
import { grammarConstraint } from './matcher.js';
import { TokenGrammar, type TokenVocabulary, tokenTrie } from './token-constraint.js';

export interface AnswerShape {
  type: TaskType;
  role: Role;
  lang: Lang;
  /** Input blocks an induction proposal may hold: inductionInputsNeeded(inductionInputs)..inductionInputs. */
  inductionInputs: number;
  /**
   * Where the completion starts: inside the reasoning (`think-text`: the prompt ends with `<think>`, as the
   * reference prompts do), before it (`think-tag`: a chat turn writes `<think>` itself), or after it
   * (`answer`: the prompt ends with `</think>`, the second request of a server's bounded reasoning).
   */
  startsAt: 'think-text' | 'think-tag' | 'answer';
}

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

/** Whitespace the parser skips between sections; a few forms, not a repetition, so answers end. */
/** Printable ASCII but space: what a block or literal starts with, so that it is never blank when trimmed. */
const PRINTABLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)).join('');

/**
 * What a Python literal the sandbox reads (ast.literal_eval) can start with: numbers, strings with their
 * prefixes, brackets, True/False/None and set(). Not a name: untrained models copied the prompt's
 * placeholders (`arguments of call 1`) into input blocks, which no validation accepts.
 */
const PY_LITERAL_FIRST = `0123456789-+.'"([{TFNbBrRuUs`;
const IDENT_START = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
/** What ends a block early or breaks the parse, so never inside one. */
const BLOCK_END = ['\n```', '<answer>', '</answer>'];

const GAP = alt(EMPTY, text(' '), text('\n'), text('\n\n'));
const EDGE = alt(EMPTY, text('\n'));
const SEP = alt(text('\n'), text('\n\n'));

/** What a program block starts with: validation requires a function named f. */
const ENTRY: Record<Lang, string> = { python: 'def f(', javascript: 'function f(' };

export function answerGrammarSpec(shape: AnswerShape): GrammarSpec {
  const { type, role, lang, inductionInputs: n } = shape;
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new RangeError(`inductionInputs must be an integer in 1..100, got ${n}`);
  const rules: [string, Expr][] = [];
  const think = avoidingText({ prefix: 'think', words: [THINK_CLOSE], exclude: '\r' });
  // Block content: never blank (no leading whitespace), never the closing fence (a line starting with
  // ``` ends the block, so the text before it is read as if it came after a newline), no <answer> or
  // </answer> (the parser cuts the answer at the first </answer> and refuses a second <answer>).
  const blockText = (prefix: string, first: string) =>
    avoidingText({ prefix, words: BLOCK_END, exclude: '\r', after: '\n', first });
  const content = blockText('content', PRINTABLE.replace('`', ''));
  // A Python input block holds an argument list of literals, so it starts as a literal does.
  const inputContent = lang === 'python' ? blockText('input-content', PY_LITERAL_FIRST) : content;
  const usedTexts = new Set<typeof content>();
  const block = (tag: string): Expr => {
    const body = tag === 'input' ? inputContent : content;
    usedTexts.add(body);
    return seq(text(`\`\`\`${tag}\n`), ref(body.start), text('\n```'));
  };
  // A program block: import lines (Python), then the entry point's definition, then free code. In
  // Python the definition's first parameter follows (f takes at least one), not the `...` of a skeleton.
  const code = avoidingText({
    prefix: 'code',
    words: BLOCK_END,
    exclude: '\r',
    ...(lang === 'python' ? { first: `${IDENT_START}*` } : {}),
  });
  const programBlock = (): Expr => {
    rules.push(...code.rules);
    const definition = seq(text(ENTRY[lang]), ref(code.start));
    if (lang !== 'python') return seq(text(`\`\`\`${lang}\n`), definition, text('\n```'));
    const line = avoidingText({ prefix: 'import-line', words: ['<answer>', '</answer>'], exclude: '\r\n' });
    rules.push(...line.rules, [
      'imports',
      alt(EMPTY, seq(alt(text('import '), text('from ')), ref(line.start), EDGE, text('\n'), ref('imports'))),
    ]);
    return seq(text(`\`\`\`${lang}\n`), ref('imports'), definition, text('\n```'));
  };
  let body: Expr;
  let literal: ReturnType<typeof avoidingText> | undefined;
  if (role === 'proposer' && type !== 'induction') {
    body = seq(EDGE, programBlock(), SEP, block('input'), EDGE);
  } else if (role === 'proposer') {
    // inputs-k: between 1 and k more input blocks; `least` of them first.
    const least = Math.min(n, inductionInputsNeeded(n));
    const one = seq(SEP, block('input'));
    for (let k = 1; k <= n - least; k++)
      rules.push([`inputs-${k}`, k === 1 ? one : alt(one, seq(one, ref(`inputs-${k - 1}`)))]);
    const more = n > least ? [alt(EMPTY, ref(`inputs-${n - least}`))] : [];
    body = seq(EDGE, block('message'), ...Array.from({ length: least }, () => one), ...more, EDGE);
  } else if (type === 'induction') {
    body = seq(EDGE, programBlock(), EDGE);
  } else {
    // A solver's output or argument list: one line, not blank, not a fenced block. In Python it starts as
    // a literal does; an argument list never with `f` (the sandbox reads it with ast.literal_eval, which
    // refuses calls such as `f(4, 5)`, what Qwen2.5-Coder-0.5B's abduction answers drifted to in
    // training, and frozenset(...)), an output may (a frozenset's repr).
    literal = avoidingText({
      prefix: 'literal',
      words: ['<answer>', '</answer>'],
      exclude: '\r\n',
      first:
        lang !== 'python'
          ? PRINTABLE.replace('`', '')
          : type === 'abduction'
            ? PY_LITERAL_FIRST
            : `${PY_LITERAL_FIRST}f`,
    });
    const pad = alt(EMPTY, text(' '), text('\n'));
    body = seq(pad, ref(literal.start), pad);
  }
  const answer = seq(GAP, text('<answer>'), body, text('</answer>'));
  const reasoning = seq(ref(think.start), text(THINK_CLOSE));
  const root =
    shape.startsAt === 'answer'
      ? answer
      : seq(shape.startsAt === 'think-tag' ? text(THINK_OPEN) : EMPTY, reasoning, answer);
  return {
    rules: [
      ['root', root],
      ...rules,
      ...(shape.startsAt === 'answer' ? [] : think.rules),
      ...[...usedTexts].flatMap((t) => t.rules),
      ...(literal ? literal.rules : []),
    ],
  };
}

const rendered = new Map<string, string>();

/**
 * The grammar's text, built once per shape: `characters` for llama.cpp's `grammar` field and vLLM's
 * `structured_outputs.grammar` (XGrammar), `bytes` for this project's matcher (see ebnf.ts).
 */
export function answerGrammar(shape: AnswerShape, enc: ClassEncoding = 'characters'): string {
  const key = `${shape.type}/${shape.role}/${shape.lang}/${shape.inductionInputs}/${shape.startsAt}/${enc}`;
  let g = rendered.get(key);
  if (g === undefined) {
    g = renderGrammar(answerGrammarSpec(shape), enc);
    rendered.set(key, g);
  }
  return g;
}

const tokenGrammars = new WeakMap<TokenVocabulary, Map<string, TokenGrammar>>();

/** Default share of the token budget the reasoning may take before it is steered to `</think>`. */
export const DEFAULT_THINK_SHARE = 0.5;

/**
 * The answer grammar over a BPE vocabulary, for the built-in engine's sampler: one per shape and
 * vocabulary, its masks cached across every sequence sampled with it.
 */
export function answerTokenGrammar(
  vocab: TokenVocabulary,
  shape: AnswerShape,
  thinkShare = DEFAULT_THINK_SHARE,
): TokenGrammar {
  let byShape = tokenGrammars.get(vocab);
  if (!byShape) {
    byShape = new Map();
    tokenGrammars.set(vocab, byShape);
  }
  const key = `${shape.type}/${shape.role}/${shape.lang}/${shape.inductionInputs}/${shape.startsAt}/${thinkShare}`;
  let g = byShape.get(key);
  if (!g) {
    const think =
      shape.startsAt === 'answer'
        ? undefined
        : { open: shape.startsAt === 'think-tag' ? THINK_OPEN : '', close: THINK_CLOSE, share: thinkShare };
    g = new TokenGrammar(parseGrammar(answerGrammar(shape, 'bytes')), vocab, tokenTrie(vocab), think);
    byShape.set(key, g);
  }
  return g;
}

/** The shape of a request's answer; its prompt ends with `<think>` unless told otherwise. */
export function answerShapeOf(
  c: AnswerConstraint,
  startsAt: AnswerShape['startsAt'] = 'think-text',
): AnswerShape {
  return { type: c.type, role: c.role, lang: c.lang, inductionInputs: c.inductionInputs, startsAt };
}

const byteConstraints = new Map<string, DecodeConstraint>();

/** The answer structure over the built-in model's byte vocabulary (a byte is a token), once per shape. */
export function answerByteConstraint(shape: AnswerShape): DecodeConstraint {
  const text = answerGrammar(shape, 'bytes');
  let c = byteConstraints.get(text);
  if (!c) {
    c = grammarConstraint(`${shape.type}/${shape.role}/${shape.lang}`, parseGrammar(text));
    byteConstraints.set(text, c);
  }
  return c;
}

/**
 * A pretrained policy's constraints (src/policy/pretrained.ts's VocabularyConstraints): the answer
 * structure over its vocabulary, from the prompt's own `<think>` when the prompt is read as text, from
 * the turn's first token (which must then open the reasoning) when it is a chat template's user turn.
 */
export function pretrainedConstraints(
  tokenizer: TokenVocabulary,
  chat: boolean,
): (c: AnswerConstraint) => DecodeConstraint | undefined {
  return answerTokenConstraints(tokenizer, { startsAt: chat ? 'think-tag' : 'think-text' });
}

/**
 * Each request's decoding constraint over a real model's BPE vocabulary, for the built-in engine's policy
 * (BuiltinPolicyOptions.constraints): the answer structure of reference-style requests, with the
 * reasoning bounded to `thinkShare` of the budget. Compact-style requests (the built-in model's typed
 * program grammar, over bytes) have no meaning here and decode freely.
 */
export function answerTokenConstraints(
  vocab: TokenVocabulary,
  opts: { startsAt?: AnswerShape['startsAt']; thinkShare?: number } = {},
): (c: AnswerConstraint) => DecodeConstraint | undefined {
  return (c) => {
    if (c.style !== 'reference') return undefined;
    const shape = answerShapeOf(c, opts.startsAt);
    return answerTokenGrammar(vocab, shape, opts.thinkShare).constraint(`${c.type}/${c.role}/${c.lang}`);
  };
}
