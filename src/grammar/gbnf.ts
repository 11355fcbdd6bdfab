// A subset of llama.cpp's GBNF grammar language, parsed into plain rules:
//
//   name ::= alternative ("|" alternative)*          rules, one or more lines; `#` starts a comment
//   "text"  [a-z0-9_]  [^"\\]  .                     literals (with \n \t \r \\ \" \xHH escapes), byte classes
//   name  ( ... )  @"<special>"                      rule references, groups, a special token by its text
//   x?  x*  x+  x{n}  x{m,}  x{,n}  x{m,n}           repetition (bounded forms keep sentences finite)
//
// Terminals are bytes (0-255) or special-token ids; the byte-level tokenizer makes every byte a token,
// so a grammar over bytes is a grammar over tokens. Repetition is rewritten into right-recursive helper
// rules, as llama.cpp does. Grammars the stack matcher cannot run are refused here, with the rule named:
// left recursion (the matcher would expand forever), a repeated item that can match nothing (the same),
// and rules that can never finish (every alternative recurses).
import { SPECIAL_ID, type SpecialToken } from '../model/vocab.js';

export type Element =
  | { kind: 'bytes'; set: Uint8Array } // 256 entries, 1 = allowed
  | { kind: 'special'; id: number }
  | { kind: 'ref'; rule: number };

export type Alternative = Element[];

export interface Grammar {
  /** rules[r] is rule r's alternatives; an empty alternative matches the empty string. */
  rules: Alternative[][];
  /** Rule names; helper rules made for groups and repetition are named `<rule>/<kind>#<n>`. */
  names: string[];
  root: number;
}

export class GrammarError extends Error {
  override name = 'GrammarError';
}

const NAME = /[A-Za-z][A-Za-z0-9_-]*/y;
const RULE_START = /[A-Za-z][A-Za-z0-9_-]*[ \t]*::=/y;
const REPEAT = /\{[ \t]*(\d*)[ \t]*(?:(,)[ \t]*(\d*)[ \t]*)?\}/y;
const HEX2 = /[0-9a-fA-F]{2}/y;
const UTF8 = new TextEncoder();
/** Repetition counts above this are almost surely typos and would blow up the rule count. */
const MAX_REPEAT = 1000;

class Parser {
  i = 0;
  readonly rules: Alternative[][] = [];
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly defined = new Set<string>();
  /** Where each rule was first referenced, for "used but not defined" errors. */
  private readonly firstUse = new Map<string, number>();
  private current = '';

  constructor(readonly src: string) {}

  where(at = this.i): string {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < at; k++) {
      if (this.src.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    return `${line}:${at - lineStart + 1}`;
  }

  fail(msg: string, at = this.i): never {
    throw new GrammarError(`grammar ${this.where(at)}: ${msg}`);
  }

  sticky(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.i;
    const m = re.exec(this.src);
    if (m) this.i += m[0].length;
    return m;
  }

  /** Skip spaces and comments; newlines too when `lines`. */
  ws(lines = true): void {
    for (;;) {
      const c = this.src[this.i];
      if (c === '#') {
        while (this.i < this.src.length && this.src[this.i] !== '\n') this.i++;
      } else if (c === ' ' || c === '\t' || c === '\r' || (lines && c === '\n')) this.i++;
      else return;
    }
  }

  ruleId(name: string): number {
    let id = this.index.get(name);
    if (id === undefined) {
      id = this.rules.length;
      this.rules.push([]);
      this.names.push(name);
      this.index.set(name, id);
    }
    return id;
  }

  fresh(kind: string, alts: Alternative[]): number {
    const id = this.ruleId(`${this.current}/${kind}#${this.rules.length}`);
    this.rules[id] = alts;
    return id;
  }

  parse(): Grammar {
    this.ws();
    while (this.i < this.src.length) {
      const at = this.i;
      const m = this.sticky(NAME);
      if (!m) this.fail('expected a rule name');
      const name = m[0];
      if (this.defined.has(name)) this.fail(`rule '${name}' is defined twice`, at);
      this.defined.add(name);
      this.current = name;
      this.ws(false);
      if (!this.src.startsWith('::=', this.i)) this.fail(`expected '::=' after '${name}'`);
      this.i += 3;
      this.rules[this.ruleId(name)] = this.alternatives(false);
      this.ws();
    }
    for (const [n, at] of this.firstUse) {
      if (!this.defined.has(n)) this.fail(`rule '${n}' is used but not defined`, at);
    }
    const root = this.index.get('root');
    if (root === undefined) throw new GrammarError("grammar: no 'root' rule");
    const g = { rules: this.rules, names: this.names, root };
    checkRunnable(g);
    return g;
  }

  /** Alternatives until end of rule (a newline followed by `name ::=`, or end of input) or `)` when nested. */
  alternatives(nested: boolean): Alternative[] {
    const alts: Alternative[] = [this.sequence(nested)];
    for (;;) {
      this.ws(true);
      if (this.src[this.i] === '|') {
        this.i++;
        alts.push(this.sequence(nested));
      } else return alts;
    }
  }

  atRuleStart(): boolean {
    RULE_START.lastIndex = this.i;
    return RULE_START.test(this.src);
  }

  sequence(nested: boolean): Alternative {
    const seq: Alternative = [];
    for (;;) {
      this.ws(true);
      const c = this.src[this.i];
      if (c === undefined || c === '|' || (c === ')' && nested)) return seq;
      if (c === ')') this.fail("unexpected ')'");
      if (!nested && this.atRuleStart()) return seq;
      const start = seq.length;
      this.item(seq);
      this.repetition(seq, start);
    }
  }

  item(seq: Alternative): void {
    const c = this.src[this.i];
    if (c === '"') {
      for (const b of this.literal()) seq.push({ kind: 'bytes', set: single(b) });
    } else if (c === '[') {
      seq.push({ kind: 'bytes', set: this.charClass() });
    } else if (c === '.') {
      this.i++;
      const set = new Uint8Array(256).fill(1);
      set[10] = 0;
      seq.push({ kind: 'bytes', set });
    } else if (c === '(') {
      const open = this.i;
      this.i++;
      const alts = this.alternatives(true);
      if (this.src[this.i] !== ')') this.fail(`'(' at ${this.where(open)} is not closed`);
      this.i++;
      seq.push({ kind: 'ref', rule: this.fresh('group', alts) });
    } else if (c === '@') {
      const at = this.i;
      this.i++;
      if (this.src[this.i] !== '"') this.fail('expected a quoted special token after @');
      const text = new TextDecoder().decode(Uint8Array.from(this.literal()));
      const id = SPECIAL_ID[text as SpecialToken];
      if (id === undefined) this.fail(`'${text}' is not a special token`, at);
      seq.push({ kind: 'special', id });
    } else {
      const at = this.i;
      const m = this.sticky(NAME);
      if (!m) this.fail(`unexpected '${c}'`);
      if (!this.firstUse.has(m[0])) this.firstUse.set(m[0], at);
      seq.push({ kind: 'ref', rule: this.ruleId(m[0]) });
    }
  }

  /** Apply a postfix operator to the elements seq[start..] (one item). */
  repetition(seq: Alternative, start: number): void {
    const c = this.src[this.i];
    if (c !== '*' && c !== '+' && c !== '?' && c !== '{') return;
    const at = this.i;
    let min: number;
    let max: number; // -1: unbounded
    if (c === '{') {
      const m = this.sticky(REPEAT);
      if (!m || (m[1] === '' && !m[3])) this.fail('bad repetition: expected {n}, {m,}, {,n} or {m,n}');
      min = m[1] === '' ? 0 : Number(m[1]);
      max = m[2] ? (m[3] ? Number(m[3]) : -1) : min;
      if (max !== -1 && max < min)
        this.fail(`repetition {${min},${max}} has its maximum below its minimum`, at);
      if (Math.max(min, max) > MAX_REPEAT)
        this.fail(`repetition counts above ${MAX_REPEAT} are not supported`, at);
    } else {
      this.i++;
      [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1];
    }
    const item = seq.splice(start);
    for (let k = 0; k < min; k++) seq.push(...item);
    if (max === -1) {
      // star ::= item star | ε
      const star = this.fresh('star', []);
      (this.rules[star] as Alternative[]).push([...item, { kind: 'ref', rule: star }], []);
      seq.push({ kind: 'ref', rule: star });
    } else if (max > min) {
      // opt_k ::= item opt_{k-1} | ε   (k optional copies, nested so each is taken only after the previous)
      let tail = -1;
      for (let k = 0; k < max - min; k++) {
        const alt: Alternative = [...item];
        if (tail !== -1) alt.push({ kind: 'ref', rule: tail });
        tail = this.fresh('opt', [alt, []]);
      }
      seq.push({ kind: 'ref', rule: tail });
    }
  }

  escape(): number {
    const at = this.i - 1;
    const e = this.src[this.i++];
    switch (e) {
      case 'n':
        return 10;
      case 't':
        return 9;
      case 'r':
        return 13;
      case '\\':
      case '"':
      case ']':
      case '[':
      case '-':
      case '^':
        return e.charCodeAt(0);
      case 'x': {
        const h = this.sticky(HEX2);
        if (!h) this.fail('bad \\x escape: expected two hex digits', at);
        return Number.parseInt(h[0], 16);
      }
      default:
        return this.fail(`unknown escape \\${e ?? ''}`, at);
    }
  }

  literal(): number[] {
    const open = this.i;
    this.i++; // opening quote
    const out: number[] = [];
    for (;;) {
      const c = this.src[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated string', open);
      this.i++;
      if (c === '"') return out;
      if (c === '\\') out.push(this.escape());
      else for (const b of UTF8.encode(c)) out.push(b);
    }
  }

  charClass(): Uint8Array {
    const open = this.i;
    this.i++; // [
    const set = new Uint8Array(256);
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const one = (): number => {
      const c = this.src[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated character class', open);
      this.i++;
      if (c === '\\') return this.escape();
      const code = c.charCodeAt(0);
      if (code > 127) this.fail('character classes are ASCII only (use \\xHH for other bytes)', this.i - 1);
      return code;
    };
    while (this.src[this.i] !== ']') {
      const at = this.i;
      const lo = one();
      let hi = lo;
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']') {
        this.i++;
        hi = one();
        if (hi < lo) this.fail('character range out of order', at);
      }
      for (let b = lo; b <= hi; b++) set[b] = 1;
    }
    this.i++;
    if (negate) for (let b = 0; b < 256; b++) set[b] = set[b] ? 0 : 1;
    if (!set.includes(1)) this.fail('character class matches nothing', open);
    return set;
  }
}

/** One shared set per byte value: literals are most of a grammar's terminals. Sets are never mutated. */
const SINGLES = Array.from({ length: 256 }, (_, b) => {
  const s = new Uint8Array(256);
  s[b] = 1;
  return s;
});

function single(b: number): Uint8Array {
  return SINGLES[b] as Uint8Array;
}

/** A readable name for error messages: helper rules are shown by the rule they were written in. */
function shown(g: Grammar, r: number): string {
  return `'${g.names[r]}'`;
}

/**
 * Fewest terminals each rule needs to finish; Infinity for a rule that can never finish. A fixpoint over
 * the rules, each terminal costing one token. The matcher reuses it for budget-aware masks.
 */
export function shortestRuleLengths(g: Grammar): number[] {
  const len = g.rules.map(() => Number.POSITIVE_INFINITY);
  // A worklist: when a rule gets shorter, only the rules that use it are looked at again.
  const users = g.rules.map(() => new Set<number>());
  g.rules.forEach((alts, r) => {
    for (const alt of alts) for (const e of alt) if (e.kind === 'ref') (users[e.rule] as Set<number>).add(r);
  });
  const queued = new Uint8Array(g.rules.length).fill(1);
  const todo = g.rules.map((_, r) => r);
  while (todo.length > 0) {
    const r = todo.pop() as number;
    queued[r] = 0;
    let best = len[r] as number;
    for (const alt of g.rules[r] as Alternative[]) {
      let s = 0;
      for (const e of alt) s += e.kind === 'ref' ? (len[e.rule] as number) : 1;
      if (s < best) best = s;
    }
    if (best < (len[r] as number)) {
      len[r] = best;
      for (const u of users[r] as Set<number>) {
        if (!queued[u]) {
          queued[u] = 1;
          todo.push(u);
        }
      }
    }
  }
  return len;
}

/** Refuse grammars the stack matcher cannot run: unfinishable rules and left recursion. */
function checkRunnable(g: Grammar): void {
  const len = shortestRuleLengths(g);
  const reachable = new Set<number>([g.root]);
  const todo = [g.root];
  while (todo.length > 0) {
    const r = todo.pop() as number;
    for (const alt of g.rules[r] as Alternative[])
      for (const e of alt)
        if (e.kind === 'ref' && !reachable.has(e.rule)) {
          reachable.add(e.rule);
          todo.push(e.rule);
        }
  }
  for (const r of reachable) {
    if (len[r] === Number.POSITIVE_INFINITY)
      throw new GrammarError(`grammar: rule ${shown(g, r)} can never finish (every alternative recurses)`);
  }
  // Left corners: the rules an alternative can expand first without consuming a token. A cycle among
  // them (direct or through items that can match nothing) would make the matcher expand forever.
  const corners = g.rules.map((alts) => {
    const out = new Set<number>();
    for (const alt of alts) {
      for (const e of alt) {
        if (e.kind !== 'ref') break;
        out.add(e.rule);
        if (len[e.rule] !== 0) break;
      }
    }
    return out;
  });
  // Iterative depth-first search (grammars can be deep chains of rules), reporting the first cycle.
  const state = new Uint8Array(g.rules.length); // 0 new, 1 on the path, 2 done
  for (const start of reachable) {
    if (state[start] !== 0) continue;
    const path: number[] = [start];
    const iters: Iterator<number>[] = [(corners[start] as Set<number>).values()];
    state[start] = 1;
    while (path.length > 0) {
      const step = (iters[iters.length - 1] as Iterator<number>).next();
      if (step.done) {
        state[path.pop() as number] = 2;
        iters.pop();
        continue;
      }
      const c = step.value;
      if (state[c] === 1) {
        const cycle = [...path.slice(path.indexOf(c)), c].map((x) => shown(g, x)).join(' -> ');
        throw new GrammarError(
          `grammar: left recursion (or a repeated item that can match nothing): ${cycle}`,
        );
      }
      if (state[c] === 0) {
        state[c] = 1;
        path.push(c);
        iters.push((corners[c] as Set<number>).values());
      }
    }
  }
}

export function parseGrammar(src: string): Grammar {
  return new Parser(src).parse();
}
