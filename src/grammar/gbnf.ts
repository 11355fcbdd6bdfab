// A subset of llama.cpp's GBNF grammar language, parsed into plain rules:
//
//   name ::= alternative ("|" alternative)*          rules, one or more lines; `#` starts a comment
//   "text"  [a-z0-9_]  [^"\\]  .                     literals (with \n \t \\ \" \xHH escapes), byte classes
//   name  ( ... )  @"<special>"                      rule references, groups, a special token by its text
//   x?  x*  x+  x{n}  x{m,n}                         repetition (bounded forms keep sequences finite)
//
// Terminals are bytes (0-255) or special-token ids; the byte-level tokenizer makes every byte a token,
// so a grammar over bytes is a grammar over tokens. Repetition is rewritten into right-recursive helper
// rules, as llama.cpp does; left recursion is not supported (the matcher would not terminate).
import { SPECIAL_ID, type SpecialToken } from '../model/vocab.js';

export type Element =
  | { kind: 'bytes'; set: Uint8Array } // 256 entries, 1 = allowed
  | { kind: 'special'; id: number }
  | { kind: 'ref'; rule: number };

export type Alternative = Element[];

export interface Grammar {
  rules: Alternative[][];
  names: string[];
  root: number;
}

export class GrammarError extends Error {
  override name = 'GrammarError';
}

class Parser {
  i = 0;
  readonly rules: Alternative[][] = [];
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly defined = new Set<string>();

  constructor(readonly src: string) {}

  where(): string {
    const before = this.src.slice(0, this.i);
    const line = before.split('\n').length;
    const col = this.i - before.lastIndexOf('\n');
    return `${line}:${col}`;
  }

  fail(msg: string): never {
    throw new GrammarError(`grammar ${this.where()}: ${msg}`);
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

  fresh(hint: string, alts: Alternative[]): number {
    const id = this.ruleId(`${hint}#${this.rules.length}`);
    this.rules[id] = alts;
    return id;
  }

  name(): string | null {
    const m = /^[A-Za-z][A-Za-z0-9_-]*/.exec(this.src.slice(this.i));
    if (!m) return null;
    this.i += m[0].length;
    return m[0];
  }

  parse(): Grammar {
    this.ws();
    while (this.i < this.src.length) {
      const name = this.name();
      if (!name) this.fail('expected a rule name');
      if (this.defined.has(name)) this.fail(`rule '${name}' is defined twice`);
      this.defined.add(name);
      this.ws(false);
      if (!this.src.startsWith('::=', this.i)) this.fail(`expected '::=' after '${name}'`);
      this.i += 3;
      this.rules[this.ruleId(name)] = this.alternatives(false);
      this.ws();
    }
    for (const n of this.index.keys()) {
      if (!n.includes('#') && !this.defined.has(n))
        throw new GrammarError(`grammar: rule '${n}' is used but not defined`);
    }
    const root = this.index.get('root');
    if (root === undefined) throw new GrammarError("grammar: no 'root' rule");
    return { rules: this.rules, names: this.names, root };
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
    return /^[A-Za-z][A-Za-z0-9_-]*[ \t]*::=/.test(this.src.slice(this.i));
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
      this.i++;
      const alts = this.alternatives(true);
      if (this.src[this.i] !== ')') this.fail("expected ')'");
      this.i++;
      seq.push({ kind: 'ref', rule: this.fresh('group', alts) });
    } else if (c === '@') {
      this.i++;
      const text = new TextDecoder().decode(Uint8Array.from(this.literal()));
      const id = SPECIAL_ID[text as SpecialToken];
      if (id === undefined) this.fail(`'${text}' is not a special token`);
      seq.push({ kind: 'special', id });
    } else {
      const name = this.name();
      if (!name) this.fail(`unexpected '${c}'`);
      seq.push({ kind: 'ref', rule: this.ruleId(name) });
    }
  }

  /** Apply a postfix operator to the elements seq[start..] (one item). */
  repetition(seq: Alternative, start: number): void {
    const c = this.src[this.i];
    if (c !== '*' && c !== '+' && c !== '?' && c !== '{') return;
    const item = seq.splice(start);
    let min: number;
    let max: number; // -1: unbounded
    if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) this.fail('bad repetition {m,n}');
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] ? (m[3] ? Number(m[3]) : -1) : min;
      if (max !== -1 && max < min) this.fail('repetition {m,n} with n < m');
    } else {
      this.i++;
      [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1];
    }
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
        const h = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!h) this.fail('bad \\x escape');
        this.i += 2;
        return Number.parseInt(h[0], 16);
      }
      default:
        return this.fail(`unknown escape \\${e}`);
    }
  }

  literal(): number[] {
    this.i++; // opening quote
    const out: number[] = [];
    for (;;) {
      const c = this.src[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      this.i++;
      if (c === '"') return out;
      if (c === '\\') out.push(this.escape());
      else for (const b of new TextEncoder().encode(c)) out.push(b);
    }
  }

  charClass(): Uint8Array {
    this.i++; // [
    const set = new Uint8Array(256);
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const one = (): number => {
      const c = this.src[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated character class');
      this.i++;
      if (c === '\\') return this.escape();
      const code = c.charCodeAt(0);
      if (code > 127) this.fail('character classes are ASCII only');
      return code;
    };
    while (this.src[this.i] !== ']') {
      const lo = one();
      let hi = lo;
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']') {
        this.i++;
        hi = one();
        if (hi < lo) this.fail('character range out of order');
      }
      for (let b = lo; b <= hi; b++) set[b] = 1;
    }
    this.i++;
    if (negate) for (let b = 0; b < 256; b++) set[b] = set[b] ? 0 : 1;
    return set;
  }
}

function single(b: number): Uint8Array {
  const s = new Uint8Array(256);
  s[b] = 1;
  return s;
}

export function parseGrammar(src: string): Grammar {
  return new Parser(src).parse();
}
