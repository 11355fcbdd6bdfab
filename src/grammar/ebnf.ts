// Grammars as data, written out as text that three engines read: llama.cpp's GBNF (its server's `grammar`
// field), XGrammar's EBNF (vLLM's `structured_outputs.grammar`, SGLang, the npm build), and this
// project's own GBNF reader (gbnf.ts, which the in-engine token matcher runs). The text keeps to what all
// three accept: rule names of lowercase letters, digits and `-` (llama.cpp allows no `_`), string
// literals, character classes, groups, `|`, `?`, and right recursion for repetition. It uses no `.` (the
// engines differ on newlines), no `{m,n}` (XGrammar compiles a bounded repetition of a character class
// into a huge automaton: a `{1,600}` took 34 s to compile) and no lookahead (llama.cpp has none): lengths
// are bounded by the token budget, not by the grammar.
//
// Free text that must not contain given words (an answer's `</answer>`, the closing fence of a code block)
// is written as the Aho-Corasick automaton of those words, one rule per state: the grammar then admits
// exactly the strings in which none of the words occurs, which is how the parser finds the end of a
// section (the first occurrence of its closing word).

export type Expr =
  | { kind: 'text'; text: string }
  /** One character: any of `chars` or (negated) any character except them. Characters are ASCII. */
  | { kind: 'chars'; chars: string; negated: boolean }
  | { kind: 'seq'; items: Expr[] }
  | { kind: 'alt'; options: Expr[] }
  | { kind: 'ref'; rule: string };

export interface GrammarSpec {
  /** Rules in order; the first is written first. `root` must be one of them. */
  rules: ReadonlyArray<readonly [name: string, body: Expr]>;
}

export const text = (t: string): Expr => ({ kind: 'text', text: t });
export const ref = (rule: string): Expr => ({ kind: 'ref', rule });
export const seq = (...items: Expr[]): Expr => ({ kind: 'seq', items });
export const alt = (...options: Expr[]): Expr => ({ kind: 'alt', options });
export const oneOf = (chars: string): Expr => ({ kind: 'chars', chars, negated: false });
export const noneOf = (chars: string): Expr => ({ kind: 'chars', chars, negated: true });
export const EMPTY: Expr = text('');

const NAME = /^[a-z][a-z0-9-]*$/;

/** A literal's characters as GBNF writes them (ASCII printable as is, the rest escaped). */
function escapeLiteral(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else throw new RangeError(`grammar literals are ASCII here, got U+${c.toString(16)}`);
  }
  return out;
}

/** A character class member: escaped where a class needs it in any of the three dialects. */
function escapeClassChar(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c > 0x7f || ch.length !== 1) throw new RangeError(`character classes are ASCII here, got '${ch}'`);
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (ch === '\\' || ch === ']' || ch === '[' || ch === '-' || ch === '"') return `\\${ch}`;
  // `^` is special only first; llama.cpp has no `\^`, so write it by code.
  if (ch === '^' || c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`;
  return ch;
}

/**
 * How character classes meet the text: `characters` as llama.cpp and XGrammar read them (a negated class
 * matches one whole Unicode character), `bytes` for gbnf.ts, whose classes are byte sets: there a
 * negated class is spelled out as its ASCII bytes or one well-formed UTF-8 sequence, so both readings
 * admit the same texts.
 */
export type ClassEncoding = 'characters' | 'bytes';

/** Well-formed UTF-8 beyond ASCII (RFC 3629's table: no overlong forms, no surrogates, up to U+10FFFF). */
const UTF8_RULES = String.raw`utf8-char ::= [\xc2-\xdf] utf8-tail | "\xe0" [\xa0-\xbf] utf8-tail | [\xe1-\xec] utf8-tail utf8-tail | "\xed" [\x80-\x9f] utf8-tail | [\xee-\xef] utf8-tail utf8-tail | "\xf0" [\x90-\xbf] utf8-tail utf8-tail | [\xf1-\xf3] utf8-tail utf8-tail utf8-tail | "\xf4" [\x80-\x8f] utf8-tail utf8-tail
utf8-tail ::= [\x80-\xbf]
`;

/** A class's members, runs of four or more consecutive characters written as ranges. */
function classBody(chars: string): string {
  const codes = [...new Set(chars)].map((c) => c.charCodeAt(0)).sort((a, b) => a - b);
  let out = '';
  for (let i = 0; i < codes.length; ) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === (codes[j] as number) + 1) j++;
    const lo = String.fromCharCode(codes[i] as number);
    const hi = String.fromCharCode(codes[j] as number);
    if (j - i >= 3) out += `${escapeClassChar(lo)}-${escapeClassChar(hi)}`;
    else for (let k = i; k <= j; k++) out += escapeClassChar(String.fromCharCode(codes[k] as number));
    i = j + 1;
  }
  return out;
}

function renderExpr(e: Expr, top: boolean, enc: ClassEncoding): string {
  switch (e.kind) {
    case 'text':
      return `"${escapeLiteral(e.text)}"`;
    case 'chars': {
      if (e.chars.length === 0) throw new RangeError('an empty character class');
      const body = classBody(e.chars);
      if (!e.negated) return `[${body}]`;
      return enc === 'characters' ? `[^${body}]` : `([^${body}\\x80-\\xff] | utf8-char)`;
    }
    case 'ref':
      if (!NAME.test(e.rule)) throw new RangeError(`rule name '${e.rule}' is not [a-z][a-z0-9-]*`);
      return e.rule;
    case 'seq': {
      const items = e.items.filter((x) => !(x.kind === 'text' && x.text === ''));
      if (items.length === 0) return '""';
      return items.map((x) => renderExpr(x, false, enc)).join(' ');
    }
    case 'alt': {
      const body = e.options.map((x) => renderExpr(x, true, enc)).join(' | ');
      return top ? body : `(${body})`;
    }
  }
}

/**
 * The grammar as text: `characters` in the subset llama.cpp's GBNF, XGrammar's EBNF and vLLM share,
 * `bytes` for gbnf.ts (see ClassEncoding). `root` is the start rule.
 */
export function renderGrammar(spec: GrammarSpec, enc: ClassEncoding = 'characters'): string {
  const names = new Set<string>();
  for (const [name] of spec.rules) {
    if (!NAME.test(name)) throw new RangeError(`rule name '${name}' is not [a-z][a-z0-9-]*`);
    if (name.startsWith('utf8-')) throw new RangeError(`rule names starting 'utf8-' are reserved: '${name}'`);
    if (names.has(name)) throw new RangeError(`rule '${name}' is defined twice`);
    names.add(name);
  }
  if (!names.has('root')) throw new RangeError("a grammar needs a 'root' rule");
  const rules = spec.rules.map(([name, body]) => `${name} ::= ${renderExpr(body, true, enc)}`).join('\n');
  return `${rules}\n${enc === 'bytes' ? UTF8_RULES : ''}`;
}

export interface AvoidingTextOptions {
  /** The rule names: `${prefix}-0` is the start (no word partly matched), one rule per automaton state. */
  prefix: string;
  /** Words that must not occur (non-empty, ASCII). */
  words: readonly string[];
  /** Characters that never occur in the text (e.g. "\r", or "\n" for one line). */
  exclude?: string;
  /**
   * Text taken to come just before this one, for the words' sake: with "\n", a word that starts with a
   * newline is also refused at the very start (a code block's first line may not close the block).
   */
  after?: string;
  /**
   * The characters the text may start with (ASCII; e.g. printable non-space, for a section that must not
   * be blank after trimming, which removes Unicode spaces too). Default: any; given, the text is not empty.
   */
  first?: string;
}

/**
 * Rules for text in which none of `words` occurs: the Aho-Corasick automaton of the words over the
 * characters they use (every other character goes back to the start), one rule per state, each ending
 * either way. Returns the rules and the name of the rule to start from.
 */
export function avoidingText(o: AvoidingTextOptions): { rules: [string, Expr][]; start: string } {
  const exclude = o.exclude ?? '';
  if (o.words.length === 0) throw new RangeError('avoidingText needs at least one word');
  for (const w of o.words) {
    if (w === '') throw new RangeError('an empty word to avoid');
    if ([...w].some((ch) => ch.charCodeAt(0) > 0x7f)) throw new RangeError(`word '${w}' is not ASCII`);
  }
  // States are the prefixes of words (a trie); state 0 is the empty prefix.
  const prefixes: string[] = [''];
  const index = new Map<string, number>([['', 0]]);
  for (const w of o.words)
    for (let k = 1; k < w.length; k++) {
      const p = w.slice(0, k);
      if (!index.has(p)) {
        index.set(p, prefixes.length);
        prefixes.push(p);
      }
    }
  const words = new Set(o.words);
  const alphabet = [...new Set(o.words.join(''))].filter((ch) => !exclude.includes(ch)).sort();
  /** The state after reading `s`: its longest suffix that is a state; null when `s` ends in a word. */
  const stateOf = (s: string): number | null => {
    for (let k = 0; k <= s.length; k++) {
      const suffix = s.slice(k);
      if (words.has(suffix)) return null;
    }
    for (let k = 0; k <= s.length; k++) {
      const id = index.get(s.slice(k));
      if (id !== undefined) return id;
    }
    return 0;
  };
  const name = (state: number) => `${o.prefix}-${state}`;
  /**
   * Alternatives out of the state whose text so far ends with `p`: one negated class for every character
   * that goes back to state 0 (all but the excluded ones, those in `not`, and those that continue or
   * complete a word), then one item per other target state; ending here when `end`.
   */
  const body = (p: string, not: string, end: boolean): Expr => {
    const away = new Set(exclude + not);
    const byTarget = new Map<number, string>();
    for (const ch of alphabet) {
      if (not.includes(ch)) continue;
      const next = stateOf(p + ch);
      if (next === 0) continue;
      away.add(ch);
      if (next !== null) byTarget.set(next, (byTarget.get(next) ?? '') + ch);
    }
    const options: Expr[] = [seq(noneOf([...away].join('')), ref(name(0)))];
    for (const [target, chars] of [...byTarget].sort((a, b) => a[0] - b[0]))
      options.push(seq(chars.length === 1 ? text(chars) : oneOf(chars), ref(name(target))));
    if (end) options.push(EMPTY);
    return alt(...options);
  };
  const rules: [string, Expr][] = prefixes.map((p, s) => [name(s), body(p, '', true)]);
  // The start: the state after `after`, and the first character's restriction.
  const afterState = stateOf(o.after ?? '');
  if (afterState === null) throw new RangeError(`'${o.after}' already contains a word to avoid`);
  if (afterState === 0 && o.first === undefined) return { rules, start: name(0) };
  const context = prefixes[afterState] as string;
  let first: Expr;
  if (o.first === undefined) first = body(context, '', true);
  else {
    const byTarget = new Map<number, string>();
    for (const ch of new Set(o.first)) {
      if (exclude.includes(ch)) continue;
      const next = stateOf(context + ch);
      if (next !== null) byTarget.set(next, (byTarget.get(next) ?? '') + ch);
    }
    first = alt(
      ...[...byTarget]
        .sort((a, b) => a[0] - b[0])
        .map(([target, chars]) => seq(chars.length === 1 ? text(chars) : oneOf(chars), ref(name(target)))),
    );
  }
  const start = `${o.prefix}-start`;
  rules.unshift([start, first]);
  return { rules, start };
}
