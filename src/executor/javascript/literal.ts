// Parsing JavaScript-like literals as data, never as code: inputs (an argument list) and expected
// outputs. Accepts JSON plus what `canonical` writes beyond it and what people type: single-quoted
// strings, unquoted keys, trailing commas, undefined, NaN, Infinity, -0, BigInt, new Map([...]) and
// new Set([...]).

export class LiteralError extends Error {
  override name = 'LiteralError';
}

const MAX_DEPTH = 100;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new LiteralError(`${what} at offset ${this.i}`);
  }

  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++;
  }

  eat(text: string): boolean {
    this.ws();
    if (this.s.startsWith(text, this.i)) {
      this.i += text.length;
      return true;
    }
    return false;
  }

  expect(text: string): void {
    if (!this.eat(text)) this.fail(`expected '${text}'`);
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) this.fail('unexpected end');
    if (c === '"' || c === "'") return this.string(c);
    if (c === '[') {
      this.i++;
      return this.list(']', depth);
    }
    if (c === '{') return this.object(depth);
    if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return this.number();
    const word = /^[A-Za-z_$][\w$]*/.exec(this.s.slice(this.i))?.[0];
    if (word === undefined) this.fail(`unexpected '${c}'`);
    this.i += word.length;
    switch (word) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'undefined':
        return undefined;
      case 'NaN':
        return Number.NaN;
      case 'Infinity':
        return Number.POSITIVE_INFINITY;
      case 'new': {
        this.ws();
        const kind = /^(Map|Set)\b/.exec(this.s.slice(this.i))?.[0];
        if (!kind) this.fail('only new Map([...]) and new Set([...]) are literals');
        this.i += kind.length;
        this.expect('(');
        this.expect('[');
        const items = this.list(']', depth + 1);
        this.expect(')');
        if (kind === 'Set') return new Set(items);
        for (const e of items)
          if (!Array.isArray(e) || e.length !== 2) this.fail('a Map entry must be [key, value]');
        return new Map(items as [unknown, unknown][]);
      }
      default:
        return this.fail(`'${word}' is not a literal`);
    }
  }

  list(close: string, depth: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      if (this.eat(close)) return out;
      out.push(this.value(depth + 1));
      if (this.eat(close)) return out;
      this.expect(',');
    }
  }

  object(depth: number): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      if (this.eat('}')) return out;
      this.ws();
      const c = this.s[this.i];
      let key: string;
      if (c === '"' || c === "'") key = this.string(c);
      else {
        const word = /^[A-Za-z_$][\w$]*|^\d+/.exec(this.s.slice(this.i))?.[0];
        if (word === undefined) this.fail('expected a key');
        key = word;
        this.i += word.length;
      }
      this.expect(':');
      // defineProperty: a key named __proto__ is data here, never a prototype change.
      Object.defineProperty(out, key, {
        value: this.value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (this.eat('}')) return out;
      this.expect(',');
    }
  }

  string(quote: string): string {
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++] as string;
      if (c === quote) return out;
      if (c === '\n') this.fail('newline in string');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.s[this.i++];
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        b: '\b',
        f: '\f',
        v: '\v',
        '0': '\0',
      };
      if (e === undefined) break;
      if (e in simple) out += simple[e];
      else if (e === 'u') {
        const hex = /^\{([0-9a-fA-F]{1,6})\}|^[0-9a-fA-F]{4}/.exec(this.s.slice(this.i));
        if (!hex) this.fail('bad \\u escape');
        out += String.fromCodePoint(Number.parseInt(hex[1] ?? hex[0], 16));
        this.i += hex[0].length;
      } else if (e === 'x') {
        const hex = /^[0-9a-fA-F]{2}/.exec(this.s.slice(this.i));
        if (!hex) this.fail('bad \\x escape');
        out += String.fromCharCode(Number.parseInt(hex[0], 16));
        this.i += 2;
      } else out += e;
    }
    return this.fail('unterminated string');
  }

  number(): number | bigint {
    const m = /^[+-]?(Infinity|0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)(n?)/.exec(
      this.s.slice(this.i),
    );
    if (!m) this.fail('bad number');
    this.i += m[0].length;
    if (m[4] === 'n') {
      if (/[.eE]/.test(m[1] as string)) this.fail('bad BigInt');
      return BigInt(m[0].slice(0, -1));
    }
    return Number(m[0]);
  }
}

/** One literal value. */
export function parseLiteral(text: string): unknown {
  const p = new Parser(text);
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected text after the value');
  return v;
}

/** An argument list, e.g. `[1, 2], "a"` (two arguments); empty text is no arguments. */
export function parseArgs(text: string): unknown[] {
  const p = new Parser(text);
  p.ws();
  if (p.i === text.length) return [];
  const out: unknown[] = [p.value(0)];
  while (p.eat(',')) out.push(p.value(0));
  p.ws();
  if (p.i !== text.length) p.fail('unexpected text after the arguments');
  return out;
}
