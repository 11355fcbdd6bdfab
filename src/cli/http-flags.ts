// Command-line flags of the OpenAI-compatible policy, shared by `azr generate` and `azr eval --bench
// cruxeval`, so both read the same names the same way.
import { normalizeBaseUrl, type OpenAIPolicyOptions, type RetryInfo } from '../policy/openai.js';

export const OPENAI_FLAGS = {
  'base-url': { type: 'string' },
  model: { type: 'string' },
  chat: { type: 'boolean' },
  concurrency: { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
  'api-key-env': { type: 'string' },
  'no-logprobs': { type: 'boolean' },
  'truncate-prompt-tokens': { type: 'string' },
  grammar: { type: 'string' },
  'think-share': { type: 'string' },
} as const;

export const OPENAI_FLAGS_USAGE = `  --base-url URL[,URL]  OpenAI-compatible servers of one model (e.g. http://localhost:8000/v1)
  --model NAME          the model name the servers know
  --chat                use /v1/chat/completions (the server's chat template) instead of /v1/completions
  --concurrency N       requests in flight per server (default 8)
  --timeout-ms N        per request (default 120000)
  --retries N           retries on 408, 409, 429, 5xx, connection errors, malformed bodies (default 4)
  --api-key-env VAR     environment variable with the API key (default OPENAI_API_KEY)
  --no-logprobs         do not ask for token log-probabilities
  --truncate-prompt-tokens K   have the server keep only the last K prompt tokens (vLLM's
                        truncate_prompt_tokens; azr serve takes it too) instead of refusing, with a 400,
                        a prompt that does not fit the model context next to the completion budget
  --grammar auto|gbnf|none   constrain answers to the format with a grammar the server applies
                        (llama.cpp's grammar field, vLLM's structured_outputs): auto sends it until a
                        server refuses it, gbnf always, none never (default auto)
  --think-share X       with a grammar on /v1/completions, the share of the token budget the reasoning
                        may take before the answer is asked for under the grammar (default 0.5)
`;

function whole(values: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min)
    throw new Error(`--${name} takes a whole number >= ${min}, got '${String(raw)}'`);
  return n;
}

/** The OpenAI policy's flags that were given (for commands that refuse them with another policy). */
export function openAIFlagsGiven(values: Record<string, unknown>): string[] {
  return Object.keys(OPENAI_FLAGS)
    .filter((k) => values[k] !== undefined)
    .map((k) => `--${k}`);
}

/** Policy options from parsed flags; throws a readable Error on a missing or bad flag. */
export function openAIOptionsFromFlags(values: Record<string, unknown>): OpenAIPolicyOptions {
  const urls = typeof values['base-url'] === 'string' ? values['base-url'] : '';
  const baseUrls = urls
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (baseUrls.length === 0) throw new Error('give --base-url URL[,URL]');
  for (const u of baseUrls) {
    try {
      normalizeBaseUrl(u);
    } catch (e) {
      throw new Error(`--base-url: ${(e as Error).message}`);
    }
  }
  const model = values.model;
  if (typeof model !== 'string' || model.trim() === '') throw new Error('give --model NAME');
  const opts: OpenAIPolicyOptions = { baseUrls, model, api: values.chat === true ? 'chat' : 'completions' };
  const concurrency = whole(values, 'concurrency', 1);
  if (concurrency !== undefined) opts.concurrency = concurrency;
  const timeoutMs = whole(values, 'timeout-ms', 1);
  if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
  const retries = whole(values, 'retries', 0);
  if (retries !== undefined) opts.retries = retries;
  if (typeof values['api-key-env'] === 'string') opts.apiKeyEnv = values['api-key-env'];
  if (values['no-logprobs'] === true) opts.logprobs = false;
  const truncate = whole(values, 'truncate-prompt-tokens', 1);
  if (truncate !== undefined) opts.truncatePromptTokens = truncate;
  const grammar = values.grammar ?? 'auto';
  if (grammar !== 'auto' && grammar !== 'gbnf' && grammar !== 'none')
    throw new Error(`--grammar takes auto, gbnf or none, got '${String(grammar)}'`);
  opts.grammar = grammar;
  const share = values['think-share'];
  if (share !== undefined) {
    const x = Number(share);
    if (typeof share !== 'string' || share.trim() === '' || !(x > 0 && x < 1))
      throw new Error(`--think-share takes a number between 0 and 1, got '${String(share)}'`);
    opts.thinkShare = x;
  }
  return opts;
}

/** A line for stderr about one retry, so a long run against a struggling server does not stall silently. */
export function retryLine(command: string): (r: RetryInfo) => void {
  return (r) =>
    process.stderr.write(
      `${command}: attempt ${r.attempt} failed, retrying in ${Math.round(r.waitMs)} ms: ${r.error}\n`,
    );
}
