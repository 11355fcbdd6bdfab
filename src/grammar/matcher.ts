// Incremental matching of a token sequence against a grammar, as a set of parse stacks (the llama.cpp
// approach). A stack is a linked list of positions (rule, alternative, element); after every step each
// stack is expanded until its top is a terminal, so the allowed next tokens are the union of the top
// terminals, and the text is complete when some stack is empty. Stacks are deduplicated by content.
import type { ConstraintMatcher, DecodeConstraint } from '../model/constraint.js';
import { BYTE_TOKENS } from '../model/vocab.js';
import type { Alternative, Element, Grammar } from './gbnf.js';

interface Frame {
  rule: number;
  alt: number;
  pos: number;
  next: Frame | null;
  key: string;
  /** Fewest tokens that complete the sentence from this stack. */
  min: number;
}

const MAX_DEPTH = 200;

/**
 * Shortest completion lengths: for every (rule, alternative, position), the fewest tokens that finish
 * that alternative from that position. A fixpoint over the rules (each terminal costs one token).
 */
function shortestSuffixes(g: Grammar): number[][][] {
  const ruleMin = g.rules.map(() => Number.POSITIVE_INFINITY);
  const cost = (e: Element) => (e.kind === 'ref' ? (ruleMin[e.rule] as number) : 1);
  for (let changed = true; changed; ) {
    changed = false;
    g.rules.forEach((alts, r) => {
      const best = Math.min(...alts.map((alt) => alt.reduce((s, e) => s + cost(e), 0)));
      if (best < (ruleMin[r] as number)) {
        ruleMin[r] = best;
        changed = true;
      }
    });
  }
  return g.rules.map((alts) =>
    alts.map((alt) => {
      const suffix = new Array<number>(alt.length + 1).fill(0);
      for (let i = alt.length - 1; i >= 0; i--)
        suffix[i] = (suffix[i + 1] as number) + cost(alt[i] as Element);
      return suffix;
    }),
  );
}

const suffixCache = new WeakMap<Grammar, number[][][]>();

export class GrammarMatcher implements ConstraintMatcher {
  private stacks: (Frame | null)[];
  private readonly suffix: number[][][];

  constructor(private readonly g: Grammar) {
    let suffix = suffixCache.get(g);
    if (!suffix) {
      suffix = shortestSuffixes(g);
      suffixCache.set(g, suffix);
    }
    this.suffix = suffix;
    this.stacks = this.expandAll(this.g.rules[g.root]?.map((_, a) => this.frame(g.root, a, 0, null)) ?? []);
  }

  private frame(rule: number, alt: number, pos: number, next: Frame | null): Frame {
    const rest = (this.suffix[rule] as number[][])[alt]?.[pos] as number;
    return {
      rule,
      alt,
      pos,
      next,
      key: `${rule}.${alt}.${pos}/${next ? next.key : ''}`,
      min: rest + (next ? next.min : 0),
    };
  }

  /** Fewest tokens that complete the sentence from here (0 when complete). */
  minRemaining(): number {
    return Math.min(...this.stacks.map((s) => (s ? s.min : 0)));
  }

  private element(f: Frame): Element | undefined {
    return ((this.g.rules[f.rule] as Alternative[])[f.alt] as Alternative)[f.pos];
  }

  /** Expand stacks until each top is a terminal (or the stack is empty: complete). */
  private expandAll(start: (Frame | null)[]): (Frame | null)[] {
    const out: (Frame | null)[] = [];
    const seen = new Set<string>();
    const visit = (s: Frame | null, depth: number): void => {
      if (depth > MAX_DEPTH) throw new Error('grammar nests too deeply (left recursion?)');
      if (s === null) {
        if (!seen.has('')) {
          seen.add('');
          out.push(null);
        }
        return;
      }
      const el = this.element(s);
      if (el === undefined) {
        visit(s.next, depth + 1); // end of this alternative: return to the caller
        return;
      }
      if (el.kind === 'ref') {
        const cont = this.frame(s.rule, s.alt, s.pos + 1, s.next);
        const alts = this.g.rules[el.rule] as Alternative[];
        for (let a = 0; a < alts.length; a++) visit(this.frame(el.rule, a, 0, cont), depth + 1);
        return;
      }
      if (!seen.has(s.key)) {
        seen.add(s.key);
        out.push(s);
      }
    };
    for (const s of start) visit(s, 0);
    return out;
  }

  allowedTokens(mask: Uint8Array, remaining?: number): void {
    mask.fill(0);
    for (const s of this.stacks) {
      if (s === null) continue;
      // After this token, the stack still needs min - 1 more (the top terminal is consumed).
      if (remaining !== undefined && s.min > remaining) continue;
      const el = this.element(s) as Element;
      if (el.kind === 'bytes') {
        const set = el.set;
        for (let b = 0; b < 256; b++) if (set[b]) mask[b] = 1;
      } else if (el.kind === 'special') mask[el.id] = 1;
    }
  }

  accept(token: number): boolean {
    const advanced: Frame[] = [];
    for (const s of this.stacks) {
      if (s === null) continue;
      const el = this.element(s) as Element;
      const ok =
        el.kind === 'bytes'
          ? token < BYTE_TOKENS && el.set[token] === 1
          : el.kind === 'special' && el.id === token;
      if (ok) advanced.push(this.frame(s.rule, s.alt, s.pos + 1, s.next));
    }
    if (advanced.length === 0) return false;
    this.stacks = this.expandAll(advanced);
    return true;
  }

  isComplete(): boolean {
    return this.stacks.includes(null);
  }

  /** Feed a whole token sequence; false at the first token the grammar refuses. */
  acceptAll(tokens: readonly number[]): boolean {
    return tokens.every((t) => this.accept(t));
  }
}

export function grammarConstraint(name: string, g: Grammar): DecodeConstraint {
  return { name, start: () => new GrammarMatcher(g) };
}
