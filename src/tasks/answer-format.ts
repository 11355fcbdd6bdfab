// How tasks are asked and answered, as one value: the prompt style, induction's input count, and (for a
// policy that can constrain decoding) the answer grammar's settings. A run builds it once from its config
// (answerFormatOf in src/run/config.ts); training, generate mode and every evaluation of that run read the
// same value, and only src/grammar/ turns a request's AnswerConstraint into a token mask.
import type { Lang } from '../executor/types.js';
import type { PromptStyle, Role, TaskType } from './types.js';

/** The answer grammar's settings (src/grammar/azr.ts says what each allows). */
export interface GrammarSettings {
  /** Answers about a program take as many arguments as its `def f(...)` line shows. */
  matchArity: boolean;
  /** Programs are a single `return` line. */
  returnOnly: boolean;
  /** Nesting depth of program expressions below the top-level operator (1 or 2). */
  exprDepth: number;
  /** Proposed inputs are short literals. */
  shortInputs: boolean;
  /** A program may return a condition (True/False). */
  boolReturns: boolean;
}

/**
 * Grammar settings for a reference-style format, whose grammar constrains only the answer's structure
 * (the program settings are not read): what generate mode and server evaluations send to a server.
 */
export const STRUCTURE_ONLY: GrammarSettings = {
  matchArity: false,
  returnOnly: false,
  exprDepth: 2,
  shortInputs: false,
  boolReturns: true,
};

export interface AnswerFormat {
  style: PromptStyle;
  /** Inputs an induction proposer writes (N). */
  inductionInputs: number;
  /** The decoding grammar; null: free decoding (a policy that cannot constrain, or a run that chose not to). */
  grammar: GrammarSettings | null;
}

export type Arity = 1 | 2;

/** One request's decoding constraint, as data: which answer, in which language, under which settings. */
export interface AnswerConstraint extends Omit<GrammarSettings, 'matchArity'> {
  /**
   * The prompt style the answer follows: `compact` answers are constrained to the typed program grammar
   * (the settings below), `reference` answers to the answer structure alone (src/grammar/answer-structure.ts),
   * which ignores the program settings.
   */
  style: PromptStyle;
  type: TaskType;
  role: Role;
  lang: Lang;
  inductionInputs: number;
  /** Arguments the answer may take, when the format matches arity and the program shows it. */
  arity?: Arity;
}

/** Parameters of `f` as written on its `def`/`function` line, when there are one or two. */
export function programArity(program: string): Arity | undefined {
  const m = /(?:def|function)\s+f\s*\(([^)]*)\)/.exec(program);
  if (!m) return undefined;
  const params = (m[1] ?? '').split(',').filter((p) => p.trim() !== '');
  return params.length === 1 || params.length === 2 ? (params.length as Arity) : undefined;
}

/**
 * The constraint of a (type, role) request under `format`, or undefined when decoding is free. `program`
 * is what the prompt shows: the task's program, or an induction proposer's subject.
 */
export function answerConstraint(
  format: AnswerFormat,
  type: TaskType,
  role: Role,
  lang: Lang,
  program?: string,
): AnswerConstraint | undefined {
  const g = format.grammar;
  if (!g) return undefined;
  const arity = g.matchArity && program !== undefined ? programArity(program) : undefined;
  return {
    style: format.style,
    type,
    role,
    lang,
    inductionInputs: format.inductionInputs,
    ...(arity ? { arity } : {}),
    returnOnly: g.returnOnly,
    exprDepth: g.exprDepth,
    shortInputs: g.shortInputs,
    boolReturns: g.boolReturns,
  };
}
