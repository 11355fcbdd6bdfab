// The identity of a task for deduplication: program text and input with everything cosmetic removed, so
// that a proposer cannot refill the buffer with a known task by re-spacing it or adding a comment.
//
// A small lexer walks the text once. String literals are copied verbatim (a space or '#' inside a string
// changes the program). Outside strings: comments are dropped, runs of spaces collapse to nothing except
// between two word characters (`return x` must not become `returnx`), blank lines go, and Python
// indentation becomes its nesting level (two programs indented with 2 and 4 spaces are the same program,
// but moving a line out of a loop is not). JavaScript indentation is dropped entirely.
//
// This is a key, not a parser: a regular expression literal in JavaScript or an f-string with nested
// quotes can be lexed slightly wrong, which at worst makes two rare programs share or split a key.
import type { Lang } from '../executor/types.js';

interface LexOptions {
  python: boolean;
  /** Drop comments (programs); inputs are literals and have none. */
  comments: boolean;
}

interface Line {
  /** Width of the leading whitespace. */
  indent: number;
  text: string;
}

const WORD = /[\p{L}\p{N}_$]/u;
const PY_STRING_START = /(?:[rRbBuUfF]{1,2})?('''|"""|'|")/y;

function isWord(ch: string | undefined): boolean {
  return ch !== undefined && WORD.test(ch);
}

/** End index (exclusive) of the string literal whose quote `q` ends at `from`. */
function stringEnd(src: string, from: number, q: string): number {
  let i = from;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (src.startsWith(q, i)) return i + q.length;
    // A one-line string that meets a newline is unterminated; stop there so the rest still lexes.
    if (c === '\n' && q.length === 1 && q !== '`') return i;
    i++;
  }
  return src.length;
}

function lex(text: string, opts: LexOptions): Line[] {
  const src = text.replace(/\r\n?/g, '\n');
  const lines: Line[] = [];
  let line = '';
  let indent = 0;
  let atStart = true;
  let space = false;
  const endLine = () => {
    if (line !== '') lines.push({ indent, text: line });
    line = '';
    indent = 0;
    atStart = true;
    space = false;
  };
  const emit = (s: string) => {
    if (space && isWord(line[line.length - 1]) && isWord(s[0])) line += ' ';
    space = false;
    atStart = false;
    line += s;
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '\n') {
      endLine();
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\f' || c === '\v') {
      if (atStart) indent += c === '\t' ? 8 : 1;
      else space = true;
      i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      space = true; // explicit line continuation
      i += 2;
      continue;
    }
    if (opts.comments && ((opts.python && c === '#') || (!opts.python && src.startsWith('//', i)))) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (opts.comments && !opts.python && src.startsWith('/*', i)) {
      const close = src.indexOf('*/', i + 2);
      i = close === -1 ? src.length : close + 2;
      space = true;
      continue;
    }
    if (opts.python) {
      PY_STRING_START.lastIndex = i;
      const m = isWord(src[i - 1]) ? null : PY_STRING_START.exec(src);
      if (m) {
        const end = stringEnd(src, i + m[0].length, m[1] as string);
        emit(src.slice(i, end));
        i = end;
        continue;
      }
    } else if (c === '"' || c === "'" || c === '`') {
      const end = stringEnd(src, i + 1, c);
      emit(src.slice(i, end));
      i = end;
      continue;
    }
    emit(c);
    i++;
  }
  endLine();
  return lines;
}

/** Python indentation widths -> nesting levels (a stack of the widths seen, as the tokenizer does). */
function levels(lines: readonly Line[]): number[] {
  const stack = [0];
  return lines.map(({ indent }) => {
    while (stack.length > 1 && indent < (stack[stack.length - 1] as number)) stack.pop();
    if (indent > (stack[stack.length - 1] as number)) stack.push(indent);
    return stack.length - 1;
  });
}

/** The program with comments and cosmetic whitespace removed (see the file comment). */
export function normalizeProgram(lang: Lang, program: string): string {
  const python = lang === 'python';
  const lines = lex(program, { python, comments: true });
  if (!python) return lines.map((l) => l.text).join('\n');
  const lv = levels(lines);
  return lines.map((l, k) => `${' '.repeat(lv[k] as number)}${l.text}`).join('\n');
}

/** An argument list with whitespace outside its string literals removed: `[1,2]` and `[ 1, 2 ]` agree. */
export function normalizeInput(lang: Lang, input: string): string {
  const lines = lex(input, { python: lang === 'python', comments: false }).map((l) => l.text);
  // A line break inside a literal list is spacing too: keep a space only between two word characters.
  return lines.reduce(
    (acc, l) => (isWord(acc[acc.length - 1]) && isWord(l[0]) ? `${acc} ${l}` : acc + l),
    '',
  );
}

/**
 * The deduplication key of a program with its input (deduction, abduction) or its list of inputs
 * (induction: the same program with other inputs is a different task).
 */
export function taskKey(lang: Lang, program: string, input: string | readonly string[]): string {
  const inputs =
    typeof input === 'string'
      ? normalizeInput(lang, input)
      : input.map((x) => normalizeInput(lang, x)).join('\u0001');
  return `${lang}\u0000${normalizeProgram(lang, program)}\u0000${inputs}`;
}
