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
}

const MAX_DEPTH = 200;

function frame(rule: number, alt: number, pos: number, next: Frame | null): Frame {
  return { rule, alt, pos, next, key: `${rule}.${alt}.${pos}/${next ? next.key : ''}` };
}

export class GrammarMatcher implements ConstraintMatcher {
  private stacks: (Frame | null)[];

  constructor(private readonly g: Grammar) {
    this.stacks = this.expandAll(this.g.rules[g.root]?.map((_, a) => frame(g.root, a, 0, null)) ?? []);
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
        const cont = frame(s.rule, s.alt, s.pos + 1, s.next);
        const alts = this.g.rules[el.rule] as Alternative[];
        for (let a = 0; a < alts.length; a++) visit(frame(el.rule, a, 0, cont), depth + 1);
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

  allowedTokens(mask: Uint8Array): void {
    mask.fill(0);
    for (const s of this.stacks) {
      if (s === null) continue;
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
      if (ok) advanced.push(frame(s.rule, s.alt, s.pos + 1, s.next));
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
