// The canonical text of a JavaScript value: what a JavaScript task's output is, and what equality is
// measured on. Object keys are sorted, so two values are structurally equal exactly when their texts
// are equal. Beyond JSON it spells out undefined, NaN, Infinity, -0, BigInt, Map and Set, which
// JSON.stringify would silently lose. This function is also injected into the sandbox as source text,
// so it must not refer to anything outside itself.
export function canonical(value: unknown): string {
  const seen = new Set<unknown>();
  const go = (v: unknown, depth: number): string => {
    if (depth > 200) throw new Error('value nested too deeply');
    if (v === undefined) return 'undefined';
    if (v === null) return 'null';
    const t = typeof v;
    if (t === 'number') {
      const n = v as number;
      if (Object.is(n, -0)) return '-0';
      if (Number.isNaN(n)) return 'NaN';
      if (n === Number.POSITIVE_INFINITY) return 'Infinity';
      if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
      return JSON.stringify(n);
    }
    if (t === 'string' || t === 'boolean') return JSON.stringify(v);
    if (t === 'bigint') return `${String(v)}n`;
    if (t !== 'object') throw new Error(`a ${t} has no literal form`);
    if (seen.has(v)) throw new Error('the value is cyclic');
    seen.add(v);
    let out: string;
    if (Array.isArray(v)) {
      const items: string[] = [];
      for (let i = 0; i < v.length; i++) items.push(go(v[i], depth + 1));
      out = `[${items.join(',')}]`;
    } else if (v instanceof Map) {
      const entries = [...v].map(([k, x]) => `[${go(k, depth + 1)},${go(x, depth + 1)}]`);
      out = `new Map([${entries.join(',')}])`;
    } else if (v instanceof Set) {
      out = `new Set([${[...v].map((x) => go(x, depth + 1)).join(',')}])`;
    } else {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      out = `{${keys.map((k) => `${JSON.stringify(k)}:${go(o[k], depth + 1)}`).join(',')}}`;
    }
    seen.delete(v);
    return out;
  };
  return go(value, 0);
}
