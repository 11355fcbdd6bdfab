// Incremental matching of a token sequence against a grammar, as a set of parse stacks (the llama.cpp
// approach). A stack is a linked list of positions inside rule alternatives; after every token each
// stack is expanded until its top is a terminal, so the allowed next tokens are the union of the top
// terminals, and the text is complete when some stack is empty.
//
// Two things keep it fast and small: stack frames are interned (the same position over the same rest of
// the stack is one object), so duplicate stacks and repeated expansions are found by identity; and a
// frame whose alternative has ended is never kept (a tail call), so right-recursive repetition does not
// grow the stacks.
import type { ConstraintMatcher, DecodeConstraint } from '../model/constraint.js';
import { BYTE_TOKENS } from '../model/vocab.js';
import { type Alternative, type Grammar, shortestRuleLengths } from './gbnf.js';

const END = 0;
const BYTES = 1;
const SPECIAL = 2;
const REF = 3;

/** A grammar flattened into positions: every (rule, alternative, index) including each alternative's end. */
interface Compiled {
  kind: Uint8Array;
  /** REF: the rule; SPECIAL: the token id. */
  arg: Int32Array;
  /** BYTES: the allowed byte values, listed (for masks) and as a 256-entry set (for accept). */
  byteList: (Uint8Array | null)[];
  byteSet: (Uint8Array | null)[];
  /** Fewest tokens that finish the alternative from this position. */
  rest: Float64Array;
  /** Per rule: the first position of each alternative. */
  starts: Int32Array[];
}

function compile(g: Grammar): Compiled {
  const ruleLen = shortestRuleLengths(g);
  let n = 0;
  for (const alts of g.rules) for (const alt of alts) n += alt.length + 1;
  const c: Compiled = {
    kind: new Uint8Array(n),
    arg: new Int32Array(n),
    byteList: new Array(n).fill(null),
    byteSet: new Array(n).fill(null),
    rest: new Float64Array(n),
    starts: [],
  };
  const lists = new Map<Uint8Array, Uint8Array>();
  let p = 0;
  g.rules.forEach((alts: Alternative[]) => {
    const starts = new Int32Array(alts.length);
    alts.forEach((alt, a) => {
      starts[a] = p;
      const first = p;
      for (const e of alt) {
        if (e.kind === 'bytes') {
          c.kind[p] = BYTES;
          c.byteSet[p] = e.set;
          let list = lists.get(e.set);
          if (!list) {
            const bytes: number[] = [];
            for (let b = 0; b < 256; b++) if (e.set[b]) bytes.push(b);
            list = Uint8Array.from(bytes);
            lists.set(e.set, list);
          }
          c.byteList[p] = list;
        } else if (e.kind === 'special') {
          c.kind[p] = SPECIAL;
          c.arg[p] = e.id;
        } else {
          c.kind[p] = REF;
          c.arg[p] = e.rule;
        }
        p++;
      }
      c.kind[p] = END;
      p++;
      for (let q = p - 2; q >= first; q--)
        c.rest[q] =
          (c.rest[q + 1] as number) + (c.kind[q] === REF ? (ruleLen[c.arg[q] as number] as number) : 1);
    });
    c.starts.push(starts);
  });
  return c;
}

const compiledCache = new WeakMap<Grammar, Compiled>();

function compiled(g: Grammar): Compiled {
  let c = compiledCache.get(g);
  if (!c) {
    c = compile(g);
    compiledCache.set(g, c);
  }
  return c;
}

interface Frame {
  pos: number;
  next: Frame | null;
  /** Unique within its intern table (shared by forks); interned frames compare by identity. */
  id: number;
  /** Fewest tokens that complete the sentence from this stack. */
  min: number;
  /** The expandAll call that last reached this frame (a visited mark without a set per call). */
  seen: number;
}

/** Numbers expandAll calls, for Frame.seen (expansion is synchronous, so one counter serves all matchers). */
let expansion = 0;

export class GrammarMatcher implements ConstraintMatcher {
  private readonly c: Compiled;
  private readonly grammar: Grammar;
  /** Frames by (position, rest of the stack): key pos + positions * (next.id + 1), or pos for an empty rest. */
  private readonly interned: Map<number, Frame> = new Map();
  /** Stacks whose top is a terminal. */
  private tops: Frame[] = [];
  private complete = false;

  constructor(g: Grammar, from?: GrammarMatcher) {
    this.c = compiled(g);
    if (from) {
      // A fork shares the interned frames (they never change) and copies the stack set.
      this.interned = from.interned;
      this.tops = from.tops.slice();
      this.complete = from.complete;
      this.grammar = g;
      return;
    }
    this.grammar = g;
    this.tops = this.expandAll(Array.from(this.c.starts[g.root] ?? [], (s) => this.frame(s, null)));
  }

  /** An independent matcher in the same state (e.g. to try a token without committing to it). */
  fork(): GrammarMatcher {
    return new GrammarMatcher(this.grammar, this);
  }

  /** The stack for position `pos` over `next`; an ended alternative returns to its caller (a tail call). */
  private frame(pos: number, next: Frame | null): Frame | null {
    if (this.c.kind[pos] === END) return next;
    const key = next ? pos + this.c.kind.length * (next.id + 1) : pos;
    let f = this.interned.get(key);
    if (!f) {
      f = {
        pos,
        next,
        id: this.interned.size,
        min: (this.c.rest[pos] as number) + (next ? next.min : 0),
        seen: 0,
      };
      this.interned.set(key, f);
    }
    return f;
  }

  /** Expand stacks until each top is a terminal; an empty stack means the text so far is complete. */
  private expandAll(start: (Frame | null)[]): Frame[] {
    const out: Frame[] = [];
    const mark = ++expansion;
    this.complete = false;
    const todo = start.slice();
    while (todo.length > 0) {
      const s = todo.pop() as Frame | null;
      if (s === null) {
        this.complete = true;
        continue;
      }
      if (s.seen === mark) continue;
      s.seen = mark;
      if (this.c.kind[s.pos] !== REF) {
        out.push(s);
        continue;
      }
      const cont = this.frame(s.pos + 1, s.next);
      for (const a of this.c.starts[this.c.arg[s.pos] as number] as Int32Array)
        todo.push(this.frame(a, cont));
    }
    // A stable order keeps masks independent of expansion order (and runs deterministic).
    return out.sort((x, y) => x.id - y.id);
  }

  /** Fewest tokens that complete the sentence from here (0 when complete). */
  minRemaining(): number {
    if (this.complete) return 0;
    let best = Number.POSITIVE_INFINITY;
    for (const s of this.tops) if (s.min < best) best = s.min;
    return best;
  }

  allowedTokens(mask: Uint8Array, remaining?: number): void {
    mask.fill(0);
    const c = this.c;
    for (const s of this.tops) {
      // s.min counts this token too: after it, min - 1 more are needed.
      if (remaining !== undefined && s.min > remaining) continue;
      if (c.kind[s.pos] === BYTES) {
        const list = c.byteList[s.pos] as Uint8Array;
        for (let k = 0; k < list.length; k++) mask[list[k] as number] = 1;
      } else if ((c.arg[s.pos] as number) < mask.length) mask[c.arg[s.pos] as number] = 1;
    }
  }

  accept(token: number): boolean {
    const c = this.c;
    const advanced: (Frame | null)[] = [];
    for (const s of this.tops) {
      const ok =
        c.kind[s.pos] === BYTES
          ? token < BYTE_TOKENS && (c.byteSet[s.pos] as Uint8Array)[token] === 1
          : c.arg[s.pos] === token;
      if (ok) advanced.push(this.frame(s.pos + 1, s.next));
    }
    if (advanced.length === 0) return false;
    this.tops = this.expandAll(advanced);
    return true;
  }

  isComplete(): boolean {
    return this.complete;
  }

  /**
   * The parse state as a string: two matchers forked from one root matcher (they share its frames) with
   * equal keys accept exactly the same continuations, so a caller can cache per key (byte-dfa.ts does).
   */
  stateKey(): string {
    let key = this.complete ? '$' : '';
    for (const s of this.tops) key += `${s.id},`;
    return key;
  }

  /** Live parse stacks (a measure of how ambiguous the text is so far; for benchmarks and tests). */
  stackCount(): number {
    return this.tops.length + (this.complete ? 1 : 0);
  }

  /** Feed a whole token sequence; false at the first token the grammar refuses (state stays before it). */
  acceptAll(tokens: readonly number[]): boolean {
    return tokens.every((t) => this.accept(t));
  }
}

export function grammarConstraint(name: string, g: Grammar): DecodeConstraint {
  return { name, start: () => new GrammarMatcher(g) };
}
