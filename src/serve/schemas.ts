// Request bodies of the OpenAI-compatible API, validated at the boundary. Fields we do not implement are
// ignored when they are at their neutral value and refused otherwise, so a client never gets silently
// different sampling than it asked for.
import { z } from 'zod';

const stop = z
  .union([z.string(), z.array(z.string()).max(16)])
  .nullish()
  .transform((s) => (s == null ? [] : typeof s === 'string' ? [s] : s).filter((x) => x.length > 0));

/** Sampling fields shared by both endpoints. */
const sampling = {
  model: z.string().min(1),
  n: z.number().int().min(1).max(64).default(1),
  temperature: z.number().min(0).max(2).default(1),
  top_p: z.number().gt(0).max(1).default(1),
  stop,
  seed: z.number().int().nullish(),
  stream: z.boolean().default(false),
  user: z.string().optional(),
  // Accepted at their neutral values only.
  presence_penalty: z.literal(0).optional(),
  frequency_penalty: z.literal(0).optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
};

export const CompletionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
  max_tokens: z.number().int().min(1).default(16),
  /** The legacy API: how many top alternatives per token; we return the sampled token's log-prob only. */
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: z.literal(false).optional(),
  best_of: z.number().int().min(1).optional(),
});

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

export const ChatRequest = z.object({
  ...sampling,
  messages: z.array(ChatMessageSchema).min(1),
  max_tokens: z.number().int().min(1).optional(),
  max_completion_tokens: z.number().int().min(1).optional(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

export type CompletionRequestBody = z.infer<typeof CompletionRequest>;
export type ChatRequestBody = z.infer<typeof ChatRequest>;
export type ChatMessageBody = z.infer<typeof ChatMessageSchema>;

/** The first problem of a failed parse as one line, with the field it is about. */
export function describeIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0];
  const param = issue?.path.length ? issue.path.join('.') : null;
  return { message: `${param ? `${param}: ` : ''}${issue?.message ?? 'invalid request'}`, param };
}
