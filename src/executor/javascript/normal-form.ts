// A JavaScript program's normal form, the counterpart of Python's in runtime.py: comments and layout
// dropped, and every name the program binds itself renamed v0, v1, ... in the order of its first binding,
// so that `function f(a) { return a * 2; }` and `function f(x) {\n  return x*2; // twice\n}` are one
// program. QuickJS gives no syntax tree, so this works on tokens: the policy's scanner
// (blankStringsAndComments) tells code from strings, template text and comments, and the bindings are
// read from the token stream.
//
// Bindings recognised: the parameters of `function` and arrow functions, `let`/`const`/`var` declarators
// (destructuring patterns included), `catch (e)`, and the names of nested functions and classes. f itself,
// property names (`.length`, object keys) and names the program does not bind (Math, builtins) are kept.
// A line break is kept where it can end a statement (not after `;`, `{`, `}` or `,`, nor before `}`, nor
// between `)` and `{`); other spacing goes. Like the scanner this is a
// reading, not a parser: a regular expression literal, or a shorthand property `{ a }` of a bound name,
// is read as code, which at worst gives two equivalent programs different forms.
import { blankStringsAndComments } from './policy.js';

interface Token {
  kind: 'word' | 'punct' | 'string';
  text: string;
  /** A line break comes before this token. */
  line: boolean;
}

const IDENT = /[A-Za-z_$][\w$]*/y;
const NUMBER = /(?:\d|\.\d)[\w.]*/y;
const KEYWORDS = new Set(
  (
    'break case catch class const continue debugger default delete do else export extends false finally for ' +
    'function if import in instanceof let new null of return super switch this throw true try typeof var ' +
    'void while with yield static get set async await'
  ).split(' '),
);

function tokenize(src: string): Token[] {
  const code = blankStringsAndComments(src);
  const out: Token[] = [];
  // Brace depth inside each open `${`, so its closing `}` can be told from a block's.
  const templates: number[] = [];
  let line = false;
  let i = 0;
  const push = (kind: Token['kind'], end: number) => {
    out.push({ kind, text: src.slice(i, end), line });
    line = false;
    i = end;
  };
  // Template text from `from` to its closing backtick (inclusive) or its next `${` (inclusive).
  const templateText = (from: number) => {
    let j = from;
    while (j < code.length && code[j] !== '`' && !(code[j] === '$' && code[j + 1] === '{')) j++;
    if (code[j] === '`') push('string', j + 1);
    else if (j < code.length) {
      push('string', j + 2);
      templates.push(0);
    } else push('string', j);
  };
  while (i < code.length) {
    const c = code[i] as string;
    if (c === '\n') {
      line = true;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (c === '"' || c === "'") {
      // The scanner blanked the literal's inside, so the next such quote closes it.
      const j = code.indexOf(c, i + 1);
      push('string', j === -1 ? code.length : j + 1);
    } else if (c === '`') templateText(i + 1);
    else if (templates.length > 0 && c === '}' && templates[templates.length - 1] === 0) {
      templates.pop();
      templateText(i + 1);
    } else {
      IDENT.lastIndex = i;
      NUMBER.lastIndex = i;
      const word = IDENT.exec(code) ?? NUMBER.exec(code);
      if (word) {
        push('word', i + word[0].length);
        continue;
      }
      if (templates.length > 0 && (c === '{' || c === '}'))
        templates[templates.length - 1] = (templates[templates.length - 1] as number) + (c === '{' ? 1 : -1);
      push('punct', i + 1);
    }
  }
  return out;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE = new Set([')', ']', '}']);

/** The index of the token that closes the bracket opened at `k` (or the last token). */
function closing(t: readonly Token[], k: number): number {
  let depth = 0;
  for (let j = k; j < t.length; j++) {
    const x = (t[j] as Token).text;
    if ((t[j] as Token).kind !== 'punct') continue;
    if (OPEN[x]) depth++;
    else if (CLOSE.has(x) && --depth === 0) return j;
  }
  return t.length - 1;
}

/** The index of the token that opens the bracket closed at `k` (or 0). */
function opening(t: readonly Token[], k: number): number {
  let depth = 0;
  for (let j = k; j >= 0; j--) {
    const x = (t[j] as Token).text;
    if ((t[j] as Token).kind !== 'punct') continue;
    if (CLOSE.has(x)) depth++;
    else if (OPEN[x] && --depth === 0) return j;
  }
  return 0;
}

const text = (t: readonly Token[], k: number): string | undefined => t[k]?.text;
const isName = (t: readonly Token[], k: number): boolean =>
  t[k]?.kind === 'word' && /^[A-Za-z_$]/.test(t[k]?.text ?? '') && !KEYWORDS.has(t[k]?.text ?? '');
const isSpread = (t: readonly Token[], k: number): boolean =>
  text(t, k - 1) === '.' && text(t, k - 2) === '.' && text(t, k - 3) === '.';
/** A name read as a property: after a dot (not a spread), or an object key (`{ a: ...`, `, a: ...`). */
const isProperty = (t: readonly Token[], k: number): boolean =>
  (text(t, k - 1) === '.' && !isSpread(t, k)) ||
  (text(t, k + 1) === ':' && (text(t, k - 1) === '{' || text(t, k - 1) === ','));

/** The names a parameter list or destructuring pattern in tokens [from, to) binds, with their indices. */
function patternNames(t: readonly Token[], from: number, to: number): number[] {
  const out: number[] = [];
  for (let k = from; k < to; k++) {
    const before = text(t, k - 1);
    // `{ key: name }` binds name: a property's value in a pattern.
    const renamed = before === ':' && (text(t, k - 3) === '{' || text(t, k - 3) === ',');
    const bindsHere =
      before === '(' || before === ',' || before === '{' || before === '[' || isSpread(t, k) || renamed;
    if (isName(t, k) && bindsHere && text(t, k + 1) !== ':') out.push(k);
  }
  return out;
}

/** Indices of the tokens where the program binds a name of its own, in any order. */
function bindingSites(t: readonly Token[]): number[] {
  const sites: number[] = [];
  for (let k = 0; k < t.length; k++) {
    const x = (t[k] as Token).text;
    if ((t[k] as Token).kind === 'word') {
      if (x === 'function' || x === 'class') {
        let n = k + 1;
        if (text(t, n) === '*') n++;
        if (isName(t, n)) sites.push(n++);
        if (x === 'function' && text(t, n) === '(') sites.push(...patternNames(t, n + 1, closing(t, n)));
      } else if (x === 'catch' && text(t, k + 1) === '(') {
        sites.push(...patternNames(t, k + 2, closing(t, k + 1)));
      } else if (x === 'let' || x === 'const' || x === 'var') {
        sites.push(...declarators(t, k + 1));
      }
    } else if (x === '=' && text(t, k + 1) === '>' && text(t, k - 1) !== '=') {
      // An arrow: `a =>` or `(a, b) =>`.
      if (isName(t, k - 1)) sites.push(k - 1);
      else if (text(t, k - 1) === ')') {
        const open = opening(t, k - 1);
        sites.push(...patternNames(t, open + 1, k - 1));
      }
    }
  }
  return sites;
}

/** The names bound by the declarators that start at token `k` (after let/const/var). */
function declarators(t: readonly Token[], k: number): number[] {
  const out: number[] = [];
  let expectName = true;
  let depth = 0;
  for (let j = k; j < t.length; j++) {
    const tok = t[j] as Token;
    if (j > k && depth === 0 && tok.line && !expectName) break;
    if (expectName) {
      if (isName(t, j)) out.push(j);
      else if (tok.text === '[' || tok.text === '{') {
        const end = closing(t, j);
        out.push(...patternNames(t, j, end));
        j = end;
      }
      expectName = false;
      continue;
    }
    if (tok.kind === 'punct' && OPEN[tok.text]) depth++;
    else if (tok.kind === 'punct' && CLOSE.has(tok.text)) {
      if (depth === 0) break; // the `)` of a for (...) header
      depth--;
    } else if (depth === 0 && (tok.text === ';' || tok.text === 'of' || tok.text === 'in')) break;
    else if (depth === 0 && tok.text === ',') expectName = true;
  }
  return out;
}

/** Tokens after which a line break cannot end a statement, so it is layout. */
const SILENT_BREAK_AFTER = new Set([';', '{', '}', ',']);

/** The normal form of a JavaScript program (see the file comment). */
export function normalFormOf(src: string): string {
  const t = tokenize(src);
  const first = new Map<string, number>();
  for (const k of bindingSites(t).sort((a, b) => a - b)) {
    const name = (t[k] as Token).text;
    if (name !== 'f' && !first.has(name)) first.set(name, first.size);
  }
  let out = '';
  t.forEach((tok, k) => {
    const n = tok.kind === 'word' && !isProperty(t, k) ? first.get(tok.text) : undefined;
    const word = n === undefined ? tok.text : `v${n}`;
    const prev = t[k - 1];
    const silent =
      !prev ||
      SILENT_BREAK_AFTER.has(prev.text) ||
      tok.text === '}' ||
      (prev.text === ')' && tok.text === '{');
    if (tok.line && !silent) out += '\n';
    else if (tok.kind === 'word' && prev?.kind === 'word') out += ' ';
    out += word;
  });
  return out;
}
