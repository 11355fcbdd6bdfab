// A real model's own tokenizer, loaded from its folder: `tokenizer.json` (the Hugging Face tokenizers
// format) and `tokenizer_config.json` (special tokens and the chat template). Shared by the built-in engine
// and the Tinker backend (the Tinker API has no tokenize endpoint, so prompts are encoded here and sampled
// ids decoded here; training always uses the sampler's token ids, never a re-encoding of the decoded text).
//
// Libraries: @huggingface/tokenizers (pure TypeScript, no dependencies, no install script) and
// @huggingface/jinja for chat templates. Nothing is fetched at run time: the files are read from disk.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';

export interface ChatMessage {
  role: string;
  content: string;
}

const SpecialToken = z
  .union([z.string(), z.object({ content: z.string() }).passthrough(), z.null()])
  .optional();

const TokenizerConfig = z
  .object({
    chat_template: z
      .union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))])
      .nullish(),
    eos_token: SpecialToken,
    bos_token: SpecialToken,
    pad_token: SpecialToken,
  })
  .passthrough();

function tokenText(t: z.infer<typeof SpecialToken>): string | undefined {
  if (t == null) return undefined;
  return typeof t === 'string' ? t : t.content;
}

export class BpeTokenizer {
  private readonly template: Template | undefined;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: z.infer<typeof TokenizerConfig>,
    /** A chat template from `chat_template.jinja` or the config, if any. */
    templateText: string | undefined,
  ) {
    this.template = templateText ? new Template(templateText) : undefined;
  }

  /** Read `tokenizer.json`, `tokenizer_config.json` and, if present, `chat_template.jinja` from `dir`. */
  static async load(dir: string): Promise<BpeTokenizer> {
    const read = async (name: string) => {
      try {
        return await readFile(join(dir, name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    };
    const tokenizerJson = await read('tokenizer.json');
    if (!tokenizerJson) throw new Error(`no tokenizer.json in ${dir}`);
    const configText = (await read('tokenizer_config.json')) ?? '{}';
    const parsed = TokenizerConfig.safeParse(JSON.parse(configText));
    if (!parsed.success) throw new Error(`${join(dir, 'tokenizer_config.json')}: ${parsed.error.message}`);
    const config = parsed.data;
    let templateText = await read('chat_template.jinja');
    if (!templateText) {
      const t = config.chat_template;
      templateText = typeof t === 'string' ? t : t?.find((x) => x.name === 'default')?.template;
    }
    return new BpeTokenizer(new Tokenizer(JSON.parse(tokenizerJson), config), config, templateText);
  }

  /** Token ids of `text`. Special tokens written in the text (e.g. `<|im_start|>`) become their ids. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  get eosToken(): string | undefined {
    return tokenText(this.config.eos_token);
  }

  get eosTokenId(): number | undefined {
    const eos = this.eosToken;
    return eos === undefined ? undefined : this.tokenId(eos);
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /** The chat template rendered as text (as transformers' apply_chat_template with tokenize=False). */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: { addGenerationPrompt?: boolean } = {},
  ): string {
    if (!this.template) throw new Error('this tokenizer has no chat template');
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: tokenText(this.config.bos_token) ?? '',
      eos_token: this.eosToken ?? '',
      pad_token: tokenText(this.config.pad_token) ?? '',
    });
  }
}
