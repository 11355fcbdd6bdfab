// What the sampler, the policies and `azr serve` need from a tokenizer, whichever model it belongs to: the
// built-in GPT's byte tokenizer (tokenizer.ts) or a real model's byte-level BPE (bpe-tokenizer.ts).

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatOptions {
  /** End with the header of an assistant turn, so that the model writes the reply (default true). */
  addGenerationPrompt?: boolean;
}

/**
 * Decodes a growing list of ids one id at a time. `push` returns the text the id completes: bytes of a
 * character split across tokens are held until the character is whole, so no piece ends in half a
 * UTF-8 character. The pieces joined, plus `flush()`, equal `decode` of the whole list.
 */
export interface TokenStreamDecoder {
  push(id: number): string;
  /** Text of a trailing unfinished character (U+FFFD), if any; the decoder is then empty. */
  flush(): string;
}

export interface TextTokenizer {
  /** Ids 0 .. vocabSize - 1 are this tokenizer's (a model may have more rows, never produced here). */
  readonly vocabSize: number;
  /** Ids that end a turn or the sequence: sampling stops after any of them. */
  readonly stopIds: readonly number[];
  /** Special (control) tokens by id: never produced from ordinary text by BPE, dropped by `skipSpecialTokens`. */
  readonly specialTokens: ReadonlyMap<number, string>;
  /** Token ids of `text`; special tokens written in the text become their ids. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; bytes that are not UTF-8 become U+FFFD. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  streamDecoder(): TokenStreamDecoder;
  /**
   * The bytes one id stands for (for grammar masks and the `bytes` of log-probabilities): an ordinary
   * token's bytes, a special token's UTF-8 text. The array is shared: do not modify it.
   */
  tokenBytes(id: number): Uint8Array;
  readonly hasChatTemplate: boolean;
  /** The conversation rendered by the model's chat template, as transformers' apply_chat_template renders it. */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatOptions): string;
}
