// The one interface the self-play loop talks to. The built-in transformer and OpenAI-compatible servers
// both sit behind it; the loop never imports a concrete policy.
import type { AnswerConstraint } from '../tasks/answer-format.js';

export interface SamplingParams {
  /** Completions per prompt. */
  n: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Generation ends at the first of these strings; the stop string is not part of the text. */
  stop?: string[];
}

export interface GenerateRequest extends SamplingParams {
  prompt: string;
  /**
   * The prompt as the model's token ids, from a client that tokenized it itself (`azr serve` takes them
   * as the OpenAI API allows): the policy uses them exactly as given, adding nothing (no BOS) and
   * tokenizing nothing, and `prompt` is not read. Only policies with `vocabSize` take them, and the
   * caller has checked every id against it.
   */
  promptTokenIds?: readonly number[];
  /**
   * The answer's decoding constraint, which a policy that can constrain decoding applies (the built-in
   * one, through src/grammar/). Others ignore it; the environment parses and scores the text either way.
   */
  constraint?: AnswerConstraint;
  /**
   * Seed for this request's sampling. The loop runs task types concurrently, so a policy-wide RNG would
   * make samples depend on timing; a per-request seed keeps a run reproducible. Optional for servers.
   */
  seed?: number;
  /**
   * Keep only the last k prompt tokens (vLLM's `truncate_prompt_tokens`, k >= 1): an explicit opt-in to
   * cutting a long prompt from the left. The built-in policy applies it to its own tokens; the OpenAI
   * policy passes it on to the server.
   */
  truncatePromptTokens?: number;
  /**
   * Also return, per sampled token, this many most likely tokens of its distribution (OpenAI's
   * `top_logprobs`). Policies that do not tokenize, or servers that do not offer it, leave it out.
   */
  topLogprobs?: number;
}

export type FinishReason = 'stop' | 'length';

export interface Completion {
  text: string;
  finishReason: FinishReason;
  /** Token ids of the completion, when the policy tokenizes (needed to train on it). */
  tokenIds?: number[];
  /** Log-probability of each sampled token under the sampling policy, when offered. */
  logprobs?: number[];
  /**
   * The vocabulary mask each token was sampled under, [tokenIds.length, vocab] (1 allowed), from policies
   * that sample under a mask and train on their own samples (the built-in one): the update scores tokens
   * under the distribution they were drawn from.
   */
  allowed?: Uint8Array;
  /** With `topLogprobs` k, from policies that tokenize: the k most likely token ids at each position. */
  topLogprobs?: { tokenId: number; logprob: number }[][];
}

/** One sequence to learn from: a prompt, what the policy wrote, and how good that was. */
export interface TrainingSample {
  prompt: string;
  completion: Completion;
  /** TRR++ advantage of the whole sequence, broadcast to its tokens. */
  advantage: number;
  /** The (task type x role) group, for per-group loss statistics. */
  group: string;
}

export interface UpdateStats {
  loss: number;
  gradNorm: number;
  tokens: number;
  learningRate: number;
  timeMs: number;
}

export interface Policy {
  /** Results in request order; each holds `n` completions. */
  generate(requests: readonly GenerateRequest[]): Promise<Completion[][]>;
  /**
   * Present on policies that take token-id prompts (GenerateRequest.promptTokenIds): how many token ids
   * the model has, so a prompt's ids must lie in [0, vocabSize).
   */
  readonly vocabSize?: number;
  /** Present only on trainable policies: one policy-gradient step over the samples. */
  update?(samples: readonly TrainingSample[]): Promise<UpdateStats>;
  /** Present only on policies with weights of their own: write a checkpoint into `dir`. */
  save?(dir: string): Promise<void>;
  close(): Promise<void>;
}
