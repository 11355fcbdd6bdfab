// Grammar-constrained decoding over a real model's BPE vocabulary (49,152 or 151,936 tokens of several
// bytes each). The grammar runs over bytes as a lazily built automaton (byte-dfa.ts); a token is allowed
// in a state when its bytes walk the automaton without dying. Per state the allowed set is computed once,
// by walking the vocabulary's byte trie (token-trie.ts) with subtrees the grammar refuses skipped, and
// kept; after a warm-up a sampled token costs a copy of one cached mask plus a few table lookups.
//
// Budget. `remaining` tokens are left when a mask is asked for; a token is allowed only if, after it, the
// sentence can still be completed in the tokens left. The automaton knows the fewest bytes that complete
// a sentence from each state, and every byte a shortest completion uses (printable ASCII, newline, tab,
// UTF-8 continuation bytes) is a token of its own in a byte-level vocabulary (SmolLM2's and Qwen2.5's are
// tested), so bytes bound tokens from above: a constrained sample closes its answer within the budget
// whenever the budget covers the shortest answer. The reasoning
// section gets its own bound, a share of the budget (`thinkShare`), after which the mask steers it to its
// closing word so that the rest of the budget is left for the answer. Lengths are bounded this way, by
// tokens, never by repetition counts in the grammar.
import type { ConstraintMatcher, DecodeConstraint } from '../model/constraint.js';
import type { TextTokenizer } from '../model/text-tokenizer.js';
import { ByteDfa, DEAD } from './byte-dfa.js';
import type { Grammar } from './gbnf.js';
import { TokenTrie } from './token-trie.js';

/** What the matcher needs of a tokenizer. */
export type TokenVocabulary = Pick<TextTokenizer, 'vocabSize' | 'stopIds' | 'specialTokens' | 'tokenBytes'>;

/** The reasoning section at the start of the grammar, bounded to a share of the budget. */
export interface ThinkBudget {
  /** What the grammar requires before the reasoning ('' or '<think>'). */
  open: string;
  /** The word that ends it (the reasoning text cannot contain it). */
  close: string;
  /** Most of the token budget the reasoning may take, in (0, 1]. */
  share: number;
}

/** The highest stored need (bytes to finish + 1); larger needs are stored as this and never bind. */
const NEED_CAP = 255;

/**
 * A state's allowed tokens: a 0/1 mask, and the budget each needs (1 + the fewest bytes that finish the
 * sentence after it). Most allowed tokens need the same budget (`mode`); the others are listed apart,
 * sorted by need, so a mask under a tight budget costs a copy and a few edits, not a pass over the vocabulary.
 */
interface StateMasks {
  mask: Uint8Array;
  mode: number;
  /** Allowed tokens whose need is not `mode`, by need (ascending), and their needs. */
  others: Int32Array;
  otherNeeds: Uint8Array;
  maxNeed: number;
  minNeed: number;
}

/** One grammar over one vocabulary: the automaton, the trie and the masks of the states reached so far. */
export class TokenGrammar {
  readonly dfa: ByteDfa;
  private readonly masks: (StateMasks | undefined)[] = [];
  private readonly stops: ReadonlySet<number>;
  private need: Uint8Array | undefined;
  /** Fewest bytes that complete a sentence right after the reasoning section closes (think budgets). */
  readonly afterThink: number;

  constructor(
    grammar: Grammar,
    readonly vocab: TokenVocabulary,
    readonly trie: TokenTrie,
    readonly think?: ThinkBudget,
  ) {
    this.dfa = new ByteDfa(grammar);
    this.stops = new Set(vocab.stopIds);
    this.afterThink = 0;
    if (think) {
      if (!(think.share > 0 && think.share <= 1))
        throw new RangeError(`thinkShare must be in (0, 1], got ${think.share}`);
      const s = this.dfa.walk(this.dfa.start, new TextEncoder().encode(think.open + think.close));
      if (s === DEAD)
        throw new RangeError(`the grammar does not start with '${think.open}...${think.close}'`);
      this.afterThink = this.dfa.distance(s);
    }
  }

  isStop(id: number): boolean {
    return this.stops.has(id);
  }

  /** The masks of `state`, computed on first use by one walk of the trie. */
  masksOf(state: number): StateMasks {
    let m = this.masks[state];
    if (m) return m;
    const V = this.vocab.vocabSize;
    const mask = new Uint8Array(V);
    const need = this.scratchNeed();
    need.fill(0);
    const counts = new Int32Array(NEED_CAP + 1);
    const { bytes, depths, ends, firstToken, nextToken } = this.trie;
    const dfa = this.dfa;
    const at = new Int32Array(this.trie.maxDepth + 1);
    at[0] = state;
    const n = bytes.length;
    for (let i = 0; i < n; ) {
      const d = depths[i] as number;
      const s = dfa.next(at[d - 1] as number, bytes[i] as number);
      if (s === DEAD) {
        i = ends[i] as number;
        continue;
      }
      at[d] = s;
      let t = firstToken[i] as number;
      if (t !== -1) {
        const k = Math.min(NEED_CAP, dfa.distance(s) + 1);
        for (; t !== -1; t = nextToken[t] as number) {
          mask[t] = 1;
          need[t] = k;
          counts[k] = (counts[k] as number) + 1;
        }
      }
      i++;
    }
    let mode = 0;
    let minNeed = 0;
    let maxNeed = 0;
    let others = 0;
    for (let k = 1; k <= NEED_CAP; k++) {
      const c = counts[k] as number;
      if (c === 0) continue;
      if (minNeed === 0) minNeed = k;
      maxNeed = k;
      if (c > (counts[mode] as number) || mode === 0) mode = k;
    }
    for (let k = 1; k <= NEED_CAP; k++) if (k !== mode) others += counts[k] as number;
    // Counting sort of the other tokens by need.
    const start = new Int32Array(NEED_CAP + 2);
    for (let k = 1; k <= NEED_CAP; k++)
      start[k + 1] = (start[k] as number) + (k === mode ? 0 : (counts[k] as number));
    const list = new Int32Array(others);
    const listNeeds = new Uint8Array(others);
    for (let t = 0; t < V; t++) {
      const k = need[t] as number;
      if (k === 0 || k === mode) continue;
      const at2 = start[k] as number;
      start[k] = at2 + 1;
      list[at2] = t;
      listNeeds[at2] = k;
    }
    m = { mask, mode, others: list, otherNeeds: listNeeds, maxNeed, minNeed };
    this.masks[state] = m;
    return m;
  }

  /** Scratch for masksOf: each token's need, reused across states. */
  private scratchNeed(): Uint8Array {
    this.need ??= new Uint8Array(this.vocab.vocabSize);
    return this.need;
  }

  /** States whose masks are computed (for benchmarks and tests). */
  get cachedStates(): number {
    return this.masks.filter(Boolean).length;
  }

  /** Bytes the cached masks hold (for benchmarks). */
  get cachedBytes(): number {
    let n = 0;
    for (const m of this.masks) if (m) n += m.mask.byteLength + m.others.byteLength + m.otherNeeds.byteLength;
    return n;
  }

  constraint(name: string): DecodeConstraint {
    return { name, start: () => new TokenGrammarMatcher(this) };
  }
}

/** Failure function of a word (Knuth-Morris-Pratt), to spot the reasoning's closing word in the bytes. */
function failure(word: Uint8Array): Int32Array {
  const f = new Int32Array(word.length);
  for (let i = 1, k = 0; i < word.length; i++) {
    while (k > 0 && word[i] !== word[k]) k = f[k - 1] as number;
    if (word[i] === word[k]) k++;
    f[i] = k;
  }
  return f;
}

export class TokenGrammarMatcher implements ConstraintMatcher {
  private state: number;
  private ended = false;
  /** Reasoning: still open, tokens spent in it, the budget it shares, and how much of `close` was just read. */
  private thinking: boolean;
  private thinkTokens = 0;
  private budget: number | undefined;
  private closeMatched = 0;
  private readonly close: Uint8Array;
  private readonly closeFailure: Int32Array;

  constructor(private readonly g: TokenGrammar) {
    this.state = g.dfa.start;
    this.thinking = g.think !== undefined;
    this.close = new TextEncoder().encode(g.think?.close ?? '');
    this.closeFailure = failure(this.close);
  }

  /** The automaton state the text so far has reached (for tests and benchmarks). */
  get automatonState(): number {
    return this.state;
  }

  allowedTokens(mask: Uint8Array, remaining?: number): void {
    const g = this.g;
    if (this.ended) {
      mask.fill(0);
      return;
    }
    const m = g.masksOf(this.state);
    let room = remaining ?? Number.POSITIVE_INFINITY;
    if (this.thinking && g.think && remaining !== undefined) {
      this.budget ??= remaining;
      const left = Math.floor(g.think.share * this.budget) - this.thinkTokens;
      room = Math.min(room, Math.max(0, left) + g.afterThink);
    }
    if (room >= m.maxNeed) {
      mask.set(m.mask);
    } else {
      // Near the end of the budget: only tokens after which the sentence can still be finished. If none
      // fits (a budget below the shortest answer), the ones that come closest.
      const limit = Math.max(room, m.minNeed);
      const { others, otherNeeds } = m;
      if (limit >= m.mode) {
        mask.set(m.mask);
        for (let j = others.length - 1; j >= 0 && (otherNeeds[j] as number) > limit; j--)
          mask[others[j] as number] = 0;
      } else {
        mask.fill(0, 0, m.mask.length);
        for (let j = 0; j < others.length && (otherNeeds[j] as number) <= limit; j++)
          mask[others[j] as number] = 1;
      }
    }
    if (mask.length > m.mask.length) mask.fill(0, m.mask.length);
    if (g.dfa.isComplete(this.state)) for (const id of g.vocab.stopIds) if (id < mask.length) mask[id] = 1;
  }

  accept(tokenId: number): boolean {
    const g = this.g;
    if (this.ended) return false;
    if (g.isStop(tokenId)) {
      if (!g.dfa.isComplete(this.state)) return false;
      this.ended = true;
      return true;
    }
    if (tokenId < 0 || tokenId >= g.vocab.vocabSize || g.vocab.specialTokens.has(tokenId)) return false;
    const bytes = g.vocab.tokenBytes(tokenId);
    const next = g.dfa.walk(this.state, bytes);
    if (next === DEAD || bytes.length === 0) return false;
    this.state = next;
    if (this.thinking) {
      this.thinkTokens++;
      const w = this.close;
      let k = this.closeMatched;
      for (const b of bytes) {
        while (k > 0 && b !== w[k]) k = this.closeFailure[k - 1] as number;
        if (b === w[k]) k++;
        if (k === w.length) {
          this.thinking = false;
          break;
        }
      }
      this.closeMatched = k;
    }
    return true;
  }

  isComplete(): boolean {
    return this.ended || this.g.dfa.isComplete(this.state);
  }
}

const tries = new WeakMap<TokenVocabulary, TokenTrie>();

/** The byte trie of a vocabulary, built once per vocabulary object. */
export function tokenTrie(vocab: TokenVocabulary): TokenTrie {
  let t = tries.get(vocab);
  if (!t) {
    t = TokenTrie.build(vocab);
    tries.set(vocab, t);
  }
  return t;
}
