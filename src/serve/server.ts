// `azr serve`: any Policy behind the OpenAI-compatible HTTP API, so the same client code (the OpenAI
// policy, `azr generate`, or any OpenAI SDK) talks to the built-in model and to vLLM alike.
//
//   GET  /v1/models             the one model served
//   POST /v1/completions        prompt (text, token ids, or a list of either), n, temperature, top_p,
//                               max_tokens, stop, logprobs (k: the sampled token's and the k most
//                               likely), seed, stream, truncate_prompt_tokens
//   POST /v1/chat/completions   messages rendered with chat-template.ts, the same sampling fields,
//                               logprobs (boolean) and top_logprobs, stream (server-sent events)
//
// Log-probabilities, the sampled token's and the alternatives alike, are those of the distribution the
// token was drawn from: after temperature and top-p (greedy decoding reports the chosen token at 0), as
// the policy's importance ratios need; an alternative outside the top-p nucleus is not listed.
//   GET  /health                200 when up
//
// The context (ServeOptions.contextLength), as vLLM enforces it: a request whose prompt tokens plus
// max_tokens exceed the context is refused with 400 (code context_length_exceeded) naming the context
// length, the total asked for and its two parts; nothing is cut silently. A request that leaves max_tokens
// out gets the default (16 for completions, chatMaxTokens for chat) or the room the prompt leaves,
// whichever is less, as vLLM gives the remaining context; a prompt that leaves no room is refused. vLLM's
// extra parameter `truncate_prompt_tokens` (k >= 1, at most the context) is the opt-in to keeping only
// the last k prompt tokens; `usage.prompt_tokens` counts the tokens actually used.
//
// A prompt of token ids (RL clients send them to skip a second tokenization) goes to the policy as it is,
// nothing added, as vLLM does; it needs a policy that takes ids (Policy.vocabSize), and each id must lie
// in [0, vocabSize) or the request is refused with 400 (code invalid_token_id) naming the first bad one.
//
// A request body over maxBodyBytes gets 413; the rest of the body is read and dropped, so the client
// receives the answer and the connection stays usable.
//
// Requests that arrive while the policy is generating are gathered into its next generate call (one
// batch for the model, however many clients). Streaming sends the completion in pieces once it is
// generated: the Policy interface returns whole completions.
import { randomInt, randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { Completion, GenerateRequest, Policy } from '../policy/types.js';
import type { AnswerConstraint } from '../tasks/answer-format.js';
import { renderChat } from './chat-template.js';
import {
  type ChatMessageBody,
  ChatRequest,
  type CompletionPrompt,
  CompletionRequest,
  describeIssue,
} from './schemas.js';

export interface ServeOptions {
  /** The name clients must send as `model` (default 'azr'). */
  model?: string;
  /** Text of one token id, for `logprobs.tokens` (default: the id as a string). */
  tokenText?: (id: number) => string;
  /**
   * Raw bytes of one token id. When given, log-probabilities follow OpenAI's byte conventions: `bytes`
   * is these bytes, a token whose bytes are not whole UTF-8 on their own is named `bytes:\xNN...` (as
   * vLLM does), and `text_offset` counts characters of the decoded text. Without it, `bytes` is the UTF-8
   * of tokenText and offsets add up tokenText lengths.
   */
  tokenBytes?: (id: number) => readonly number[];
  /** Prompt length in tokens, for `usage` (default: 0, unknown). */
  countPromptTokens?: (prompt: string) => number;
  /** Default max_tokens of chat requests, which may leave it out (default 256). */
  chatMaxTokens?: number;
  /**
   * How chat messages become the prompt text (default chat-template.ts's transcript of the reference
   * prompts, for the built-in model; a pretrained model's own chat template for it). A conversation that
   * ends with an assistant message is continued.
   */
  renderChat?: (messages: readonly ChatMessageBody[]) => string;
  /**
   * The model's context length in tokens. When given (with countPromptTokens), prompt + max_tokens must
   * fit it or the request is refused with 400, as vLLM does; see the top of the file. Without it nothing
   * is checked, and the policy decides what to do with a prompt that does not fit.
   */
  contextLength?: number;
  /** Largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Decoding constraint passed to the policy with every request (e.g. an answer grammar). */
  constraint?: AnswerConstraint;
}

export interface ServeHandle {
  server: Server;
  /** Resolves with the base URL (`http://host:port/v1`). Port 0 picks a free port. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** Gathers generate requests that arrive while the policy is busy into one call. */
class Batcher {
  private pending: {
    requests: GenerateRequest[];
    resolve: (c: Completion[][]) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private busy = false;

  constructor(private readonly policy: Policy) {}

  generate(requests: GenerateRequest[]): Promise<Completion[][]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ requests, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.pending.length > 0) {
      const jobs = this.pending;
      this.pending = [];
      try {
        const all = await this.policy.generate(jobs.flatMap((j) => j.requests));
        let at = 0;
        for (const j of jobs) {
          j.resolve(all.slice(at, at + j.requests.length));
          at += j.requests.length;
        }
      } catch (e) {
        for (const j of jobs) j.reject(e);
      }
    }
    this.busy = false;
  }
}

/**
 * The request body as text, refused with 413 once it is over `max` bytes: at once when its
 * Content-Length says so, else when the count passes it. The rest is read and dropped, not cut off:
 * closing a socket with unread data resets it, and the client would lose the 413.
 */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(
      413,
      `The request body is over this server's limit of ${max} bytes`,
      'invalid_request_error',
      null,
      'request_too_large',
    );
  if (Number(req.headers['content-length']) > max) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks = [];
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, e: HttpError): void {
  sendJson(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

interface TokenInfo {
  token: string;
  bytes: number[];
  /** Characters (code points) of the decoded text before this token. */
  offset: number;
}

/** Token names, bytes and text offsets of a completion's token ids. */
function tokenInfos(
  ids: readonly number[],
  tokenText: (id: number) => string,
  tokenBytes: ((id: number) => readonly number[]) | undefined,
): TokenInfo[] {
  const out: TokenInfo[] = [];
  if (!tokenBytes) {
    let offset = 0;
    for (const id of ids) {
      const token = tokenText(id);
      out.push({ token, bytes: [...Buffer.from(token, 'utf8')], offset });
      offset += token.length;
    }
    return out;
  }
  const stream = new TextDecoder('utf-8');
  const alone = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  for (const id of ids) {
    const bytes = [...tokenBytes(id)];
    let token: string;
    try {
      token = alone.decode(Uint8Array.from(bytes));
    } catch {
      token = `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
    }
    out.push({ token, bytes, offset });
    offset += Array.from(stream.decode(Uint8Array.from(bytes), { stream: true })).length;
  }
  return out;
}

/** Pieces of a completion's text for streaming (whole code points, so no piece splits a character). */
function pieces(text: string, size = 16): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

/** Completions' max_tokens when the request leaves it out (OpenAI's and vLLM's default). */
const COMPLETIONS_MAX_TOKENS = 16;

/** One prompt of a request: text, or the model's token ids (completions only). */
type PromptInput = string | readonly number[];

/** One prompt ready for the policy: its token budget and the prompt tokens it uses. */
interface Fitted {
  prompt: PromptInput;
  /** Prompt tokens the model sees (after truncate_prompt_tokens). */
  promptTokens: number;
  maxTokens: number;
}

export function createServer(policy: Policy, opts: ServeOptions = {}): ServeHandle {
  const model = opts.model ?? 'azr';
  const tokenText = opts.tokenText ?? ((id: number) => String(id));
  /** Text and bytes of one token on its own (an alternative in `top_logprobs`). */
  const tokenAlone = (id: number): TokenInfo => tokenInfos([id], tokenText, opts.tokenBytes)[0] as TokenInfo;
  const countPrompt = opts.countPromptTokens ?? (() => 0);
  const context = opts.contextLength;
  if (context !== undefined) {
    if (!Number.isInteger(context) || context < 2)
      throw new RangeError(`contextLength must be a whole number >= 2, got ${context}`);
    if (!opts.countPromptTokens) throw new Error('contextLength needs countPromptTokens to check prompts');
  }
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const batcher = new Batcher(policy);
  const created = Math.floor(Date.now() / 1000);

  function parse<T extends z.ZodType>(schema: T, text: string): z.infer<T> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'the request body is not JSON');
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const { message, param } = describeIssue(r.error);
      throw new HttpError(400, message, 'invalid_request_error', param);
    }
    const body = r.data as { model: string };
    if (body.model !== model)
      throw new HttpError(
        404,
        `The model '${body.model}' does not exist; this server serves '${model}'`,
        'invalid_request_error',
        'model',
        'model_not_found',
      );
    return r.data;
  }

  /**
   * Each prompt's token budget, checked against the context as vLLM does (see the top of the file).
   * `requested` is the request's max_tokens (null: left out, so `fallback` or the room left, the less);
   * `what` names the prompt in messages ('prompt' or 'messages') and is the error's param.
   */
  function fit(
    prompts: readonly PromptInput[],
    requested: number | null | undefined,
    fallback: number,
    truncate: number | null | undefined,
    what: 'prompt' | 'messages',
  ): Fitted[] {
    if (context !== undefined && truncate != null && truncate > context)
      throw new HttpError(
        400,
        `truncate_prompt_tokens (${truncate}) is greater than this model's maximum context length ` +
          `(${context} tokens). Please request a smaller truncation size.`,
        'invalid_request_error',
        'truncate_prompt_tokens',
      );
    return prompts.map((prompt) => {
      const count = typeof prompt === 'string' ? countPrompt(prompt) : prompt.length;
      const used = truncate == null ? count : Math.min(count, truncate);
      if (context === undefined) return { prompt, promptTokens: used, maxTokens: requested ?? fallback };
      const tooLong = (message: string) =>
        new HttpError(400, message, 'invalid_request_error', what, 'context_length_exceeded');
      if (requested == null) {
        if (used >= context)
          throw tooLong(
            `This model's maximum context length is ${context} tokens. However, your request has ${used} ` +
              `tokens in the ${what}, which leaves no room for the completion. Please reduce the length of ` +
              `the ${what}.`,
          );
        return { prompt, promptTokens: used, maxTokens: Math.min(fallback, context - used) };
      }
      if (used + requested > context)
        throw tooLong(
          `This model's maximum context length is ${context} tokens. However, you requested ` +
            `${used + requested} tokens (${used} in the ${what}, ${requested} in the completion). ` +
            `Please reduce the length of the ${what} or completion.`,
        );
      return { prompt, promptTokens: used, maxTokens: requested };
    });
  }

  /**
   * A completions request's prompts, one entry each. Token ids are checked against the policy's
   * vocabulary: the first bad id is refused with 400, its position in the request as the param.
   */
  function promptsOf(prompt: CompletionPrompt): PromptInput[] {
    if (typeof prompt === 'string') return [prompt];
    const texts = prompt.filter((p) => typeof p === 'string');
    if (texts.length === prompt.length) return texts;
    const one = typeof prompt[0] === 'number';
    const lists = (one ? [prompt] : prompt) as number[][];
    const vocab = policy.vocabSize;
    if (vocab === undefined)
      throw new HttpError(
        400,
        "This server's model takes text prompts only, not token ids",
        'invalid_request_error',
        'prompt',
      );
    lists.forEach((ids, p) => {
      const k = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));
      if (k < 0) return;
      const at = one ? `prompt.${k}` : `prompt.${p}.${k}`;
      throw new HttpError(
        400,
        `${at}: token id ${ids[k]} is not in the model's vocabulary (ids 0 to ${vocab - 1})`,
        'invalid_request_error',
        at,
        'invalid_token_id',
      );
    });
    return lists;
  }

  const usageOf = (fitted: readonly Fitted[], completions: Completion[][]) => {
    const prompt_tokens = fitted.reduce((s, f) => s + f.promptTokens, 0);
    let completion_tokens = 0;
    for (const cs of completions) for (const c of cs) completion_tokens += c.tokenIds?.length ?? 0;
    return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
  };

  function requestsFor(
    fitted: readonly Fitted[],
    b: {
      n: number;
      temperature: number;
      top_p: number;
      stop: string[];
      seed?: number | null | undefined;
      truncate_prompt_tokens?: number | null | undefined;
    },
    topLogprobs: number,
  ): GenerateRequest[] {
    // Without a seed each request samples afresh; with one, the same request gives the same completions.
    const seed = b.seed ?? randomInt(0, 2 ** 31 - 1);
    return fitted.map(({ prompt, maxTokens }) => {
      const r: GenerateRequest = {
        prompt: typeof prompt === 'string' ? prompt : '',
        n: b.n,
        temperature: b.temperature,
        topP: b.top_p,
        maxTokens,
        seed,
      };
      if (typeof prompt !== 'string') r.promptTokenIds = prompt;
      if (b.stop.length) r.stop = b.stop;
      if (b.truncate_prompt_tokens != null) r.truncatePromptTokens = b.truncate_prompt_tokens;
      if (topLogprobs > 0) r.topLogprobs = topLogprobs;
      if (opts.constraint) r.constraint = opts.constraint;
      return r;
    });
  }

  function startStream(res: ServerResponse): (value: unknown) => void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    return (value) => res.write(`data: ${JSON.stringify(value)}\n\n`);
  }

  async function completions(res: ServerResponse, text: string): Promise<void> {
    const b = parse(CompletionRequest, text);
    if (b.best_of != null && b.best_of !== b.n)
      throw new HttpError(400, 'best_of other than n is not supported', 'invalid_request_error', 'best_of');
    const prompts = promptsOf(b.prompt);
    const fitted = fit(prompts, b.max_tokens, COMPLETIONS_MAX_TOKENS, b.truncate_prompt_tokens, 'prompt');
    const out = await batcher.generate(requestsFor(fitted, b, b.logprobs ?? 0));
    const id = `cmpl-${randomUUID()}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const logprobsOf = (c: Completion) => {
      if (b.logprobs == null || !c.logprobs) return null;
      const infos = tokenInfos(c.tokenIds ?? [], tokenText, opts.tokenBytes);
      return {
        tokens: infos.map((t) => t.token),
        token_logprobs: c.logprobs,
        // OpenAI's legacy shape: per position, an object from token text to log-probability.
        top_logprobs: c.topLogprobs
          ? c.topLogprobs.map((at) =>
              Object.fromEntries(at.map((t) => [tokenAlone(t.tokenId).token, t.logprob])),
            )
          : null,
        text_offset: infos.map((t) => t.offset),
      };
    };
    const choices = out.flatMap((cs, p) =>
      cs.map((c, i) => ({
        index: p * b.n + i,
        text: c.text,
        finish_reason: c.finishReason,
        logprobs: logprobsOf(c),
      })),
    );
    const usage = usageOf(fitted, out);
    if (!b.stream) {
      sendJson(res, 200, { id, object: 'text_completion', created: createdAt, model, choices, usage });
      return;
    }
    const send = startStream(res);
    // With include_usage, every chunk has a usage field, null until the last (OpenAI's stream shape).
    const nullUsage = b.stream_options?.include_usage ? { usage: null } : {};
    const chunk = (choice: object) =>
      send({ id, object: 'text_completion', created: createdAt, model, choices: [choice], ...nullUsage });
    for (const c of choices) {
      for (const piece of pieces(c.text))
        chunk({ index: c.index, text: piece, finish_reason: null, logprobs: null });
      chunk({ index: c.index, text: '', finish_reason: c.finish_reason, logprobs: c.logprobs });
    }
    if (b.stream_options?.include_usage)
      send({ id, object: 'text_completion', created: createdAt, model, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  async function chat(res: ServerResponse, text: string): Promise<void> {
    const b = parse(ChatRequest, text);
    if ((b.top_logprobs ?? 0) > 0 && !b.logprobs) {
      throw new HttpError(
        400,
        'top_logprobs requires logprobs to be true',
        'invalid_request_error',
        'top_logprobs',
      );
    }
    const prompt = (opts.renderChat ?? renderChat)(b.messages);
    const fitted = fit(
      [prompt],
      b.max_completion_tokens ?? b.max_tokens,
      opts.chatMaxTokens ?? 256,
      b.truncate_prompt_tokens,
      'messages',
    );
    const out = await batcher.generate(requestsFor(fitted, b, b.logprobs ? (b.top_logprobs ?? 0) : 0));
    const id = `chatcmpl-${randomUUID()}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const logprobsOf = (c: Completion) => {
      if (!b.logprobs || !c.logprobs) return null;
      const infos = tokenInfos(c.tokenIds ?? [], tokenText, opts.tokenBytes);
      return {
        content: c.logprobs.map((logprob, k) => ({
          token: infos[k]?.token ?? '',
          logprob,
          bytes: infos[k]?.bytes ?? [],
          top_logprobs: (c.topLogprobs?.[k] ?? []).map((t) => {
            const info = tokenAlone(t.tokenId);
            return { token: info.token, logprob: t.logprob, bytes: info.bytes };
          }),
        })),
      };
    };
    const completionsOut = out[0] ?? [];
    const usage = usageOf(fitted, out);
    if (!b.stream) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created: createdAt,
        model,
        choices: completionsOut.map((c, index) => ({
          index,
          message: { role: 'assistant', content: c.text },
          finish_reason: c.finishReason,
          logprobs: logprobsOf(c),
        })),
        usage,
      });
      return;
    }
    const send = startStream(res);
    const nullUsage = b.stream_options?.include_usage ? { usage: null } : {};
    const chunk = (choice: object) =>
      send({
        id,
        object: 'chat.completion.chunk',
        created: createdAt,
        model,
        choices: [choice],
        ...nullUsage,
      });
    completionsOut.forEach((c, index) => {
      chunk({ index, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null });
      for (const piece of pieces(c.text))
        chunk({ index, delta: { content: piece }, finish_reason: null, logprobs: null });
      chunk({ index, delta: {}, finish_reason: c.finishReason, logprobs: logprobsOf(c) });
    });
    if (b.stream_options?.include_usage)
      send({ id, object: 'chat.completion.chunk', created: createdAt, model, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /health':
        sendJson(res, 200, { status: 'ok' });
        return;
      case 'GET /v1/models':
        sendJson(res, 200, {
          object: 'list',
          // max_model_len as vLLM lists it, when the context is known.
          data: [
            {
              id: model,
              object: 'model',
              created,
              owned_by: 'azr',
              ...(context === undefined ? {} : { max_model_len: context }),
            },
          ],
        });
        return;
      case 'POST /v1/completions':
        return completions(res, await readBody(req, maxBody));
      case 'POST /v1/chat/completions':
        return chat(res, await readBody(req, maxBody));
    }
    const known = ['/health', '/v1/models', '/v1/completions', '/v1/chat/completions'];
    if (known.includes(path)) throw new HttpError(405, `${req.method} is not allowed on ${path}`);
    throw new HttpError(404, `no route ${path}`, 'invalid_request_error', null, 'not_found');
  }

  const server = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err =
        e instanceof HttpError
          ? e
          : new HttpError(500, `generation failed: ${(e as Error).message ?? String(e)}`, 'server_error');
      if (res.headersSent) res.end();
      else sendError(res, err);
    });
  });

  return {
    server,
    listen(port: number, host = '127.0.0.1'): Promise<string> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve(`http://${h}:${a.port}/v1`);
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
