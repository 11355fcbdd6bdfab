// A vocabulary's token byte strings as a trie, stored in depth-first order: node i has a byte, a depth and
// the index just past its subtree, so a walk that reaches a node the grammar refuses skips everything
// below it in one step. Token ids hang off the node their bytes end at (several ids may share bytes).
// Built once per vocabulary; special tokens are left out (they are not text the grammar reads).

export interface VocabularyBytes {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<number, string>;
  tokenBytes(id: number): Uint8Array;
}

export class TokenTrie {
  private constructor(
    /** The byte that leads into node i. */
    readonly bytes: Uint8Array,
    /** Depth of node i (1 for a token's first byte). */
    readonly depths: Uint16Array,
    /** Index just past node i's subtree. */
    readonly ends: Int32Array,
    /** First token id ending at node i, -1 for none; further ids through nextToken. */
    readonly firstToken: Int32Array,
    readonly nextToken: Int32Array,
    readonly maxDepth: number,
  ) {}

  get nodes(): number {
    return this.bytes.length;
  }

  static build(vocab: VocabularyBytes): TokenTrie {
    const ids: number[] = [];
    // Bytes as one-byte characters: string order is then byte order, and comparing strings is fast.
    const keys: string[] = new Array(vocab.vocabSize);
    let total = 0;
    for (let id = 0; id < vocab.vocabSize; id++) {
      const b = vocab.tokenBytes(id);
      if (vocab.specialTokens.has(id) || b.length === 0) continue;
      ids.push(id);
      keys[id] = Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
      total += b.length;
    }
    ids.sort((x, y) => {
      const a = keys[x] as string;
      const b = keys[y] as string;
      return a < b ? -1 : a > b ? 1 : x - y;
    });
    // In sorted order, a token shares with the previous one exactly the nodes of their common prefix.
    const bytes = new Uint8Array(total);
    const depths = new Uint16Array(total);
    const firstToken = new Int32Array(total).fill(-1);
    const lastToken = new Int32Array(total).fill(-1);
    const nextToken = new Int32Array(vocab.vocabSize).fill(-1);
    const path: number[] = [];
    let prev = '';
    let n = 0;
    let maxDepth = 0;
    for (const id of ids) {
      const key = keys[id] as string;
      let common = 0;
      while (
        common < key.length &&
        common < prev.length &&
        key.charCodeAt(common) === prev.charCodeAt(common)
      )
        common++;
      for (let d = common; d < key.length; d++) {
        path[d] = n;
        bytes[n] = key.charCodeAt(d);
        depths[n] = d + 1;
        n++;
      }
      const node = path[key.length - 1] as number;
      if (firstToken[node] === -1) firstToken[node] = id;
      else nextToken[lastToken[node] as number] = id;
      lastToken[node] = id;
      if (key.length > maxDepth) maxDepth = key.length;
      prev = key;
    }
    // A subtree ends at the next node that is no deeper than its root.
    const ends = new Int32Array(n);
    const open: number[] = [];
    for (let i = 0; i < n; i++) {
      while (open.length > 0 && (depths[open[open.length - 1] as number] as number) >= (depths[i] as number))
        ends[open.pop() as number] = i;
      open.push(i);
    }
    for (const i of open) ends[i] = n;
    return new TokenTrie(
      bytes.slice(0, n),
      depths.slice(0, n),
      ends,
      firstToken.slice(0, n),
      nextToken,
      maxDepth,
    );
  }
}
