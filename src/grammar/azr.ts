// Grammars for the compact answer format (src/tasks/prompts.ts), one per (task type, role, language).
//
// At cold start the model's weights are random, so it samples close to uniformly among the tokens the
// grammar allows: the grammar's random walks ARE the first policy. The program grammar is therefore
// typed, so that most random walks are programs that run. Each parameter has a type (int, str, or list
// of ints), every expression is built for the type it must have, and only names that exist at that point
// are read (y after its assignment, the loop variable i inside its loop). Types are not written in the
// text: the matcher keeps one parse per signature still possible, so `x.upper()` rules out every
// signature where x is not a string, and the input block that follows the program in a proposal is then
// constrained to literals of the surviving signatures' types. Loops iterate over the parameters only
// (never over a y that the loop grows), so no program loops forever. Every repetition and every
// expression nesting is bounded, so every sampled answer ends.
//
// What remains possible at run time: an index past the end of a short input, and in Python ValueError
// from int() is avoided by not offering it. Semantics are the executor's question; the rewards teach it.
import type { Lang } from '../executor/types.js';
import type { DecodeConstraint } from '../model/constraint.js';
import type { AnswerConstraint, Arity } from '../tasks/answer-format.js';
import type { Role, TaskType } from '../tasks/types.js';
import { answerByteConstraint, answerShapeOf } from './answer-structure.js';
import { type Grammar, parseGrammar } from './gbnf.js';
import { grammarConstraint } from './matcher.js';

/** Value types of the program subset: int, str, list of ints. */
type Ty = 'I' | 'S' | 'L';
const TYPES: readonly Ty[] = ['I', 'S', 'L'];

/** Names in scope with their types, in a fixed order (the rule suffix is derived from it). */
type Env = ReadonlyArray<readonly [name: string, ty: Ty]>;

export interface AzrGrammarOptions {
  /** Input blocks an induction proposal may write (1..n); default 10. */
  inductionInputs?: number;
  /** Statements between `y = ...` and the final return; default 3. */
  maxStatements?: number;
  /**
   * Programs are one `return` of an expression over the parameters (no `y`, no statements); default
   * false. The short form a small model can learn to read and write first (docs/results.md).
   */
  returnOnly?: boolean;
  /** Nesting depth of expressions below the top-level operator (1 or 2); default 2. */
  exprDepth?: number;
  /**
   * Proposed inputs are short: one-digit integers, lowercase strings of up to 6 letters, lists of up to
   * 4 such integers; default false. Solver answers keep the full literal range either way. A random walk
   * through a literal rule almost always reaches its maximum length (closing is one byte among dozens),
   * so the bound is what sets the length of cold-start inputs, and with it of every output to predict.
   */
  shortInputs?: boolean;
  /**
   * A return may be a condition (`a > 2`, `'x' in a`); default true. Without, programs return ints,
   * strings and lists: a True/False output is guessed right half the time, so deduction on such
   * programs rewards a solver that always answers False as much as one that runs the code.
   */
  boolReturns?: boolean;
}

/** Per-language spelling of the same program subset. */
interface Dialect {
  /** Literals used inside programs (list literals are built from int atoms). */
  int: string;
  str: string;
  /**
   * Depth d > 0 constructs over the depth d-1 rules (named by `at(type)`): those that start with a
   * token of their own, and postfix ones keyed by operand and result type (`SI`: a str operand, an int
   * result). Postfix forms are grouped per key so the matcher keeps one stack per key, not per form.
   */
  build(at: (t: Ty) => string): {
    prefix: Record<Ty, string[]>;
    postfix: Partial<Record<`${Ty}${Ty}`, string[]>>;
  };
  /** Top-level expressions from depth-2 atoms `top(type)`. */
  top(top: (t: Ty) => string): Record<Ty, string[]>;
  cond(e: (t: Ty) => string, top: (t: Ty) => string): string[];
  aug: Record<Ty, string[]>;
  program(params: string, body: string): string;
  body(o: BodyParts): string[];
  /** Literals for inputs and outputs. */
  values: string;
}

interface BodyParts {
  /** `return` of any expression over the parameters only. */
  ret0: string;
  /** Per y-type: the assignment expression, the statement rule, the return over params + y. */
  y: Record<Ty, { init: string; stmt: string; ret: string }>;
  maxStatements: number;
  returnOnly: boolean;
}

// Integer literals inside programs start with one of few bytes: a uniform pick among allowed bytes would
// otherwise choose a literal over a parameter name ten times out of eleven, and most cold-start programs
// would ignore their input.
const PY_INT = '[0-3] | "1" [0-9] | "-1"';
const JS_INT = PY_INT;

const python: Dialect = {
  int: PY_INT,
  str: `"'" [a-z ]{0,4} "'"`,
  build: (at) => ({
    prefix: {
      I: [
        `("len(" | "sum(") ${at('L')} ")"`,
        `"len(" ${at('S')} ")"`,
        `"abs(" ${at('I')} ")"`,
        `("max(" | "min(") ${at('I')} ", " ${at('I')} ")"`,
        `"(" ${at('I')} " " ("+" | "-" | "*") " " ${at('I')} ")"`,
      ],
      S: [
        `"str(" ${at('I')} ")"`,
        `"''.join(sorted(" ${at('S')} "))"`,
        `"(" ${at('S')} " + " ${at('S')} ")"`,
      ],
      L: [
        `"sorted(" ${at('L')} ")"`,
        `"list(reversed(" ${at('L')} "))"`,
        `"list(range(" ${at('I')} "))"`,
        `"[v " ("+" | "-" | "*" | "%") " " ${at('I')} " for v in " ${at('L')} "]"`,
        `"[v for v in " ${at('L')} " if v " ("<" | ">" | "==") " " ${at('I')} "]"`,
        `"(" ${at('L')} " + " ${at('L')} ")"`,
      ],
    },
    postfix: {
      SI: [`(".count(" | ".find(") ${at('S')} ")"`],
      LI: [`".count(" ${at('I')} ")"`, '"[" index "]"'],
      SS: [
        `"." ("upper()" | "lower()" | "strip()" | "title()" | "swapcase()" | "replace(" ${at('S')} ", " ${at('S')} ")")`,
        '"[" (slice | index) "]"',
      ],
      LL: ['"[" slice "]"'],
    },
  }),
  top: (top) => ({
    I: [`${top('I')} (" " ("+" | "-" | "*") " " ${top('I')})?`, `${top('I')} " " ("//" | "%") " " [1-9]`],
    S: [`${top('S')} (" + " ${top('S')})?`, `${top('S')} " * " [1-3]`],
    L: [`${top('L')} (" + " ${top('L')})?`],
  }),
  cond: (e, top) => [
    `${e('I')} " " ("==" | "!=" | "<" | ">") " " ${e('I')}`,
    `${top('S')} " " ("==" | "!=" | "in") " " ${top('S')}`,
    `${top('I')} " in " ${top('L')}`,
    `${top('S')} "." ("isdigit()" | "isalpha()" | "isupper()" | "islower()")`,
  ],
  aug: { I: ['"+="', '"-="', '"*="'], S: ['"+="'], L: ['"+="'] },
  program: (params, body) => `"def f(${params}):\\n" ${body}`,
  body: ({ ret0, y, maxStatements, returnOnly }) => [
    `"    return " ${ret0}`,
    ...(returnOnly ? [] : TYPES).map(
      (t) => `"    y = " ${y[t].init} "\\n" ${y[t].stmt}{0,${maxStatements}} "    return " ${y[t].ret}`,
    ),
  ],
  values: String.raw`
pyint ::= "0" | "-"? [1-9] [0-9]{0,5}
pystr ::= "'" [A-Za-z0-9 _.,!?-]{0,16} "'"
litI ::= "0" | "-"? [1-9] [0-9]?
litS ::= "'" [A-Za-z0-9 ]{0,12} "'"
litL ::= "[" (litI (", " litI){0,5})? "]"
shortI ::= "0" | "-"? [1-9]
shortS ::= "'" [a-z]{0,6} "'"
shortL ::= "[" (shortI (", " shortI){0,3})? "]"
scalar ::= pyint | pystr | "True" | "False" | "None"
value ::= scalar | "[" (scalar (", " scalar){0,9})? "]" | "(" scalar ", " (scalar (", " scalar){0,3})? ")"
`,
};

const javascript: Dialect = {
  int: JS_INT,
  str: '"\\"" [a-z ]{0,4} "\\""',
  build: (at) => ({
    prefix: {
      I: [
        `"Math.abs(" ${at('I')} ")"`,
        `("Math.max(" | "Math.min(") ${at('I')} ", " ${at('I')} ")"`,
        `"(" ${at('I')} " " ("+" | "-" | "*") " " ${at('I')} ")"`,
      ],
      S: [`"String(" ${at('I')} ")"`, `"(" ${at('S')} " + " ${at('S')} ")"`],
      L: [`"[..." ${at('L')} "]." ("reverse()" | "sort((p, q) => p - q)")`],
    },
    postfix: {
      SI: [`".length"`, `".indexOf(" ${at('S')} ")"`],
      LI: [`".length"`, `".indexOf(" ${at('I')} ")"`, '".reduce((s, v) => s + v, 0)"'],
      SS: [
        `"." ("toUpperCase()" | "toLowerCase()" | "trim()" | "split(\\"\\").reverse().join(\\"\\")")`,
        `".slice(" ${at('I')} (", " ${at('I')})? ")"`,
        `".charAt(" ${at('I')} ")"`,
        `".repeat(" [0-3] ")"`,
      ],
      LS: [`".join(" ${at('S')} ")"`],
      LL: [
        `".slice(" ${at('I')} ")"`,
        `".map((v) => v " ("+" | "-" | "*" | "%") " " ${at('I')} ")"`,
        `".filter((v) => v " ("<" | ">" | "===") " " ${at('I')} ")"`,
        `".concat(" ${at('L')} ")"`,
      ],
    },
  }),
  top: (top) => ({
    I: [
      `${top('I')} (" " ("+" | "-" | "*") " " ${top('I')})?`,
      `${top('I')} " % " [1-9]`,
      `"Math.floor(" ${top('I')} " / " [1-9] ")"`,
    ],
    S: [`${top('S')} (" + " ${top('S')})?`],
    L: [top('L')],
  }),
  cond: (e, top) => [
    `${e('I')} " " ("===" | "!==" | "<" | ">") " " ${e('I')}`,
    `${top('S')} " " ("===" | "!==") " " ${top('S')}`,
    `${top('S')} (".includes(" | ".startsWith(") ${top('S')} ")"`,
    `${top('L')} ".includes(" ${top('I')} ")"`,
  ],
  aug: { I: ['"+="', '"-="', '"*="'], S: ['"+="'], L: [] },
  program: (params, body) => `"function f(${params}) {\\n" ${body} "}"`,
  body: ({ ret0, y, maxStatements, returnOnly }) => [
    `"  return " ${ret0} ";\\n"`,
    ...(returnOnly ? [] : TYPES).map(
      (t) =>
        `"  let y = " ${y[t].init} ";\\n" ${y[t].stmt}{0,${maxStatements}} "  return " ${y[t].ret} ";\\n"`,
    ),
  ],
  values: String.raw`
jsint ::= "0" | "-"? [1-9] [0-9]{0,5}
jsstr ::= "\"" [A-Za-z0-9 _.,!?-]{0,16} "\""
litI ::= "0" | "-"? [1-9] [0-9]?
litS ::= "\"" [A-Za-z0-9 ]{0,12} "\""
litL ::= "[" (litI (", " litI){0,5})? "]"
shortI ::= "0" | "-"? [1-9]
shortS ::= "\"" [a-z]{0,6} "\""
shortL ::= "[" (shortI (", " shortI){0,3})? "]"
scalar ::= jsint | jsstr | "true" | "false" | "null"
value ::= scalar | "[" (scalar (", " scalar){0,9})? "]"
`,
};

const DIALECTS: Record<Lang, Dialect> = { python, javascript };

/** Writes the typed program rules of one language; expression rules are shared by equal scopes. */
class ProgramGrammar {
  private readonly lines: string[] = [];
  private readonly envIds = new Map<string, number>();

  constructor(
    private readonly lang: Lang,
    private readonly opts: Required<Omit<AzrGrammarOptions, 'inductionInputs' | 'shortInputs'>>,
  ) {
    const d = DIALECTS[lang];
    this.lines.push(`int ::= ${d.int}`, `str ::= ${d.str}`, `index ::= "0" | "1" | "-1"`);
    this.lines.push(`slice ::= ("-"? [1-3])? ":" ("-"? [1-3])? | "::-1" | "::2"`);
  }

  /** The expression rules over `env`; returns their suffix. */
  private exprs(env: Env): string {
    const key = env.map(([n, t]) => `${n}:${t}`).join(',');
    let id = this.envIds.get(key);
    if (id !== undefined) return `_${id}`;
    id = this.envIds.size;
    this.envIds.set(key, id);
    const sfx = `_${id}`;
    const d = DIALECTS[this.lang];
    // List literals hold integer atoms: literals and the int names in scope (e.g. [i, 2]).
    const lit: Record<Ty, string> = { I: 'int', S: 'str', L: `"[" (I0${sfx} (", " I0${sfx}){0,3})? "]"` };
    for (const t of TYPES) {
      const names = env.filter(([, ty]) => ty === t).map(([n]) => `"${n}"`);
      this.lines.push(`${t}0${sfx} ::= ${[lit[t], ...names].join(' | ')}`);
    }
    const depths = Array.from({ length: this.opts.exprDepth }, (_, k) => k + 1);
    for (const depth of depths) {
      const at = (t: Ty) => `${t}${depth - 1}${sfx}`;
      const { prefix, postfix } = d.build(at);
      for (const t of TYPES) {
        const alts = [at(t), ...prefix[t]];
        for (const from of TYPES) {
          const forms = postfix[`${from}${t}`];
          if (!forms) continue;
          const post = `post${from}${t}${depth}${sfx}`;
          this.lines.push(`${post} ::= ${forms.join(' | ')}`);
          alts.push(`${at(from)} ${post}`);
        }
        this.lines.push(`${t}${depth}${sfx} ::= ${alts.join(' | ')}`);
      }
    }
    const tops = d.top((t) => `${t}${this.opts.exprDepth}${sfx}`);
    for (const t of TYPES) this.lines.push(`e${t}${sfx} ::= ${tops[t].join(' | ')}`);
    this.lines.push(
      `cond${sfx} ::= ${d
        .cond(
          (t) => `e${t}${sfx}`,
          (t) => `${t}${this.opts.exprDepth}${sfx}`,
        )
        .join(' | ')}`,
    );
    const conds = this.opts.boolReturns ? ` | cond${sfx}` : '';
    this.lines.push(`ret${sfx} ::= eI${sfx} | eS${sfx} | eL${sfx}${conds}`);
    return sfx;
  }

  /** A statement after `y = ...` in a function with parameters `params`, y of type `ty`. */
  private stmt(params: Env, ty: Ty, name: string): void {
    const py = this.lang === 'python';
    const withY: Env = [...params, ['y', ty]];
    const e = this.exprs(withY);
    const p = this.exprs(params);
    const d = DIALECTS[this.lang];
    const ind = py ? '    ' : '  ';
    const end = py ? '\\n' : ';\\n';
    const aug = d.aug[ty].length > 0 ? `("=" | ${d.aug[ty].join(' | ')})` : '"="';
    // One statement inside a loop body, with the loop variable i of type it.
    const inner = (it: Ty, deeper: string): string => {
      const s = this.exprs([...withY, ['i', it]]);
      return `"${deeper}y " ${aug} " " e${ty}${s} "${end}"`;
    };
    const alts: string[] = [`"${ind}y " ${aug} " " e${ty}${e} "${end}"`];
    if (py) {
      alts.push(`"    for i in range(" I1${p} "):\\n" ${inner('I', '        ')}`);
      alts.push(`"    for i in " L1${p} ":\\n" ${inner('I', '        ')}`);
      alts.push(`"    for i in " S1${p} ":\\n" ${inner('S', '        ')}`);
      alts.push(
        `"    if " cond${e} ":\\n        y = " e${ty}${e} "\\n" ("    else:\\n        y = " e${ty}${e} "\\n")?`,
      );
    } else {
      const close = '"  }\\n"';
      alts.push(`"  for (let i = 0; i < " I1${p} "; i++) {\\n" ${inner('I', '    ')} ${close}`);
      alts.push(`"  for (const i of " L1${p} ") {\\n" ${inner('I', '    ')} ${close}`);
      alts.push(`"  for (const i of " S1${p} ") {\\n" ${inner('S', '    ')} ${close}`);
      alts.push(
        `"  if (" cond${e} ") {\\n    y = " e${ty}${e} ";\\n  }" (" else {\\n    y = " e${ty}${e} ";\\n  }")? "\\n"`,
      );
    }
    this.lines.push(`${name} ::= ${alts.join(' | ')}`);
  }

  /** The rule `program` (any signature), `program1`/`program2` by arity, and `task` (a program and its input). */
  build(): string {
    const d = DIALECTS[this.lang];
    // One-parameter programs call it `a`, like the first of two: a name means the same in both.
    const sigs: Env[] = [];
    for (const t of TYPES) sigs.push([['a', t]]);
    for (const a of TYPES)
      for (const b of TYPES)
        sigs.push([
          ['a', a],
          ['b', b],
        ]);
    const tasks: string[] = [];
    const byArity: Record<Arity, string[]> = { 1: [], 2: [] };
    sigs.forEach((sig, k) => {
      const p = this.exprs(sig);
      const y = {} as BodyParts['y'];
      if (!this.opts.returnOnly) {
        for (const t of TYPES) {
          const stmt = `stmt${t}_s${k}`;
          this.stmt(sig, t, stmt);
          y[t] = { init: `e${t}${p}`, stmt, ret: `ret${this.exprs([...sig, ['y', t]])}` };
        }
      }
      const body = d.body({
        ret0: `ret${p}`,
        y,
        maxStatements: this.opts.maxStatements,
        returnOnly: this.opts.returnOnly,
      });
      this.lines.push(`body_s${k} ::= ${body.join(' | ')}`);
      const params = sig.map(([n]) => n).join(', ');
      this.lines.push(`program_s${k} ::= ${d.program(params, `body_s${k}`)}`);
      byArity[sig.length as Arity].push(`program_s${k}`);
      const args = sig.map(([, t]) => `in${t}`).join(' ", " ');
      tasks.push(`program_s${k} "\\n\`\`\`\\n\`\`\`input\\n" ${args}`);
    });
    this.lines.push(`program1 ::= ${byArity[1].join(' | ')}`);
    this.lines.push(`program2 ::= ${byArity[2].join(' | ')}`);
    this.lines.push('program ::= program1 | program2');
    // A proposal's input is typed by the program's signature (the matcher tracks which ones remain).
    this.lines.push(`task ::= ${tasks.join(' | ')}`);
    return `${this.lines.join('\n')}\n${d.values}`;
  }
}

function rootRules(lang: Lang, inductionInputs: number, shortInputs: boolean): string {
  const fence = (tag: string) => `"\`\`\`${tag}\\n"`;
  const close = '"\\n```"';
  const end = '@"</answer>"';
  const input = (args: string) => `"\\n" ${fence('input')} ${args} ${close}`;
  const lines = [
    `root ::= propose-program | propose-inputs | solve-output | solve-input | solve-program`,
    `propose-program ::= ${fence(lang)} task ${close} ${end}`,
    `solve-output ::= value ${end}`,
    'arg ::= litI | litS | litL',
    'args ::= arg (", " arg)?',
    'args1 ::= arg',
    'args2 ::= arg ", " arg',
    // Literals a proposer writes as inputs.
    ...TYPES.map((t) => `in${t} ::= ${shortInputs ? 'short' : 'lit'}${t}`),
    'inarg ::= inI | inS | inL',
    'inargs ::= inarg (", " inarg)?',
    'inargs1 ::= inarg',
    'inargs2 ::= inarg ", " inarg',
  ];
  for (const n of ['', '1', '2']) {
    const message = `${fence('message')} [a-z] [a-z ]{2,30} ${close}`;
    lines.push(`propose-inputs${n} ::= ${message} (${input(`inargs${n}`)}){1,${inductionInputs}} ${end}`);
    lines.push(`solve-input${n} ::= args${n} ${end}`);
    lines.push(`solve-program${n} ::= ${fence(lang)} program${n} ${close} ${end}`);
  }
  return lines.join('\n');
}

/** The GBNF source of one language's AZR grammar; its start rules are named by `startRule`. */
export function azrGrammarSource(lang: Lang, opts: AzrGrammarOptions = {}): string {
  const { inductionInputs, shortInputs, ...program } = resolve(opts);
  return `${rootRules(lang, inductionInputs, shortInputs)}\n${new ProgramGrammar(lang, program).build()}`;
}

/** The rule an answer of this (type, role) starts from; with an arity, the rule for that many parameters. */
export function startRule(type: TaskType, role: Role, arity?: Arity): string {
  const n = arity === undefined || (type === 'deduction' && role === 'solver') ? '' : String(arity);
  if (role === 'proposer') return type === 'induction' ? `propose-inputs${n}` : 'propose-program';
  return type === 'deduction'
    ? 'solve-output'
    : type === 'abduction'
      ? `solve-input${n}`
      : `solve-program${n}`;
}

function resolve(opts: AzrGrammarOptions): Required<AzrGrammarOptions> {
  const inductionInputs = opts.inductionInputs ?? 10;
  const maxStatements = opts.maxStatements ?? 3;
  const returnOnly = opts.returnOnly ?? false;
  const exprDepth = opts.exprDepth ?? 2;
  const shortInputs = opts.shortInputs ?? false;
  const boolReturns = opts.boolReturns ?? true;
  if (!Number.isInteger(inductionInputs) || inductionInputs < 1 || inductionInputs > 100)
    throw new RangeError(`inductionInputs must be an integer in 1..100, got ${inductionInputs}`);
  if (!Number.isInteger(maxStatements) || maxStatements < 0 || maxStatements > 6)
    throw new RangeError(`maxStatements must be an integer in 0..6, got ${maxStatements}`);
  if (exprDepth !== 1 && exprDepth !== 2) throw new RangeError(`exprDepth must be 1 or 2, got ${exprDepth}`);
  return { inductionInputs, maxStatements, returnOnly, exprDepth, shortInputs, boolReturns };
}

// One parse per language and options; the (type, role, arity) grammars share its rules and differ in root.
const parsed = new Map<string, Grammar>();
const constraints = new Map<string, DecodeConstraint>();

/** The constraint for `${type}/${role}/${lang}`, compiled once per process. */
export function azrConstraint(
  type: TaskType,
  role: Role,
  lang: Lang,
  opts: AzrGrammarOptions | number = {},
  arity?: Arity,
): DecodeConstraint {
  const o = resolve(typeof opts === 'number' ? { inductionInputs: opts } : opts);
  const rule = startRule(type, role, arity);
  const gkey = `${lang}/${o.inductionInputs}/${o.maxStatements}/${o.returnOnly}/${o.exprDepth}/${o.shortInputs}/${o.boolReturns}`;
  const key = `${type}/${role}/${rule}/${gkey}`;
  let c = constraints.get(key);
  if (!c) {
    let g = parsed.get(gkey);
    if (!g) {
      g = parseGrammar(azrGrammarSource(lang, o));
      parsed.set(gkey, g);
    }
    const root = g.names.indexOf(rule);
    c = grammarConstraint(`${type}/${role}/${lang}`, { ...g, root });
    constraints.set(key, c);
  }
  return c;
}

/**
 * The decoding constraint of one request over the built-in byte vocabulary: for a compact-style answer the
 * grammar's start rule for its (type, role, arity); for a reference-style one the answer structure.
 */
export function constraintFor(c: AnswerConstraint): DecodeConstraint {
  if (c.style === 'reference') return answerByteConstraint(answerShapeOf(c));
  const { type, role, lang, arity, style: _, ...opts } = c;
  return azrConstraint(type, role, lang, opts, arity);
}
