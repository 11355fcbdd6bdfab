// Grammars for the compact answer format (src/tasks/prompts.ts), one per (task type, role, language).
// The program grammars describe a small, always-parseable subset of each language: a function f of one or
// two arguments, up to three simple statements (assignment, a one-line for loop, a one-line if), and a
// return; expressions over a few names, small integers, short strings, lists, a whitelist of builtins
// and methods, and one binary operator. Everything the grammar accepts parses; whether it runs is the
// executor's question, and the rewards teach the rest. Every repetition is bounded, so every sampled
// answer ends.
import type { Lang } from '../executor/types.js';
import type { DecodeConstraint } from '../model/constraint.js';
import type { Role, TaskType } from '../tasks/types.js';
import { parseGrammar } from './gbnf.js';
import { grammarConstraint } from './matcher.js';

const common = String.raw`
name ::= "a" | "b" | "c" | "i" | "n" | "s" | "x" | "y"
int ::= "0" | "-"? [1-9] [0-9]?
`;

const python = String.raw`
program ::= "def f(" params "):\n" stmt{0,3} "    return " expr
params ::= name ("," " " name)?
stmt ::= "    " name " = " expr "\n"
  | "    for " name " in " operand ":\n        " name " " augop " " expr "\n"
  | "    if " expr ":\n        " name " = " expr "\n"
augop ::= "+=" | "-=" | "*="
expr ::= operand (" " binop " " operand)?
binop ::= "+" | "-" | "*" | "//" | "%" | "==" | "<" | ">" | "in"
operand ::= int | primary ("[" index "]")? ("." method)?
primary ::= name | str | list | fn "(" atom ")" | "(" atom " " binop " " atom ")"
fn ::= "len" | "sorted" | "sum" | "max" | "min" | "abs" | "str" | "int" | "list" | "set" | "range" | "bool"
method ::= "upper()" | "lower()" | "strip()" | "split()" | "title()" | "count(" atom ")" | "find(" atom ")" | "replace(" atom ", " atom ")" | "index(" atom ")"
index ::= atom | atom? ":" atom? (":" int)?
atom ::= name | int | str
str ::= "'" [a-z ]{0,6} "'"
list ::= "[" (atom (", " atom){0,3})? "]"
args ::= value (", " value){0,2}
value ::= int | vstr | "True" | "False" | "None" | "[" (scalar (", " scalar){0,5})? "]" | "(" scalar ", " (scalar (", " scalar){0,3})? ")"
scalar ::= int | vstr | "True" | "False" | "None"
vstr ::= "'" [A-Za-z0-9 _.,!?-]{0,16} "'"
`;

const javascript = String.raw`
program ::= "function f(" params ") {\n" stmt{0,3} "  return " expr ";\n}"
params ::= name ("," " " name)?
stmt ::= "  var " name " = " expr ";\n"
  | "  for (const " name " of " operand ") {\n    " name " " augop " " expr ";\n  }\n"
  | "  if (" expr ") {\n    " name " = " expr ";\n  }\n"
augop ::= "+=" | "-=" | "*="
expr ::= operand (" " binop " " operand)?
binop ::= "+" | "-" | "*" | "%" | "===" | "<" | ">"
operand ::= int | primary ("[" atom "]")? ("." method)?
primary ::= name | str | list | fn "(" atom ")" | "(" atom " " binop " " atom ")"
fn ::= "Math.abs" | "Math.max" | "Math.min" | "String" | "Number" | "Boolean" | "Array.from"
method ::= "length" | "toUpperCase()" | "toLowerCase()" | "trim()" | "reverse()" | "sort()" | "split(" atom ")" | "join(" atom ")" | "slice(" atom ")" | "includes(" atom ")" | "indexOf(" atom ")" | "concat(" atom ")"
atom ::= name | int | str
str ::= "\"" [a-z ]{0,6} "\""
list ::= "[" (atom (", " atom){0,3})? "]"
args ::= value (", " value){0,2}
value ::= int | vstr | "true" | "false" | "null" | "[" (scalar ("," scalar){0,5})? "]"
scalar ::= int | vstr | "true" | "false" | "null"
vstr ::= "\"" [A-Za-z0-9 _.,!?-]{0,16} "\""
`;

function root(type: TaskType, role: Role, lang: Lang, inductionInputs: number): string {
  const fenceOpen = (tag: string) => `"\`\`\`${tag}\\n"`;
  const fenceClose = '"\\n```"';
  const end = '@"</answer>"';
  if (role === 'proposer') {
    if (type === 'induction') {
      const input = `"\\n" ${fenceOpen('input')} args ${fenceClose}`;
      return `root ::= ${fenceOpen('message')} [a-z] [a-z ]{2,30} ${fenceClose} (${input}){1,${inductionInputs}} ${end}`;
    }
    return `root ::= ${fenceOpen(lang)} program ${fenceClose} "\\n" ${fenceOpen('input')} args ${fenceClose} ${end}`;
  }
  if (type === 'deduction') return `root ::= value ${end}`;
  if (type === 'abduction') return `root ::= args ${end}`;
  return `root ::= ${fenceOpen(lang)} program ${fenceClose} ${end}`;
}

/** The GBNF source of one AZR grammar. */
export function azrGrammarSource(type: TaskType, role: Role, lang: Lang, inductionInputs = 10): string {
  return `${root(type, role, lang, inductionInputs)}\n${lang === 'python' ? python : javascript}${common}`;
}

const cache = new Map<string, DecodeConstraint>();

/** The constraint for `${type}/${role}/${lang}`, compiled once. */
export function azrConstraint(
  type: TaskType,
  role: Role,
  lang: Lang,
  inductionInputs = 10,
): DecodeConstraint {
  const name = `${type}/${role}/${lang}`;
  const key = `${name}/${inductionInputs}`;
  let c = cache.get(key);
  if (!c) {
    c = grammarConstraint(name, parseGrammar(azrGrammarSource(type, role, lang, inductionInputs)));
    cache.set(key, c);
  }
  return c;
}

/**
 * Resolve a constraint name as the loop writes it into GenerateRequest.constraint:
 * `${type}/${role}/${lang}` or `${type}/${role}/${lang}/${inductionInputs}`.
 */
export function constraintByName(name: string): DecodeConstraint | undefined {
  const [type, role, lang, n] = name.split('/');
  const types = ['deduction', 'abduction', 'induction'];
  if (
    !types.includes(type ?? '') ||
    (role !== 'proposer' && role !== 'solver') ||
    (lang !== 'python' && lang !== 'javascript')
  ) {
    return undefined;
  }
  return azrConstraint(type as TaskType, role, lang, n ? Number(n) : 10);
}
