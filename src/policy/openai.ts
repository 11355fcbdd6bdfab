// A Policy over OpenAI-compatible inference servers (vLLM, SGLang, llama.cpp's server, Ollama, `azr
// serve`): /v1/completions, or /v1/chat/completions so the server applies its model's chat template.
// It cannot update weights; the loop uses it in generate mode.
//
// Several endpoints serve one model: each request goes to the endpoint with the fewest requests in
// flight (a concurrency limit per endpoint; requests beyond it wait). A failed attempt (connection error,
// timeout, 408, 409, 429, 5xx, or a body that is not the API's JSON; the statuses OpenAI's own clients
// retry) is retried with exponential backoff and jitter, on another endpoint when there is one (the failed
// endpoint cools down for the backoff). A `retry-after-ms` or `Retry-After` header (milliseconds; seconds
// or an HTTP date) on a retryable answer sets how long that endpoint cools down,
// and how long the next attempt waits when no other endpoint is free of cooling. Other answers (400, 401,
// 404: a wrong model name, a wrong URL) are configuration errors and fail at once, except a 400 about
// log-probabilities: a server that does not offer them is asked again without, once for all requests. An
// error names the endpoint and what it answered.
//
// Context length: vLLM and `azr serve` refuse a prompt that does not fit the model's context next to
// max_tokens with a 400, which fails at once like any other 400 (asking again cannot fit it), with a hint
// at the way out: `truncatePromptTokens` sends vLLM's `truncate_prompt_tokens`, so the server keeps only
// the last K prompt tokens. It is an extra parameter of vLLM (and `azr serve`); OpenAI's own API refuses it.
//
// n samples: one request with `n`; servers that return fewer choices (some ignore n) are asked again for
// the rest, with the seed moved on so the extra samples differ.
//
// Answer grammar (option `grammar`): a request whose constraint is a reference-style answer gets the
// answer structure (src/grammar/answer-structure.ts) as a grammar the server applies while sampling, in
// llama.cpp's `grammar` field and in vLLM's `structured_outputs.grammar` (each server ignores the other's
// field). 'auto' stops sending it, for all requests, once a server refuses it with a 400 that names it.
// A grammar cannot count tokens, so on /v1/completions the reasoning is bounded by asking twice: first the
// reasoning, free, stopped at `</think>` or at its share of max_tokens (`thinkShare`), then the answer under
// the grammar, continuing the prompt after `</think>` with the rest of the budget. Free reasoning is also
// cheaper: llama.cpp checks every vocabulary entry against the grammar at each constrained step. A chat
// turn cannot be continued that way on every server, so on /v1/chat/completions one request carries the
// grammar from the turn's own `<think>`. Two-request completions carry no log-probabilities (the
// `</think>` between them was never sampled).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type AnswerShape, answerGrammar, answerShapeOf, THINK_CLOSE } from '../grammar/answer-structure.js';
import type { Completion, FinishReason, GenerateRequest, Policy } from './types.js';

export type OpenAIApi = 'completions' | 'chat';

/** Whether requests carry the answer grammar: always, until a server refuses it, or never. */
export type GrammarMode = 'gbnf' | 'auto' | 'none';

export interface OpenAIPolicyOptions {
  /** Base URLs such as `http://host:8000/v1` (a bare origin gets `/v1`). At least one. */
  baseUrls: readonly string[];
  /** The model name the servers know. */
  model: string;
  /** 'completions' sends the prompt as is; 'chat' sends messages (see toChatMessages). Default 'completions'. */
  api?: OpenAIApi;
  /** Environment variable holding the API key (default OPENAI_API_KEY); unset means no Authorization header. */
  apiKeyEnv?: string;
  /** Requests in flight per endpoint (default 8). */
  concurrency?: number;
  /** Per attempt, in milliseconds (default 120000). */
  timeoutMs?: number;
  /** Attempts after the first, for retryable failures (default 4). */
  retries?: number;
  /** First backoff in milliseconds, doubled each retry, with jitter (default 500). */
  backoffMs?: number;
  /** Longest backoff (default 10000). */
  maxBackoffMs?: number;
  /** Ask for token log-probabilities (default true); servers that do not offer them return none. */
  logprobs?: boolean;
  /**
   * Send `truncate_prompt_tokens` with this value (K >= 1): the server keeps only the last K prompt
   * tokens instead of refusing a prompt too long for its context. vLLM and `azr serve` take it; a
   * request's own GenerateRequest.truncatePromptTokens wins. Default: not sent.
   */
  truncatePromptTokens?: number;
  /**
   * Send the answer grammar with reference-style requests (see the top of the file): 'gbnf' always (a
   * server that refuses it is an error), 'auto' until a server refuses it, 'none' never (default).
   */
  grammar?: GrammarMode;
  /** With a grammar on /v1/completions: the most of max_tokens the reasoning may take, in (0, 1) (default 0.5). */
  thinkShare?: number;
  /** Where to read the API key from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Told of each failed attempt that will be retried, and how long the policy waits before the next. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** What failed: the endpoint's URL and what it answered. */
  error: string;
  /** Attempts made so far for this request (1 after the first failure). */
  attempt: number;
  /** Milliseconds before the next attempt. */
  waitMs: number;
}

/** Longest wait a `Retry-After` header can impose (a minute). */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Milliseconds a `Retry-After` header asks for: delay-seconds or an HTTP date; undefined when absent or
 * unreadable. Not capped here.
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** An endpoint failed in a way retrying will not fix, or every attempt failed. */
export class EndpointError extends Error {
  override name = 'EndpointError';
  constructor(
    message: string,
    /** Worth another attempt (connection error, timeout, 408, 409, 429, 5xx, malformed body). */
    readonly retryable: boolean,
    /** What the endpoint's `Retry-After` header asked for, in milliseconds. */
    readonly retryAfterMs?: number,
    /** A 400 refusing the log-probabilities parameter. */
    readonly logprobsRefused = false,
    /** A 400 refusing the answer grammar. */
    readonly grammarRefused = false,
  ) {
    super(message);
  }
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const FRAME_USER = '\n\nUser: ';
const FRAME_ASSISTANT = '\n\nAssistant:';

/**
 * Messages for a prompt. A prompt written as a transcript (`PREAMBLE\n\nUser: TEXT\n\nAssistant: ...`,
 * the think-then-answer frame of the reference prompts) becomes a system message with the preamble and a
 * user message with the text: the server's chat template then frames the conversation for its model,
 * and the model writes its own `<think>`. Any other prompt is one user message.
 */
export function toChatMessages(prompt: string): ChatMessage[] {
  const u = prompt.indexOf(FRAME_USER);
  const a = prompt.lastIndexOf(FRAME_ASSISTANT);
  if (u > 0 && a > u) {
    const system = prompt.slice(0, u).trim();
    const user = prompt.slice(u + FRAME_USER.length, a).trim();
    if (system && user)
      return [
        { role: 'system', content: system },
        { role: 'user', content: user },
      ];
  }
  return [{ role: 'user', content: prompt }];
}

// ---------------------------------------------------------------------------------------------------
// Response bodies: only the fields we read, checked so a misbehaving server gives a readable error.

const CompletionsBody = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative().optional(),
      text: z.string(),
      finish_reason: z.string().nullish(),
      logprobs: z.object({ token_logprobs: z.array(z.number().nullable()).nullish() }).nullish(),
    }),
  ),
});

const ChatBody = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative().optional(),
      message: z.object({
        content: z.string().nullish(),
        // Reasoning servers (vLLM's reasoning parsers, SGLang) return the thinking separately.
        reasoning_content: z.string().nullish(),
        reasoning: z.string().nullish(),
      }),
      finish_reason: z.string().nullish(),
      logprobs: z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish(),
    }),
  ),
});

const finishOf = (r: string | null | undefined): FinishReason => (r === 'length' ? 'length' : 'stop');

/** Turns a parsed completions body into Completions, in choice-index order. */
function completionsChoices(body: z.infer<typeof CompletionsBody>): Completion[] {
  const sorted = [...body.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  return sorted.map((c) => {
    const out: Completion = { text: c.text, finishReason: finishOf(c.finish_reason) };
    const lp = c.logprobs?.token_logprobs;
    if (lp) out.logprobs = lp.map((x) => x ?? 0);
    return out;
  });
}

function chatChoices(body: z.infer<typeof ChatBody>): Completion[] {
  const sorted = [...body.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  return sorted.map((c) => {
    let text = c.message.content ?? '';
    const thinking = c.message.reasoning_content ?? c.message.reasoning;
    // Put separated thinking back where the answer format expects it.
    if (thinking && !text.includes('</think>')) text = `<think>${thinking}</think>${text}`;
    const out: Completion = { text, finishReason: finishOf(c.finish_reason) };
    const lp = c.logprobs?.content;
    if (lp) out.logprobs = lp.map((t) => t.logprob);
    return out;
  });
}

/**
 * One POST with node:http(s), ended only by `signal` (the policy's timeout) or the connection. Not fetch:
 * its HTTP client gives up on a response whose headers take more than 300 s, whatever the timeout, and a
 * server that answers only when the completion is done (llama.cpp on a CPU, a long budget) takes longer.
 */
function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; header(name: string): string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      u,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const value = (name: string) => {
            const v = res.headers[name];
            return Array.isArray(v) ? v[0] : v;
          };
          resolve({
            status: res.statusCode ?? 0,
            header: value,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------------
// Endpoints and load spreading.

export function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`base URL must be http or https: '${raw}'`);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/v1' : path}`;
}

interface Endpoint {
  base: string;
  inFlight: number;
  /** Requests sent so far (for stats and tests). */
  sent: number;
  /** No new attempts before this time (ms since epoch), after a failure. */
  coolUntil: number;
}

/** Least-in-flight assignment with a per-endpoint cap; callers beyond the cap wait in order. */
class Dispatcher {
  private readonly waiting: (() => void)[] = [];
  private turn = 0;

  constructor(
    readonly endpoints: Endpoint[],
    private readonly limit: number,
  ) {}

  async acquire(avoid?: Endpoint): Promise<Endpoint> {
    for (;;) {
      const e = this.pick(avoid);
      if (e) {
        e.inFlight++;
        e.sent++;
        return e;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /**
   * How long to wait before another attempt: `base`, or longer when every endpoint is cooling down (until
   * the first of them is ready again).
   */
  waitBeforeRetry(base: number): number {
    const now = Date.now();
    const soonest = Math.min(...this.endpoints.map((e) => e.coolUntil - now));
    return Math.max(base, soonest);
  }

  release(e: Endpoint): void {
    e.inFlight--;
    this.waiting.shift()?.();
  }

  /** Free endpoints, preferring ones not cooling down and not `avoid`; fewest in flight, then round robin. */
  private pick(avoid?: Endpoint): Endpoint | undefined {
    const now = Date.now();
    const free = this.endpoints.filter((e) => e.inFlight < this.limit);
    if (free.length === 0) return undefined;
    const healthy = free.filter((e) => e.coolUntil <= now && e !== avoid);
    const pool = healthy.length ? healthy : free;
    const n = this.endpoints.length;
    let best: Endpoint | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const e of pool) {
      // Ties go round robin so that equal endpoints share the work.
      const order = (this.endpoints.indexOf(e) - this.turn + n) % n;
      const key = e.inFlight * n + order;
      if (key < bestKey) {
        bestKey = key;
        best = e;
      }
    }
    this.turn = (this.turn + 1) % n;
    return best;
  }
}

// ---------------------------------------------------------------------------------------------------

export interface OpenAIPolicy extends Policy {
  /** Requests sent per base URL so far (attempts, including retries). */
  stats(): { baseUrl: string; requests: number }[];
}

const snippet = (s: string, max = 200): string => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}...` : one;
};

/**
 * The message of an API error body (OpenAI style `{error: {message, param}}`, or `{detail}`, `{message}`),
 * and the request field it names, if any.
 */
function apiError(text: string): { message: string; param?: string; code?: string } {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const err = v.error;
    if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
      const { message, param, code } = err as { message: string; param?: unknown; code?: unknown };
      return {
        message,
        ...(typeof param === 'string' ? { param } : {}),
        ...(typeof code === 'string' ? { code } : {}),
      };
    }
    if (typeof err === 'string') return { message: err };
    if (typeof v.detail === 'string') return { message: v.detail };
    if (typeof v.message === 'string') return { message: v.message };
  } catch {
    // not JSON: show the text itself
  }
  return { message: snippet(text) };
}

export function createOpenAIPolicy(opts: OpenAIPolicyOptions): OpenAIPolicy {
  if (opts.baseUrls.length === 0) throw new Error('give at least one base URL');
  if (!opts.model) throw new Error('give the model name the server knows');
  const api: OpenAIApi = opts.api ?? 'completions';
  const limit = opts.concurrency ?? 8;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const retries = opts.retries ?? 4;
  const backoffMs = opts.backoffMs ?? 500;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  const wantLogprobs = opts.logprobs ?? true;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be >= 1, got ${limit}`);
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be >= 0, got ${retries}`);
  const truncate = opts.truncatePromptTokens;
  if (truncate !== undefined && (!Number.isInteger(truncate) || truncate < 1))
    throw new RangeError(`truncatePromptTokens must be a whole number >= 1, got ${truncate}`);
  const keyVar = opts.apiKeyEnv ?? 'OPENAI_API_KEY';
  const apiKey = (opts.env ?? process.env)[keyVar];
  const endpoints: Endpoint[] = opts.baseUrls.map((u) => ({
    base: normalizeBaseUrl(u),
    inFlight: 0,
    sent: 0,
    coolUntil: 0,
  }));
  const dispatcher = new Dispatcher(endpoints, limit);
  const path = api === 'chat' ? '/chat/completions' : '/completions';
  let closed = false;
  const aborts = new Set<AbortController>();
  /** Set once a server refuses the log-probabilities parameter: later requests do not ask. */
  let logprobsOff = !wantLogprobs;
  const grammarMode: GrammarMode = opts.grammar ?? 'none';
  /** Set once a server refuses the grammar in 'auto' mode: later requests go without. */
  let grammarOff = grammarMode === 'none';
  const thinkShare = opts.thinkShare ?? 0.5;
  if (!(thinkShare > 0 && thinkShare < 1))
    throw new RangeError(`thinkShare must be in (0, 1), got ${thinkShare}`);

  /** The answer's shape when the request gets a grammar: a reference-style constraint, grammar on. */
  function grammarShape(r: GenerateRequest): AnswerShape | undefined {
    if (grammarOff || r.constraint?.style !== 'reference') return undefined;
    return answerShapeOf(r.constraint, api === 'chat' ? 'think-tag' : 'think-text');
  }

  function body(
    r: GenerateRequest,
    n: number,
    seed: number | undefined,
    grammar?: string,
  ): Record<string, unknown> {
    const b: Record<string, unknown> = {
      model: opts.model,
      n,
      temperature: r.temperature,
      top_p: r.topP,
      max_tokens: r.maxTokens,
    };
    if (r.stop && r.stop.length > 0) b.stop = r.stop;
    if (seed !== undefined) b.seed = seed;
    const k = r.truncatePromptTokens ?? truncate;
    if (k !== undefined) b.truncate_prompt_tokens = k;
    if (api === 'chat') {
      b.messages = toChatMessages(r.prompt);
      if (!logprobsOff) b.logprobs = true;
    } else {
      b.prompt = r.prompt;
      if (!logprobsOff) b.logprobs = 1;
    }
    if (grammar !== undefined) {
      b.grammar = grammar;
      b.structured_outputs = { grammar };
    }
    return b;
  }

  /** One HTTP attempt; throws EndpointError saying which endpoint and what it answered. */
  async function attempt(e: Endpoint, payload: Record<string, unknown>): Promise<Completion[]> {
    const url = `${e.base}${path}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const ac = new AbortController();
    aborts.add(ac);
    const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | null = null;
    try {
      const res = await postJson(url, headers, JSON.stringify(payload), ac.signal);
      status = res.status;
      const ms = res.header('retry-after-ms')?.trim();
      retryAfter =
        ms && /^\d+(\.\d+)?$/.test(ms) ? String(Number(ms) / 1000) : (res.header('retry-after') ?? null);
      text = res.text;
    } catch (err) {
      if (closed) throw new EndpointError(`${url}: the policy was closed`, false);
      if (ac.signal.aborted) throw new EndpointError(`${url} did not answer within ${timeoutMs} ms`, true);
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new EndpointError(`cannot reach ${url} (${why})`, true);
    } finally {
      clearTimeout(timer);
      aborts.delete(ac);
    }
    if (status !== 200) {
      const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
      const hint =
        status === 404
          ? ` (is the model name '${opts.model}' and the base URL ${e.base} right?)`
          : status === 401 || status === 403
            ? ` (the API key is read from the environment variable ${keyVar}, which is ${apiKey ? 'set' : 'not set'})`
            : '';
      const err = apiError(text);
      // vLLM's and azr serve's refusal of a prompt too long for the context (OpenAI's code, or the message).
      const overContext =
        status === 400 &&
        (err.code === 'context_length_exceeded' || /maximum context length/i.test(err.message));
      const contextHint = overContext
        ? payload.truncate_prompt_tokens === undefined
          ? ' (the prompt and max_tokens do not fit the model context: ask for fewer completion tokens, or ' +
            'send truncate_prompt_tokens K so that the server keeps only the last K prompt tokens)'
          : ' (the prompt kept by truncate_prompt_tokens and max_tokens together must fit the model context)'
        : '';
      const aboutLogprobs =
        status === 400 &&
        payload.logprobs !== undefined &&
        (err.param === 'logprobs' || err.param === 'top_logprobs' || /logprob/i.test(err.message));
      const aboutGrammar =
        status === 400 &&
        payload.grammar !== undefined &&
        (err.param === 'grammar' ||
          err.param === 'structured_outputs' ||
          /grammar|structured_outputs|guided/i.test(err.message));
      const grammarHint =
        aboutGrammar && grammarMode === 'gbnf'
          ? ' (the server refused the answer grammar: use --grammar auto to go on without it)'
          : '';
      throw new EndpointError(
        `${url} answered ${status}: ${err.message}${hint}${contextHint}${grammarHint}`,
        retryable,
        retryable ? retryAfterMs(retryAfter) : undefined,
        aboutLogprobs,
        aboutGrammar,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new EndpointError(`${url} answered 200 with a body that is not JSON: ${snippet(text)}`, true);
    }
    const parsed = api === 'chat' ? ChatBody.safeParse(json) : CompletionsBody.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new EndpointError(
        `${url} answered 200 with an unexpected body (${where}${issue?.message ?? 'invalid'}): ${snippet(text)}`,
        true,
      );
    }
    if (parsed.data.choices.length === 0)
      throw new EndpointError(`${url} answered 200 with no choices: ${snippet(text)}`, true);
    return api === 'chat'
      ? chatChoices(parsed.data as z.infer<typeof ChatBody>)
      : completionsChoices(parsed.data as z.infer<typeof CompletionsBody>);
  }

  /** One request with retries across endpoints. */
  async function send(payload: Record<string, unknown>): Promise<Completion[]> {
    const failures: string[] = [];
    let last: Endpoint | undefined;
    for (let k = 0; k <= retries; k++) {
      if (closed) throw new Error('the OpenAI policy is closed');
      const e = await dispatcher.acquire(last);
      // Closed while this request waited for a free slot: it is not sent.
      if (closed) {
        dispatcher.release(e);
        throw new Error('the OpenAI policy is closed');
      }
      // A request built before a server refused log-probabilities leaves them out too.
      if (logprobsOff) {
        delete payload.logprobs;
        delete payload.top_logprobs;
      }
      if (grammarOff) {
        delete payload.grammar;
        delete payload.structured_outputs;
      }
      let wait: number | undefined;
      try {
        return await attempt(e, payload);
      } catch (err) {
        if (!(err instanceof EndpointError)) throw err;
        if (err.logprobsRefused) {
          // The server does not offer log-probabilities: ask again without, now and from now on. This
          // does not count as an attempt (the payload has no logprobs now, so it cannot happen twice).
          logprobsOff = true;
          k--;
          continue;
        }
        if (err.grammarRefused && grammarMode === 'auto') {
          // The same for the answer grammar, in 'auto' mode.
          grammarOff = true;
          k--;
          continue;
        }
        if (!err.retryable) throw err;
        failures.push(err.message);
        last = e;
        const backoff = Math.min(maxBackoffMs, backoffMs * 2 ** k);
        const jittered = backoff / 2 + Math.random() * (backoff / 2);
        const cool =
          err.retryAfterMs === undefined ? jittered : Math.min(MAX_RETRY_AFTER_MS, err.retryAfterMs);
        e.coolUntil = Date.now() + cool;
        if (k < retries) {
          wait = dispatcher.waitBeforeRetry(jittered);
          opts.onRetry?.({ error: err.message, attempt: k + 1, waitMs: wait });
        }
      } finally {
        dispatcher.release(e);
      }
      if (wait !== undefined) await sleep(wait);
    }
    throw new EndpointError(
      `every attempt failed (${failures.length}):\n  ${[...new Set(failures)].join('\n  ')}`,
      false,
    );
  }

  /** r.n completions of r, asking again for missing ones (servers that ignore n) a bounded number of times. */
  async function collect(r: GenerateRequest, grammar?: string): Promise<Completion[]> {
    const out: Completion[] = [];
    for (let round = 0; out.length < r.n; round++) {
      if (round > r.n) throw new Error(`the server keeps returning no choices for n=${r.n}`);
      const seed = r.seed === undefined ? undefined : r.seed + out.length * 7919;
      const got = await send(body(r, r.n - out.length, seed, grammar));
      out.push(...got.slice(0, r.n - out.length));
    }
    return out;
  }

  /**
   * A grammar-constrained completion with bounded reasoning (see the top of the file): the reasoning free
   * within its share of the budget, then per reasoning the answer under the grammar after `</think>`.
   */
  async function reasonThenAnswer(r: GenerateRequest, shape: AnswerShape): Promise<Completion[]> {
    const thinkTokens = Math.max(1, Math.floor(thinkShare * r.maxTokens));
    const answerTokens = Math.max(1, r.maxTokens - thinkTokens);
    const thoughts = await collect({ ...r, maxTokens: thinkTokens, stop: [...(r.stop ?? []), THINK_CLOSE] });
    const answerGrammarText = answerGrammar({ ...shape, startsAt: 'answer' });
    return Promise.all(
      thoughts.map(async (t, i) => {
        // Servers leave the stop string out of the text; one that kept it would have it cut here.
        const end = t.text.indexOf(THINK_CLOSE);
        const think = end === -1 ? t.text : t.text.slice(0, end);
        const continued: GenerateRequest = {
          ...r,
          prompt: r.prompt + think + THINK_CLOSE,
          n: 1,
          maxTokens: answerTokens,
        };
        if (r.seed !== undefined) continued.seed = r.seed + 104_729 * (i + 1);
        const [answer] = await collect(continued, grammarOff ? undefined : answerGrammarText);
        return {
          text: think + THINK_CLOSE + (answer?.text ?? ''),
          finishReason: answer?.finishReason ?? 'length',
        };
      }),
    );
  }

  async function generateOne(r: GenerateRequest): Promise<Completion[]> {
    const shape = grammarShape(r);
    if (shape === undefined) return collect(r);
    if (api === 'completions') return reasonThenAnswer(r, shape);
    return collect(r, answerGrammar(shape));
  }

  return {
    generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      return Promise.all(requests.map(generateOne));
    },
    stats: () => endpoints.map((e) => ({ baseUrl: e.base, requests: e.sent })),
    async close(): Promise<void> {
      closed = true;
      for (const ac of aborts) ac.abort(new Error('closed'));
    },
  };
}
