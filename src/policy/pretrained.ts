// A real pretrained model (a GGUF file or a Hugging Face folder: SmolLM2, Qwen2.5-Coder, ...) in the
// built-in engine, behind the same Policy as the built-in GPT: its own BPE tokenizer and, to train, LoRA
// adapters on the frozen weights. A checkpoint of it holds the adapters' training state (model.safetensors,
// the engine's format) and the same adapters in PEFT's format (adapter_config.json +
// adapter_model.safetensors), which `peft` loads onto the Hugging Face base.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer } from '../model/bpe-tokenizer.js';
import type { LoraSettings } from '../model/config.js';
import type { DecodeConstraint } from '../model/constraint.js';
import { loadAdapterEngine, type OrtModelEngine } from '../model/engine.js';
import type { OptimizerSettings } from '../model/engine-types.js';
import { writePeftAdapter } from '../model/peft.js';
import type { PretrainedCheckpoint } from '../model/pretrained.js';
import { llamaConfigOf, pretrainedEngine, pretrainedWeights } from '../model/pretrained-engine.js';
import type { TextTokenizer } from '../model/text-tokenizer.js';
import type { AnswerConstraint } from '../tasks/answer-format.js';
import {
  type BuiltinPolicy,
  type BuiltinPolicyOptions,
  CHECKPOINT_FILE,
  enginePolicy,
  tokenizerCodec,
} from './builtin.js';

/**
 * A request's decoding constraint over this model's own vocabulary, made once its tokenizer is read
 * (src/grammar's pretrainedConstraints; passed in so that the policy layer does not depend on the
 * grammars). `chat`: the completion is an assistant turn of the chat template, not a continuation of the
 * prompt's text.
 */
export type VocabularyConstraints = (
  tokenizer: TextTokenizer,
  chat: boolean,
) => (c: AnswerConstraint) => DecodeConstraint | undefined;

export interface PretrainedPolicyOptions extends Omit<BuiltinPolicyOptions, 'constraints'> {
  /** Positions the engine runs at (default pretrained-engine.ts DEFAULT_REAL_CONTEXT, at most the model's). */
  contextLength?: number;
  /** Wrap each prompt in the model's chat template as a user turn (default false: plain text). */
  chat?: boolean;
  /** Decode requests that carry a constraint under it (without: every request samples free). */
  constraints?: VocabularyConstraints;
  /** Train these adapters (without: the policy samples only, and `update` refuses). */
  lora?: LoraSettings;
  seed: number;
  optimizer: OptimizerSettings;
}

async function wrap(
  checkpoint: PretrainedCheckpoint,
  engine: OrtModelEngine,
  opts: Omit<BuiltinPolicyOptions, 'constraints'> &
    Pick<PretrainedPolicyOptions, 'chat' | 'lora' | 'constraints'>,
): Promise<BuiltinPolicy> {
  const tokenizer = await BpeTokenizer.fromSource(checkpoint.tokenizer);
  if (tokenizer.vocabSize > engine.config.vocabSize)
    throw new Error(
      `${checkpoint.path}: the tokenizer has ${tokenizer.vocabSize} tokens, the model ${engine.config.vocabSize} rows`,
    );
  const chat = opts.chat ?? false;
  const codec = tokenizerCodec(tokenizer, { chat, source: checkpoint.path });
  const { constraints: over, ...rest } = opts;
  const constraints = over?.(tokenizer, chat);
  const lora = opts.lora;
  const saveAdapter = lora
    ? (dir: string) => {
        if (engine.config.arch === 'llama')
          writePeftAdapter(dir, engine.config, lora, engine.parameters, checkpoint.path);
      }
    : undefined;
  return enginePolicy(engine, constraints ? { ...rest, constraints } : rest, codec, saveAdapter);
}

/** A policy over a pretrained checkpoint's weights, with fresh adapters when `opts.lora` is given. */
export async function createPretrainedPolicy(
  checkpoint: PretrainedCheckpoint,
  opts: PretrainedPolicyOptions,
): Promise<BuiltinPolicy> {
  const engine = await pretrainedEngine(checkpoint, {
    threads: opts.threads,
    seed: opts.seed,
    optimizer: opts.optimizer,
    ...(opts.lora ? { lora: opts.lora } : {}),
    ...(opts.contextLength ? { contextLength: opts.contextLength } : {}),
  });
  return wrap(checkpoint, engine, opts);
}

/**
 * A policy resumed from a checkpoint directory that a LoRA run wrote (its adapters' training state) over
 * the pretrained checkpoint it was trained on.
 */
export async function resumePretrainedPolicy(
  checkpoint: PretrainedCheckpoint,
  dir: string,
  opts: Omit<PretrainedPolicyOptions, 'lora' | 'seed' | 'optimizer'> &
    Partial<Pick<PretrainedPolicyOptions, 'seed' | 'optimizer'>>,
): Promise<BuiltinPolicy> {
  const file = dir.endsWith('.safetensors') ? dir : join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new Error(`${dir} holds no ${CHECKPOINT_FILE}`);
  const config = llamaConfigOf(checkpoint.spec, opts.contextLength);
  const engine = await loadAdapterEngine(
    file,
    { config, weights: pretrainedWeights(checkpoint, config) },
    {
      threads: opts.threads,
      ...(opts.optimizer ? { optimizer: opts.optimizer } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    },
  );
  const lora = engine.lora;
  return wrap(checkpoint, engine, { ...opts, ...(lora ? { lora } : {}) });
}
