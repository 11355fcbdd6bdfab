// A grammar over bytes as a deterministic automaton, built lazily: a state is a set of parse stacks of the
// stack matcher (matcher.ts), a transition is one byte accepted from it, and each is worked out the first
// time it is asked for and then read from a table. A grammar whose repetition is right recursion (as
// ebnf.ts writes) has finitely many such states, so after a warm-up every byte costs one table lookup:
// what lets token-constraint.ts walk a whole BPE vocabulary through the grammar in milliseconds.
import type { Grammar } from './gbnf.js';
import { GrammarMatcher } from './matcher.js';

const UNKNOWN = -2;
export const DEAD = -1;

export class ByteDfa {
  /** One matcher per state, all forked from one root so their frames compare. */
  private readonly states: GrammarMatcher[] = [];
  private readonly ids = new Map<string, number>();
  private table = new Int32Array(256 * 64).fill(UNKNOWN);
  private readonly distances: number[] = [];
  private readonly completes: boolean[] = [];
  readonly start: number;

  constructor(grammar: Grammar) {
    this.start = this.intern(new GrammarMatcher(grammar));
  }

  private intern(m: GrammarMatcher): number {
    const key = m.stateKey();
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    id = this.states.length;
    this.ids.set(key, id);
    this.states.push(m);
    this.distances.push(m.minRemaining());
    this.completes.push(m.isComplete());
    if (this.table.length < this.states.length * 256) {
      const grown = new Int32Array(this.table.length * 2).fill(UNKNOWN);
      grown.set(this.table);
      this.table = grown;
    }
    return id;
  }

  /** The state after `byte` from `state`, or DEAD when the grammar refuses it. */
  next(state: number, byte: number): number {
    const at = state * 256 + byte;
    let to = this.table[at] as number;
    if (to === UNKNOWN) {
      const m = (this.states[state] as GrammarMatcher).fork();
      to = m.accept(byte) ? this.intern(m) : DEAD;
      this.table[at] = to;
    }
    return to;
  }

  /** The state after `bytes`, or DEAD. */
  walk(state: number, bytes: Uint8Array): number {
    let s = state;
    for (let i = 0; i < bytes.length && s !== DEAD; i++) s = this.next(s, bytes[i] as number);
    return s;
  }

  /** Fewest bytes that complete a sentence from `state` (0 when it is complete). */
  distance(state: number): number {
    return this.distances[state] as number;
  }

  isComplete(state: number): boolean {
    return this.completes[state] as boolean;
  }

  /** States worked out so far. */
  get size(): number {
    return this.states.length;
  }
}
