// Request bodies of the OpenAI-compatible API, validated at the boundary. As in OpenAI's API, a field may
// be null to mean its default, and an unknown field is refused ("Unrecognized request argument
// supplied"). Fields we do not implement are accepted at their neutral value and refused otherwise, so a
// client never gets silently different sampling than it asked for.
import { z } from 'zod';

/** `schema`, or null/absent for `fallback`. */
const orDefault = <T>(schema: z.ZodType<T>, fallback: T) =>
  schema.nullish().transform((v): T => (v == null ? fallback : v));

const stop = z
  .union([z.string(), z.array(z.string()).max(16)])
  .nullish()
  .transform((s) => (s == null ? [] : typeof s === 'string' ? [s] : s).filter((x) => x.length > 0));

/** Sampling fields shared by both endpoints. */
const sampling = {
  model: z.string().min(1),
  n: orDefault(z.number().int().min(1).max(64), 1),
  temperature: orDefault(z.number().min(0).max(2), 1),
  top_p: orDefault(z.number().gt(0).max(1), 1),
  stop,
  seed: z.number().int().nullish(),
  stream: orDefault(z.boolean(), false),
  user: z.string().nullish(),
  // Accepted at their neutral values only.
  presence_penalty: z.literal(0).nullish(),
  frequency_penalty: z.literal(0).nullish(),
  logit_bias: z
    .record(z.string(), z.number())
    .nullish()
    .refine((v) => v == null || Object.keys(v).length === 0, 'not supported; send {} or leave it out'),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  /**
   * vLLM's extra parameter: keep only the last k prompt tokens (left truncation, opt-in). Without it, a
   * prompt that does not fit the context next to max_tokens is refused.
   */
  truncate_prompt_tokens: z
    .number()
    .int('must be a whole number >= 1 (how many prompt tokens to keep, from the end)')
    .min(1, 'must be a whole number >= 1 (how many prompt tokens to keep, from the end)')
    .nullish(),
};

/**
 * A prompt as the model's token ids. Any JSON numbers pass here: the server checks each against the
 * served model's vocabulary, which this schema does not know, and names a bad one.
 */
const tokenIds = z.array(z.number()).min(1);

export const CompletionRequest = z
  .object({
    ...sampling,
    /** Text, a list of texts, token ids, or a list of token-id lists (OpenAI's four forms). */
    prompt: z.union(
      [z.string(), z.array(z.string()).min(1).max(64), tokenIds, z.array(tokenIds).min(1).max(64)],
      { error: 'must be a string, a list of strings, a list of token ids, or a list of such lists' },
    ),
    /** Absent: 16 (OpenAI's and vLLM's default), or less when the prompt leaves less room in the context. */
    max_tokens: z.number().int().min(1).nullish(),
    /** The legacy API: how many top alternatives per token; we return the sampled token's log-prob only. */
    logprobs: z.number().int().min(0).max(5).nullish(),
    echo: z.literal(false).nullish(),
    best_of: z.number().int().min(1).nullish(),
    suffix: z.literal('').nullish(),
  })
  .strict();

export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([
    z.string(),
    // The content-parts form; only text parts carry anything we can use.
    z
      .array(z.object({ type: z.literal('text'), text: z.string() }))
      .transform((parts) => parts.map((p) => p.text).join('')),
  ]),
  name: z.string().optional(),
});

export const ChatRequest = z
  .object({
    ...sampling,
    messages: z.array(ChatMessageSchema).min(1),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    response_format: z.object({ type: z.literal('text') }).nullish(),
  })
  .strict();

export type ChatMessageBody = z.infer<typeof ChatMessageSchema>;
export type CompletionPrompt = z.infer<typeof CompletionRequest>['prompt'];

/** The first problem of a failed parse as one line, with the field it is about. */
export function describeIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const where = issue.path.length ? `${issue.path.join('.')}.` : '';
    const keys = issue.keys.map((k) => `${where}${k}`);
    return { message: `Unrecognized request argument supplied: ${keys.join(', ')}`, param: keys[0] ?? null };
  }
  const param = issue?.path.length ? issue.path.join('.') : null;
  return { message: `${param ? `${param}: ` : ''}${issue?.message ?? 'invalid request'}`, param };
}
