// Python values as the host sees them: read from literal text, never from a program's objects. The sandbox
// returns a program's result as the repr of a value of exact built-in types (runtime.py refuses anything
// else as `not_a_value`); this module reads that text, and the other literals equality is asked about
// (expected outputs, answers), into plain data, and decides equality there, where no code a program
// defined can run. A spelling it does not read (\N{...} escapes, implicit concatenation, complex numbers)
// is handed back as unreadable, and the caller asks the sandbox to canonicalise it with ast.literal_eval.
//
// Equality follows Python's == with the project's rules: ints and floats compare by exact value
// (1 == 1.0, 2**53 + 1 != 2.0**53), a bool equals only a bool (also as a set member or dict key, where
// Python would merge True with 1), set and frozenset compare unordered and equal each other, list and
// tuple never equal each other, and dict keys pair up by the same rules.

export type PyValue =
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'bytes'; v: Uint8Array }
  | { t: 'list' | 'tuple' | 'set'; items: PyValue[] }
  | { t: 'dict'; entries: [PyValue, PyValue][] };

/** A spelling this reader does not take; the sandbox may still read it. */
export class Unreadable extends Error {
  override name = 'Unreadable';
}

const MAX_DEPTH = 200;

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new Unreadable(`${what} at offset ${this.i}`);
  }

  ws(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i] as string;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.i++;
      else if (c === '\\' && this.s[this.i + 1] === '\n') this.i += 2;
      else break;
    }
  }

  peek(): string | undefined {
    this.ws();
    return this.s[this.i];
  }

  eat(c: string): boolean {
    if (this.peek() === c) {
      this.i++;
      return true;
    }
    return false;
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const c = this.peek();
    if (c === undefined) this.fail('unexpected end');
    if (c === '[') {
      this.i++;
      return { t: 'list', items: this.items(']', depth) };
    }
    if (c === '(') {
      this.i++;
      if (this.eat(')')) return { t: 'tuple', items: [] };
      const first = this.value(depth + 1);
      if (this.eat(')')) return first; // parentheses around one value
      if (!this.eat(',')) this.fail("expected ',' or ')'");
      return { t: 'tuple', items: [first, ...this.items(')', depth)] };
    }
    if (c === '{') {
      this.i++;
      return this.braces(depth);
    }
    if (c === "'" || c === '"') return this.string('');
    if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0];
    if (word === undefined) this.fail(`unexpected '${c}'`);
    const quote = this.s[this.i + word.length];
    if ((quote === "'" || quote === '"') && /^(?:[rRbBuU]|[rR][bB]|[bB][rR])$/.test(word)) {
      this.i += word.length;
      return this.string(word.toLowerCase());
    }
    this.i += word.length;
    switch (word) {
      case 'None':
        return { t: 'none' };
      case 'True':
        return { t: 'bool', v: true };
      case 'False':
        return { t: 'bool', v: false };
      case 'set':
      case 'frozenset': {
        if (!this.eat('(')) this.fail(`expected '(' after ${word}`);
        if (this.eat(')')) return { t: 'set', items: [] };
        if (word === 'set') this.fail('set() takes no literal here');
        const inner = this.value(depth + 1);
        if (!this.eat(')')) this.fail("expected ')'");
        if (inner.t !== 'set' && inner.t !== 'list' && inner.t !== 'tuple')
          this.fail('frozenset of a non-collection');
        return { t: 'set', items: dedupe(inner.items) };
      }
      default:
        return this.fail(`'${word}' is not a literal`);
    }
  }

  items(close: string, depth: number): PyValue[] {
    const out: PyValue[] = [];
    for (;;) {
      if (this.eat(close)) return out;
      out.push(this.value(depth + 1));
      if (this.eat(close)) return out;
      if (!this.eat(',')) this.fail(`expected ',' or '${close}'`);
    }
  }

  braces(depth: number): PyValue {
    if (this.eat('}')) return { t: 'dict', entries: [] };
    const first = this.value(depth + 1);
    if (this.eat(':')) {
      const entries: [PyValue, PyValue][] = [[first, this.value(depth + 1)]];
      for (;;) {
        if (this.eat('}')) break;
        if (!this.eat(',')) this.fail("expected ',' or '}'");
        if (this.eat('}')) break;
        const k = this.value(depth + 1);
        if (!this.eat(':')) this.fail("expected ':'");
        entries.push([k, this.value(depth + 1)]);
      }
      // Python keeps the first spelling of a repeated key and the last value given for it.
      const at = new Map<string, number>();
      const merged: [PyValue, PyValue][] = [];
      for (const [k, v] of entries) {
        const key = canonicalKey(k);
        const j = at.get(key);
        if (j === undefined) {
          at.set(key, merged.length);
          merged.push([k, v]);
        } else (merged[j] as [PyValue, PyValue])[1] = v;
      }
      return { t: 'dict', entries: merged };
    }
    const items = [first];
    if (!this.eat('}')) {
      if (!this.eat(',')) this.fail("expected ',' or '}'");
      items.push(...this.items('}', depth));
    }
    return { t: 'set', items: dedupe(items) };
  }

  number(): PyValue {
    const m =
      /^([+-]?)[ \t]*(?:(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+)|((?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?))(?![\w.])/.exec(
        this.s.slice(this.i),
      );
    if (!m || (!m[2] && !/\d/.test(m[3] ?? ''))) this.fail('bad number');
    this.i += m[0].length;
    const negative = m[1] === '-';
    if (m[2]) {
      const v = BigInt(m[2].replace(/_/g, '').toLowerCase());
      return { t: 'int', v: negative ? -v : v };
    }
    const text = (m[3] as string).replace(/_/g, '');
    if (/^\d+$/.test(text)) {
      if (text.length > 1 && /^0+[1-9]/.test(text)) this.fail('leading zeros');
      const v = BigInt(text);
      return { t: 'int', v: negative ? -v : v };
    }
    const v = Number(text);
    if (!Number.isFinite(v)) this.fail('float out of range');
    return { t: 'float', v: negative ? -v : v };
  }

  string(prefix: string): PyValue {
    const raw = prefix.includes('r');
    const bytes = prefix.includes('b');
    const q = this.s[this.i] as string;
    if (this.s.startsWith(q.repeat(3), this.i)) this.fail('triple-quoted strings');
    this.i++;
    const units: number[] = []; // code points (str) or bytes
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      const c = this.s.codePointAt(this.i) as number;
      const ch = String.fromCodePoint(c);
      this.i += ch.length;
      if (ch === q) break;
      if (ch === '\n') this.fail('newline in string');
      if (bytes && c > 0x7f) this.fail('non-ASCII character in bytes');
      if (ch !== '\\') {
        units.push(c);
        continue;
      }
      const e = this.s[this.i];
      if (e === undefined) this.fail('unterminated string');
      if (raw) {
        units.push(0x5c, e.charCodeAt(0));
        this.i++;
        continue;
      }
      this.i++;
      const simple: Record<string, number> = {
        '\\': 0x5c,
        "'": 0x27,
        '"': 0x22,
        a: 7,
        b: 8,
        f: 12,
        n: 10,
        r: 13,
        t: 9,
        v: 11,
      };
      if (e === '\n') continue;
      const code = simple[e];
      if (code !== undefined) units.push(code);
      else if (e >= '0' && e <= '7') {
        const oct = /^[0-7]{1,2}/.exec(this.s.slice(this.i))?.[0] ?? '';
        this.i += oct.length;
        const v = Number.parseInt(e + oct, 8);
        if (bytes && v > 255) this.fail('octal escape out of range');
        units.push(v);
      } else if (e === 'x' || (!bytes && (e === 'u' || e === 'U'))) {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        const v = Number.parseInt(hex, 16);
        if (v > 0x10ffff) this.fail('escape out of range');
        units.push(v);
        this.i += n;
      } else if (e === 'N') this.fail('\\N{...} escapes');
      else units.push(0x5c, e.codePointAt(0) as number); // Python keeps an unknown escape as written
    }
    if (bytes) return { t: 'bytes', v: Uint8Array.from(units) };
    let v = '';
    for (const u of units) v += String.fromCodePoint(u);
    return { t: 'str', v };
  }
}

/** Set members once each, by the same equality as everything else (the first spelling kept). */
function dedupe(items: PyValue[]): PyValue[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = canonicalKey(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One Python literal value; throws Unreadable for what this reader does not take. */
export function readPythonValue(text: string): PyValue {
  const r = new Reader(text);
  const v = r.value(0);
  if (r.peek() !== undefined) r.fail('unexpected text after the value');
  return v;
}

/**
 * A text that two values share exactly when they are equal by the rules above. Numbers of either kind
 * with an integral value are written as that integer, so 1 and 1.0 meet; other floats by their shortest
 * round-trip text, unique per double; sets and dicts in sorted order.
 */
export function canonicalKey(v: PyValue): string {
  switch (v.t) {
    case 'none':
      return 'N';
    case 'bool':
      return v.v ? 'T' : 'F';
    case 'int':
      return `n${v.v}`;
    case 'float':
      return Number.isInteger(v.v) ? `n${BigInt(v.v)}` : `f${v.v}`;
    case 'str':
      return `s${JSON.stringify(v.v)}`;
    case 'bytes':
      return `b${Buffer.from(v.v).toString('hex')}`;
    case 'list':
      return `[${v.items.map(canonicalKey).join(',')}]`;
    case 'tuple':
      return `(${v.items.map(canonicalKey).join(',')})`;
    case 'set':
      return `{${v.items.map(canonicalKey).sort().join(',')}}`;
    case 'dict':
      return `<${v.entries
        .map(([k, x]) => `${canonicalKey(k)}:${canonicalKey(x)}`)
        .sort()
        .join(',')}>`;
  }
}

export function pythonEqual(a: PyValue, b: PyValue): boolean {
  return canonicalKey(a) === canonicalKey(b);
}

/** The value as plain JSON data where it maps onto it (ExecSuccess.value); undefined otherwise. */
export function jsonValue(v: PyValue): unknown {
  switch (v.t) {
    case 'none':
      return null;
    case 'bool':
    case 'str':
      return v.v;
    case 'int':
      return v.v > -(2n ** 53n) && v.v < 2n ** 53n ? Number(v.v) : undefined;
    case 'float':
      return v.v;
    case 'list': {
      const out: unknown[] = [];
      for (const x of v.items) {
        const j = jsonValue(x);
        if (j === undefined) return undefined;
        out.push(j);
      }
      return out;
    }
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (const [k, x] of v.entries) {
        if (k.t !== 'str') return undefined;
        const j = jsonValue(x);
        if (j === undefined) return undefined;
        Object.defineProperty(out, k.v, { value: j, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      return undefined;
  }
}
