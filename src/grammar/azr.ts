// Grammars for the compact answer format (src/tasks/prompts.ts), one per (task type, role, language).
// The program grammars describe a small, always-parseable subset of each language: a function f of one
// argument (x) or two (a, b), either a single return or an assignment to y followed by up to two simple statements (assignment, a
// one-line for loop over i, a one-line if) and a return; expressions over a few names, small integers, short strings, lists, a whitelist of builtins
// and methods, and one binary operator. Everything the grammar accepts parses; whether it runs is the
// executor's question, and the rewards teach the rest. Every repetition is bounded, so every sampled
// answer ends.
import type { Lang } from '../executor/types.js';
import type { DecodeConstraint } from '../model/constraint.js';
import type { Role, TaskType } from '../tasks/types.js';
import { parseGrammar } from './gbnf.js';
import { grammarConstraint } from './matcher.js';

const common = String.raw`
int ::= "0" | "-"? [1-9] [0-9]?
`;

// Rules of the function body, written once per arity k so each body only reads names that exist when it
// runs: a body is either a single return over the parameters, or starts by assigning y from the
// parameters, after which y is readable too, and the loop variable i is readable inside its loop.
const pythonBody = (k: number, params: string) => String.raw`
program${k} ::= "def f(${k === 1 ? 'x' : 'a, b'}):\n" ("    y = " expr${k}p "\n" stmt${k}{0,2} "    return " expr${k}y | "    return " expr${k}p)
${pythonExpr(`${k}p`, params)}${pythonExpr(`${k}y`, `${params} | "y"`)}${pythonExpr(`${k}i`, `${params} | "y" | "i"`)}
stmt${k} ::= "    y = " expr${k}y "\n"
  | "    for i in " operand${k}y ":\n        y " augop " " expr${k}i "\n"
  | "    if " expr${k}y ":\n        y = " expr${k}y "\n"
`;

// Expressions over a given set of readable names.
const pythonExpr = (k: string, names: string) => String.raw`
name${k} ::= ${names}
expr${k} ::= operand${k} (" " binop " " operand${k})?
operand${k} ::= int | primary${k} ("[" index${k} "]")? ("." method${k})?
primary${k} ::= name${k} | str | list${k} | fn "(" atom${k} ")" | "(" atom${k} " " binop " " atom${k} ")"
method${k} ::= "upper()" | "lower()" | "strip()" | "split()" | "title()" | "count(" atom${k} ")" | "find(" atom${k} ")" | "replace(" atom${k} ", " atom${k} ")" | "index(" atom${k} ")"
index${k} ::= atom${k} | atom${k}? ":" atom${k}? (":" int)?
atom${k} ::= name${k} | int | str
list${k} ::= "[" (atom${k} (", " atom${k}){0,3})? "]"
`;

const python = String.raw`
program ::= program1 | program2
augop ::= "+=" | "-=" | "*="
binop ::= "+" | "-" | "*" | "//" | "%" | "==" | "<" | ">" | "in"
fn ::= "len" | "sorted" | "sum" | "max" | "min" | "abs" | "str" | "int" | "list" | "set" | "range" | "bool"
str ::= "'" [a-z ]{0,6} "'"
args ::= value (", " value)?
args1 ::= value
args2 ::= value ", " value
value ::= int | vstr | "True" | "False" | "None" | "[" (scalar (", " scalar){0,5})? "]" | "(" scalar ", " (scalar (", " scalar){0,3})? ")"
scalar ::= int | vstr | "True" | "False" | "None"
vstr ::= "'" [A-Za-z0-9 _.,!?-]{0,16} "'"
${pythonBody(1, '"x"')}${pythonBody(2, '"a" | "b"')}`;

const javascriptBody = (k: number, params: string) => String.raw`
program${k} ::= "function f(${k === 1 ? 'x' : 'a, b'}) {\n" ("  var y = " expr${k}p ";\n" stmt${k}{0,2} "  return " expr${k}y | "  return " expr${k}p) ";\n}"
${javascriptExpr(`${k}p`, params)}${javascriptExpr(`${k}y`, `${params} | "y"`)}${javascriptExpr(`${k}i`, `${params} | "y" | "i"`)}
stmt${k} ::= "  y = " expr${k}y ";\n"
  | "  for (const i of " operand${k}y ") {\n    y " augop " " expr${k}i ";\n  }\n"
  | "  if (" expr${k}y ") {\n    y = " expr${k}y ";\n  }\n"
`;

const javascriptExpr = (k: string, names: string) => String.raw`
name${k} ::= ${names}
expr${k} ::= operand${k} (" " binop " " operand${k})?
operand${k} ::= int | primary${k} ("[" atom${k} "]")? ("." method${k})?
primary${k} ::= name${k} | str | list${k} | fn "(" atom${k} ")" | "(" atom${k} " " binop " " atom${k} ")"
method${k} ::= "length" | "toUpperCase()" | "toLowerCase()" | "trim()" | "reverse()" | "sort()" | "split(" atom${k} ")" | "join(" atom${k} ")" | "slice(" atom${k} ")" | "includes(" atom${k} ")" | "indexOf(" atom${k} ")" | "concat(" atom${k} ")"
atom${k} ::= name${k} | int | str
list${k} ::= "[" (atom${k} (", " atom${k}){0,3})? "]"
`;

const javascript = String.raw`
program ::= program1 | program2
augop ::= "+=" | "-=" | "*="
binop ::= "+" | "-" | "*" | "%" | "===" | "<" | ">"
fn ::= "Math.abs" | "Math.max" | "Math.min" | "String" | "Number" | "Boolean" | "Array.from"
str ::= "\"" [a-z ]{0,6} "\""
args ::= value (", " value)?
args1 ::= value
args2 ::= value ", " value
value ::= int | vstr | "true" | "false" | "null" | "[" (scalar ("," scalar){0,5})? "]"
scalar ::= int | vstr | "true" | "false" | "null"
vstr ::= "\"" [A-Za-z0-9 _.,!?-]{0,16} "\""
${javascriptBody(1, '"x"')}${javascriptBody(2, '"a" | "b"')}`;

function root(type: TaskType, role: Role, lang: Lang, inductionInputs: number): string {
  const fenceOpen = (tag: string) => `"\`\`\`${tag}\\n"`;
  const fenceClose = '"\\n```"';
  const end = '@"</answer>"';
  if (role === 'proposer') {
    if (type === 'induction') {
      const input = `"\\n" ${fenceOpen('input')} args ${fenceClose}`;
      return `root ::= ${fenceOpen('message')} [a-z] [a-z ]{2,30} ${fenceClose} (${input}){1,${inductionInputs}} ${end}`;
    }
    // The input's argument count matches the function's, so a proposal is not refused for arity alone.
    const task = (k: number) =>
      `${fenceOpen(lang)} program${k} ${fenceClose} "\\n" ${fenceOpen('input')} args${k} ${fenceClose}`;
    return `root ::= (${task(1)} | ${task(2)}) ${end}`;
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
