// The Tinker API's JSON, as this client sends and reads it. Requests are plain typed objects in the
// API's snake_case; every answer is validated here with zod before the client believes it.
//
// Checked against SkyRL 0.4.0's server and the tinker SDK 0.25.0 types. Routes live under /api/v1.
// Long calls answer `{request_id}` at once; the result is fetched with `retrieve_future`, whose answer
// is the call's result (JSON, or protobuf for sample/forward_backward: see proto.ts), a `try_again`,
// an error object `{error, category}` (hosted service), or an HTTP error (SkyRL: 400 with `detail` for a
// failed request, 408 when the long poll timed out, 404 for an unknown id).
import { z } from 'zod';
import type { TensorDtype } from './proto.js';

// ---- request pieces ----

/** A model input: one chunk of token ids (images and audio chunks exist in the API; not used here). */
export interface ModelInput {
  chunks: { type: 'encoded_text'; tokens: number[] }[];
}

export interface TensorData {
  data: number[];
  dtype: TensorDtype;
  shape?: number[];
}

/**
 * One training sequence. Position i of `model_input` predicts `target_tokens[i]` (the next token), and
 * every loss_fn_inputs tensor is aligned with those positions.
 */
export interface Datum {
  model_input: ModelInput;
  loss_fn_inputs: {
    target_tokens: TensorData;
    /** Sampler log-probabilities of the targets (importance_sampling, ppo, cispo). */
    logprobs?: TensorData;
    advantages?: TensorData;
    /** Per-position weight (cross_entropy; SkyRL also uses it as the loss mask of every loss). */
    weights?: TensorData;
  };
}

export type LossFn = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo';

export interface AdamParams {
  learning_rate: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weight_decay?: number;
  /** Hosted service only; SkyRL 0.4 ignores it. 0 means no clipping. */
  grad_clip_norm?: number;
}

export interface LoraConfig {
  rank: number;
  seed?: number;
  train_mlp?: boolean;
  train_attn?: boolean;
  train_unembed?: boolean;
}

export interface SamplingParams {
  /** Required by SkyRL. */
  max_tokens: number;
  temperature?: number;
  top_p?: number;
  /** -1 for no top-k. */
  top_k?: number;
  /** All strings or all token ids. */
  stop?: string[] | number[];
  seed?: number;
}

// ---- answers ----

export const CreateSessionResponse = z.object({ session_id: z.string().min(1) });

/** Every long call answers with the id of its future (SkyRL also names it `future_id`). */
export const FutureResponse = z.object({ request_id: z.union([z.string(), z.number()]).transform(String) });

export const CreateModelResponse = FutureResponse.extend({ model_id: z.string().min(1) });

export const CreateModelResult = z.object({ model_id: z.string().min(1) });

export const OptimStepResult = z.object({ metrics: z.record(z.string(), z.number().nullable()).default({}) });

export const SaveWeightsResult = z.object({ path: z.string().min(1) });

export const SaveWeightsForSamplerResult = z.object({
  path: z.string().nullish(),
  sampling_session_id: z.string().nullish(),
});

export const LoadWeightsResult = z.object({ path: z.string().nullish() }).passthrough();

export const UnloadModelResult = z.object({ model_id: z.string().nullish() }).passthrough();

export const TryAgain = z.object({ type: z.literal('try_again') }).passthrough();

export const RequestFailed = z.object({ error: z.string(), category: z.string().optional() });

/** JSON form of a sample result (servers before protobuf results). */
export const SampleResultJson = z.object({
  sequences: z.array(
    z.object({
      tokens: z.array(z.number().int()),
      logprobs: z.array(z.number()).nullish(),
      stop_reason: z.enum(['stop', 'length']),
    }),
  ),
  prompt_logprobs: z.array(z.number().nullable()).nullish(),
});

const TensorJson = z.object({
  data: z.array(z.number()),
  dtype: z.enum(['int64', 'float32', 'int32']),
  shape: z.array(z.number().int()).nullish(),
});

/** JSON form of a forward_backward result (servers before protobuf results). */
export const ForwardBackwardResultJson = z.object({
  loss_fn_output_type: z.string().default(''),
  loss_fn_outputs: z.array(z.record(z.string(), TensorJson)),
  metrics: z.record(z.string(), z.number().nullable()).default({}),
});

export const ServerCapabilities = z.object({
  supported_models: z.array(z.object({ model_name: z.string() })),
});

/** FastAPI's error body: `detail` is a string or a list of validation errors. */
export const ErrorDetail = z.object({ detail: z.unknown() });
