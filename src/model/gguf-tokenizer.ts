// A GGUF file's tokenizer, as the tokenizer.json object @huggingface/tokenizers reads: the metadata holds
// the vocabulary (`tokenizer.ggml.tokens`, byte-level strings), the merges in rank order, each token's type,
// the special ids, and in `tokenizer.ggml.pre` the name of the pre-tokenizer the model was trained with.
//
// The pre-tokenizer is what the name means to llama.cpp, written the way the model family's own
// tokenizer.json writes it (transformers' GGUF loader builds Qwen2's the same way, but gives every
// llama-architecture file GPT-2's split whatever `pre` says, so for SmolLM2 it splits ` 1` where the model
// saw ` ` then `1`):
//   gpt2       GPT-2's split;
//   smollm     every number character alone, then GPT-2's split (SmolLM2, StarCoder);
//   qwen2      NFC, then Qwen2's split (one digit per token, case-insensitive contractions);
//   llama-bpe  Llama 3's split (numbers in runs of up to three), and a word that is a token is not merged.
//
// Token types (llama.cpp's): CONTROL tokens are special tokens, USER_DEFINED ones are added tokens matched
// in text but kept by skip-special decoding (Qwen's `<tool_call>`), as in the model's tokenizer.json.
import type { BpeTokenizerSpec, TokenizerJson } from './bpe-tokenizer.js';
import { type GgufFile, metaString, metaStrings } from './gguf.js';

const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: useRegex,
});
const split = (regex: string) => ({
  type: 'Split',
  pattern: { Regex: regex },
  behavior: 'Isolated',
  invert: false,
});
const sequence = (...pretokenizers: object[]) => ({ type: 'Sequence', pretokenizers });

interface PreTokenization {
  normalizer: object | null;
  preTokenizer: object;
  ignoreMerges: boolean;
}

const PRE_TOKENIZATIONS: Readonly<Record<string, PreTokenization>> = {
  gpt2: { normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false },
  smollm: {
    normalizer: null,
    preTokenizer: sequence({ type: 'Digits', individual_digits: true }, byteLevel(true)),
    ignoreMerges: false,
  },
  qwen2: {
    normalizer: { type: 'NFC' },
    preTokenizer: sequence(split(QWEN2_SPLIT), byteLevel(false)),
    ignoreMerges: false,
  },
  'llama-bpe': {
    normalizer: null,
    preTokenizer: sequence(split(LLAMA3_SPLIT), byteLevel(false)),
    ignoreMerges: true,
  },
};

/** llama.cpp's token types (`tokenizer.ggml.token_type`). */
const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, USER_DEFINED: 4 } as const;

function optionalId(file: GgufFile, key: string, vocabSize: number): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize)
    throw new Error(`${file.path}: metadata ${key} = ${String(v)} is not a token id below ${vocabSize}`);
  return v;
}

function optionalBool(file: GgufFile, key: string): boolean {
  const v = file.metadata.get(key);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new Error(`${file.path}: metadata ${key} is not a boolean`);
  return v;
}

export function ggufTokenizerSpec(file: GgufFile): BpeTokenizerSpec {
  const model = metaString(file, 'tokenizer.ggml.model');
  if (model !== 'gpt2')
    throw new Error(
      `${file.path}: tokenizer.ggml.model '${model}' is not supported; byte-level BPE ('gpt2') is`,
    );
  const preName = file.metadata.get('tokenizer.ggml.pre');
  const pre = typeof preName === 'string' ? PRE_TOKENIZATIONS[preName] : undefined;
  if (!pre)
    throw new Error(
      `${file.path}: tokenizer.ggml.pre ${preName === undefined ? 'is missing' : `'${String(preName)}' is not supported`}` +
        `; supported: ${Object.keys(PRE_TOKENIZATIONS).join(', ')}`,
    );
  const tokens = metaStrings(file, 'tokenizer.ggml.tokens');
  const merges = metaStrings(file, 'tokenizer.ggml.merges').map((m) => {
    const pair = m.split(' ');
    if (pair.length !== 2) throw new Error(`${file.path}: merge ${JSON.stringify(m)} is not two tokens`);
    return pair as [string, string];
  });
  const types = file.metadata.get('tokenizer.ggml.token_type');
  if (types !== undefined && (!Array.isArray(types) || types.length !== tokens.length))
    throw new Error(`${file.path}: tokenizer.ggml.token_type does not give one type per token`);
  const id = (key: string) => optionalId(file, `tokenizer.ggml.${key}`, tokens.length);
  const bos = id('bos_token_id');
  const eos = id('eos_token_id');
  const pad = id('padding_token_id');
  const unk = id('unknown_token_id');
  const stops = [id('eot_token_id'), id('eom_token_id')].filter((x) => x !== undefined);

  // A null prototype, so that a token spelled `__proto__` is an ordinary key.
  const vocab: Record<string, number> = Object.create(null);
  const added: TokenizerJson['added_tokens'] = [];
  tokens.forEach((t, i) => {
    vocab[t] = i;
    const type = types?.[i] ?? TOKEN_TYPE.NORMAL;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED)
      added.push({
        id: i,
        content: t,
        special: type === TOKEN_TYPE.CONTROL,
        normalized: false,
        lstrip: false,
        rstrip: false,
        single_word: false,
      });
  });
  // GGUF's add_bos_token / add_eos_token: what encode({ addSpecialTokens: true }) puts around the text.
  const edge = (add: string, at: number | undefined) =>
    optionalBool(file, `tokenizer.ggml.${add}`) && at !== undefined
      ? [{ SpecialToken: { id: tokens[at] as string, type_id: 0 } }]
      : [];
  const single = [
    ...edge('add_bos_token', bos),
    { Sequence: { id: 'A', type_id: 0 } },
    ...edge('add_eos_token', eos),
  ];
  const json: TokenizerJson = {
    version: '1.0',
    added_tokens: added,
    normalizer: pre.normalizer,
    pre_tokenizer: pre.preTokenizer,
    post_processor: single.length > 1 ? { type: 'TemplateProcessing', single } : null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      vocab,
      merges,
      unk_token: unk === undefined ? null : tokens[unk],
      ignore_merges: pre.ignoreMerges,
      byte_fallback: false,
      fuse_unk: false,
    },
  };
  const text = (i: number | undefined) => (i === undefined ? undefined : tokens[i]);
  const chatTemplate = file.metadata.get('tokenizer.chat_template');
  return {
    source: file.path,
    json,
    tokens,
    bosToken: text(bos),
    eosToken: text(eos),
    padToken: text(pad),
    unkToken: text(unk),
    stopIds: stops,
    chatTemplate: typeof chatTemplate === 'string' ? chatTemplate : undefined,
  };
}
