// The static policy for JavaScript task programs. QuickJS is given no host bindings, so nothing a
// program names can reach the host; this policy is about tasks: a task must be a pure, synchronous,
// deterministic function of its input, so clocks, randomness, code generation and async are refused.

const BANNED = new Set([
  'eval',
  'Function',
  'import',
  'require',
  'process',
  'globalThis',
  'WebAssembly',
  'Atomics',
  'SharedArrayBuffer',
  'Proxy',
  'Reflect',
  'constructor',
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  'Date',
  'random',
  'performance',
  'setTimeout',
  'setInterval',
  'queueMicrotask',
  'Promise',
  'async',
  'await',
  'std',
  'os',
]);

// Words after which a `/` starts a regular expression rather than a division.
const BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/**
 * Whether a `/` after this code starts a regex literal: at the start, after an operator or an opening
 * bracket, after `}` (the end of a block; an object literal divided by something is rare in a task
 * program), or after a keyword such as `return`. After a name, a number, `)` or `]` it divides.
 */
function regexMayStart(before: string): boolean {
  let j = before.length - 1;
  while (j >= 0 && /\s/.test(before[j] as string)) j--;
  if (j < 0) return true;
  const c = before[j] as string;
  if (/[\w$]/.test(c)) {
    let k = j;
    while (k > 0 && /[\w$]/.test(before[k - 1] as string)) k--;
    return BEFORE_REGEX.has(before.slice(k, j + 1));
  }
  return !(c === ')' || c === ']' || c === '"' || c === "'" || c === '`');
}

/** The end (exclusive) of a regex literal starting at `src[at] === '/'`, flags included; -1 if none. */
function regexEnd(src: string, at: number): number {
  let inClass = false;
  for (let j = at + 1; j < src.length; j++) {
    const c = src[j] as string;
    if (c === '\n') return -1;
    if (c === '\\') j++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '/') {
      let k = j + 1;
      while (k < src.length && /[a-z]/i.test(src[k] as string)) k++;
      return k;
    }
  }
  return -1;
}

/**
 * The program with the contents of strings, template text, regex literals and comments blanked out (same
 * length, line breaks kept). A template's `${...}` is code and stays; its quotes and the `${` and `}`
 * around code stay too, so braces in template text do not count as blocks. A regex literal keeps its
 * slashes and flags, so a brace or a quote inside it (`/}/g`, `/['"]/`) is not read as code.
 */
export function blankStringsAndComments(src: string): string {
  let out = '';
  // One entry per open `${`: the depth of ordinary braces inside it, so its own `}` can be told apart.
  const templates: number[] = [];
  let i = 0;
  // Template text from src[i] up to its closing quote or its next `${`, blanked, and what ends it.
  const templateText = (): void => {
    let j = i;
    while (j < src.length && src[j] !== '`' && !(src[j] === '$' && src[j + 1] === '{')) {
      j += src[j] === '\\' ? 2 : 1;
    }
    j = Math.min(j, src.length);
    out += src.slice(i, j).replace(/[^\n]/g, ' ');
    if (src[j] === '`') {
      out += '`';
      i = j + 1;
    } else if (j < src.length) {
      out += '${';
      templates.push(0);
      i = j + 2;
    } else i = j;
  };
  while (i < src.length) {
    const c = src[i] as string;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? src.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && regexMayStart(out) && regexEnd(src, i) !== -1) {
      const end = regexEnd(src, i);
      const body = src.slice(i + 1, end);
      const close = body.lastIndexOf('/');
      out += `/${' '.repeat(close)}${body.slice(close)}`;
      i = end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      const stop = Math.min(src.length, j + 1);
      out += c + ' '.repeat(Math.max(0, stop - i - 2)) + (stop - i >= 2 ? c : '');
      i = stop;
    } else if (c === '`') {
      out += c;
      i++;
      templateText();
    } else if (templates.length > 0 && (c === '{' || c === '}')) {
      const open = templates.length - 1;
      if (c === '{') templates[open]!++;
      else if (templates[open]! > 0) templates[open]!--;
      else {
        // The `}` that ends a `${...}`: back in the template's text.
        templates.pop();
        out += c;
        i++;
        templateText();
        continue;
      }
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The first banned identifier the program uses, if any. */
export function bannedName(src: string): string | undefined {
  const code = blankStringsAndComments(src);
  // An identifier spelled with escapes (\u0065val) would slip past the name check below.
  if (code.includes('\\u')) return '\\u escapes in identifiers';
  for (const m of code.matchAll(/[A-Za-z_$][\w$]*/g)) {
    if (BANNED.has(m[0])) return m[0];
  }
  // Computed access by string (obj['constructor']) is how such names hide; refuse bracket access by
  // string literal to the banned names as well.
  for (const m of src.matchAll(/\[\s*(['"`])([^'"`]*)\1\s*\]/g)) {
    if (BANNED.has(m[2] as string)) return m[2];
  }
  return undefined;
}

// A declaration at the start of a statement: `function f`, `function* f`, or a name bound to a function or
// an arrow function. Sticky: tried only where a top-level statement begins.
const DECLARATION = /function\b\s*\*?\s*([A-Za-z_$][\w$]*)/y;
const BOUND_FUNCTION =
  /(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)/y;

/** Names of functions declared at the top level (function declarations and const/let/var = function/arrow). */
export function topLevelFunctions(src: string): string[] {
  const code = blankStringsAndComments(src);
  const names: string[] = [];
  let depth = 0;
  // Whether a statement may begin at the next character that is not blank: at the start, after a line
  // break or ';', and after a block that closes at the top level. Only that first character is tried,
  // so comments, blank lines and indentation in front of a declaration do not find it again.
  let statementStart = true;
  for (let i = 0; i < code.length; i++) {
    const c = code[i] as string;
    if (/\s/.test(c)) {
      if (c === '\n') statementStart = true;
      continue;
    }
    if (depth === 0 && statementStart) {
      DECLARATION.lastIndex = i;
      BOUND_FUNCTION.lastIndex = i;
      const m = DECLARATION.exec(code) ?? BOUND_FUNCTION.exec(code);
      if (m) names.push(m[1] as string);
    }
    statementStart = c === ';';
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth = Math.max(0, depth - 1);
      if (c === '}' && depth === 0) statementStart = true;
    }
  }
  return names;
}
