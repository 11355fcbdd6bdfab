// A real model's own tokenizer: byte-level BPE (the GPT-2, Llama 3, Qwen and SmolLM families) and its chat
// template, from a Hugging Face folder (`tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`,
// `generation_config.json`) or from a GGUF file's metadata (gguf-tokenizer.ts turns it into the same
// tokenizer.json object). Shared by the built-in engine and the Tinker backend (the Tinker API has no
// tokenize endpoint, so prompts are encoded here and sampled ids decoded here; training always uses the
// sampler's token ids, never a re-encoding of the decoded text).
//
// Encoding is @huggingface/tokenizers' (pure TypeScript, no dependencies, no install script), templates are
// rendered by @huggingface/jinja. Decoding is done here from each token's bytes, which grammar masks and
// log-probabilities need anyway: exact (no clean-up of spaces), incremental without splitting a character,
// and the same as the Rust library's decode. Nothing is fetched at run time: the files are read from disk.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { writeByteLevelBytes } from './byte-level.js';
import { faithfulPreTokenizer } from './faithful-pre-tokenizer.js';
import { type GgufFile, readGguf } from './gguf.js';
import { ggufTokenizerSpec } from './gguf-tokenizer.js';
import type { TokenizerSource } from './pretrained.js';
import type { ChatMessage, ChatOptions, TextTokenizer, TokenStreamDecoder } from './text-tokenizer.js';

export type { ChatMessage } from './text-tokenizer.js';

const AddedTokenSchema = z
  .object({
    id: z.number().int().nonnegative(),
    content: z.string(),
    special: z.boolean().optional(),
  })
  .passthrough();

/** The parts of a tokenizer.json that are read here; the library reads the rest. */
const TokenizerJsonSchema = z
  .object({
    added_tokens: z.array(AddedTokenSchema).default([]),
    model: z
      .object({
        type: z.literal('BPE'),
        // Checked entry by entry where it is read: a record schema would copy 150,000 entries.
        vocab: z.custom<Record<string, number>>(
          (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
          'expected an object of token ids',
        ),
      })
      .passthrough(),
    decoder: z.unknown(),
  })
  .passthrough();

/** A tokenizer.json object: the Hugging Face tokenizers format. */
export type TokenizerJson = z.infer<typeof TokenizerJsonSchema>;

/** Everything a BpeTokenizer is built from, whichever file it came from. */
export interface BpeTokenizerSpec {
  /** Where it came from, for messages. */
  source: string;
  json: TokenizerJson;
  /** Each id's token as the vocabulary spells it (byte-level for ordinary tokens), added tokens included. */
  tokens: readonly string[];
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  /** Ids that end a turn besides EOS and the special tokens named in END_OF_TURN_TOKENS. */
  stopIds?: readonly number[];
  chatTemplate?: string;
}

/**
 * Special tokens that end a turn or a document in the families read here (ChatML's `<|im_end|>`, GPT-2's
 * and Qwen's `<|endoftext|>`, Llama 3's `<|eot_id|>` and `<|end_of_text|>`): a model that writes one has
 * finished, whatever its configured EOS is (llama.cpp ends generation at these too).
 */
const END_OF_TURN_TOKENS = [
  '<|im_end|>',
  '<|endoftext|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|end_of_text|>',
  '<|end|>',
];

const SpecialTokenSchema = z
  .union([z.string(), z.object({ content: z.string() }).passthrough(), z.null()])
  .optional();

const TokenizerConfigSchema = z
  .object({
    chat_template: z
      .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))])
      .nullish(),
    eos_token: SpecialTokenSchema,
    bos_token: SpecialTokenSchema,
    pad_token: SpecialTokenSchema,
    unk_token: SpecialTokenSchema,
  })
  .passthrough();

const GenerationConfigSchema = z
  .object({ eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish() })
  .passthrough();

function specialText(t: z.infer<typeof SpecialTokenSchema>): string | undefined {
  if (t == null) return undefined;
  return typeof t === 'string' ? t : t.content;
}

const utf8 = new TextEncoder();

export class BpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly stopIds: readonly number[];
  readonly specialTokens: ReadonlyMap<number, string>;
  readonly eosToken: string | undefined;
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | undefined;
  /** Every id's bytes, end to end; id i's are bytes[starts[i] .. starts[i + 1]). */
  private readonly bytes: Uint8Array;
  private readonly starts: Uint32Array;

  private constructor(private readonly spec: BpeTokenizerSpec) {
    const { json } = spec;
    if (!isByteLevel(json.decoder))
      throw new Error(
        `${spec.source}: only byte-level BPE tokenizers are supported (this decoder is not ByteLevel)`,
      );
    const added = new Uint8Array(spec.tokens.length);
    const special = new Map<number, string>();
    for (const t of json.added_tokens) {
      added[t.id] = 1;
      if (t.special) special.set(t.id, t.content);
    }
    this.vocabSize = spec.tokens.length;
    this.specialTokens = special;
    // Ordinary tokens are byte-level strings (one byte per character); an added token stands for its UTF-8
    // text (at most 3 bytes per UTF-16 unit). One buffer for all: 150,000 small arrays would keep the
    // garbage collector busy for longer than the rest of the construction.
    let room = 0;
    for (const t of spec.tokens) room += 3 * (t ?? '').length;
    const bytes = new Uint8Array(room);
    this.starts = new Uint32Array(this.vocabSize + 1);
    let at = 0;
    for (let id = 0; id < this.vocabSize; id++) {
      const t = spec.tokens[id] ?? '';
      let n = added[id] ? -1 : writeByteLevelBytes(t, bytes, at);
      if (n < 0) n = utf8.encodeInto(t, bytes.subarray(at)).written;
      at += n;
      this.starts[id + 1] = at;
    }
    this.bytes = bytes.slice(0, at);
    this.tokenizer = new Tokenizer(
      { ...json, pre_tokenizer: faithfulPreTokenizer(json.pre_tokenizer) },
      { clean_up_tokenization_spaces: false },
    );
    this.eosToken = spec.eosToken;
    const stops = new Set(spec.stopIds ?? []);
    for (const t of [spec.eosToken, ...END_OF_TURN_TOKENS]) {
      const id = t === undefined ? undefined : this.tokenizer.token_to_id(t);
      if (id !== undefined && (t === spec.eosToken || special.has(id))) stops.add(id);
    }
    this.stopIds = [...stops].sort((a, b) => a - b);
    this.template = spec.chatTemplate ? new Template(spec.chatTemplate) : undefined;
  }

  /** A GGUF file's tokenizer, or a Hugging Face folder's. */
  static async open(path: string): Promise<BpeTokenizer> {
    return (await stat(path)).isDirectory() ? BpeTokenizer.load(path) : BpeTokenizer.fromGguf(readGguf(path));
  }

  /** The tokenizer of an opened pretrained checkpoint (its GGUF already read, or its folder). */
  static async fromSource(source: TokenizerSource): Promise<BpeTokenizer> {
    return source.kind === 'gguf' ? BpeTokenizer.fromGguf(source.file) : BpeTokenizer.load(source.dir);
  }

  /** The tokenizer a GGUF file's metadata describes (see gguf-tokenizer.ts). */
  static fromGguf(file: GgufFile): BpeTokenizer {
    return new BpeTokenizer(ggufTokenizerSpec(file));
  }

  /**
   * Read a Hugging Face folder: `tokenizer.json`, and if present `tokenizer_config.json` (special tokens,
   * chat template), `chat_template.jinja` (which wins over the config's) and `generation_config.json`
   * (more ids that end a turn).
   */
  static async load(dir: string): Promise<BpeTokenizer> {
    const read = async (name: string) => {
      try {
        return await readFile(join(dir, name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    };
    const parse = <T>(name: string, text: string, schema: z.ZodType<T>): T => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new Error(`${join(dir, name)}: ${(e as Error).message}`);
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new Error(`${join(dir, name)}: ${parsed.error.message}`);
      return parsed.data;
    };
    const tokenizerText = await read('tokenizer.json');
    if (!tokenizerText) throw new Error(`no tokenizer.json in ${dir}`);
    const json = parse('tokenizer.json', tokenizerText, TokenizerJsonSchema);
    const config = parse(
      'tokenizer_config.json',
      (await read('tokenizer_config.json')) ?? '{}',
      TokenizerConfigSchema,
    );
    const generation = parse(
      'generation_config.json',
      (await read('generation_config.json')) ?? '{}',
      GenerationConfigSchema,
    );
    let chatTemplate = await read('chat_template.jinja');
    if (!chatTemplate) {
      const t = config.chat_template;
      chatTemplate = typeof t === 'string' ? t : t?.find((x) => x.name === 'default')?.template;
    }
    const tokens: string[] = [];
    for (const [token, id] of Object.entries(json.model.vocab)) {
      if (!Number.isInteger(id) || id < 0)
        throw new Error(`${join(dir, 'tokenizer.json')}: token ${JSON.stringify(token)} has id ${id}`);
      tokens[id] = token;
    }
    for (const t of json.added_tokens) tokens[t.id] = t.content;
    const eos = generation.eos_token_id;
    return new BpeTokenizer({
      source: dir,
      json,
      tokens,
      bosToken: specialText(config.bos_token),
      eosToken: specialText(config.eos_token),
      padToken: specialText(config.pad_token),
      unkToken: specialText(config.unk_token),
      stopIds: eos == null ? [] : Array.isArray(eos) ? eos : [eos],
      chatTemplate,
    });
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  /**
   * The pieces BPE merges within, byte-level spelled: `text` normalized and pre-tokenized as a whole (added
   * tokens are not split out first, as encode does). For tests and for looking at a tokenization.
   */
  preTokenize(text: string): string[] {
    const { normalizer, pre_tokenizer } = this.tokenizer;
    const normalized = normalizer ? normalizer.normalize(text) : text;
    return pre_tokenizer ? pre_tokenizer.pre_tokenize(normalized) : [normalized];
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    let n = 0;
    for (const id of ids) if (!(skip && this.specialTokens.has(id))) n += this.tokenBytes(id).length;
    const out = new Uint8Array(n);
    n = 0;
    for (const id of ids) {
      if (skip && this.specialTokens.has(id)) continue;
      const b = this.tokenBytes(id);
      out.set(b, n);
      n += b.length;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(out);
  }

  streamDecoder(): TokenStreamDecoder {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    let pending = false;
    const flush = () => {
      if (!pending) return '';
      pending = false;
      return decoder.decode();
    };
    return {
      push: (id) => {
        pending = true;
        return decoder.decode(this.tokenBytes(id), { stream: true });
      },
      flush,
    };
  }

  /** An id's bytes; an id past the vocabulary (a padding row of the model) stands for none. */
  tokenBytes(id: number): Uint8Array {
    if (!(id >= 0 && id < this.vocabSize)) return this.bytes.subarray(0, 0);
    return this.bytes.subarray(this.starts[id] as number, this.starts[id + 1] as number);
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  get eosTokenId(): number | undefined {
    return this.eosToken === undefined ? undefined : this.tokenId(this.eosToken);
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatOptions = {}): string {
    if (!this.template) throw new Error(`${this.spec.source}: the tokenizer has no chat template`);
    const { bosToken, eosToken, padToken, unkToken } = this.spec;
    // transformers passes the special tokens the tokenizer has; one it lacks is undefined in the template.
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
      ...(bosToken === undefined ? {} : { bos_token: bosToken }),
      ...(eosToken === undefined ? {} : { eos_token: eosToken }),
      ...(padToken === undefined ? {} : { pad_token: padToken }),
      ...(unkToken === undefined ? {} : { unk_token: unkToken }),
    });
  }
}

/** A ByteLevel decoder, alone or in a Sequence (as transformers writes Llama 3's). */
function isByteLevel(decoder: unknown): boolean {
  if (typeof decoder !== 'object' || decoder === null) return false;
  const d = decoder as { type?: unknown; decoders?: unknown };
  if (d.type === 'ByteLevel') return true;
  return d.type === 'Sequence' && Array.isArray(d.decoders) && d.decoders.some(isByteLevel);
}
