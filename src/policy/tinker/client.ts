// A client of the Tinker training API (the hosted service, or SkyRL's open server) for a client-owned RL
// loop: sessions with heartbeats, a LoRA training model on a base model, forward_backward + optim_step,
// sampler weights + sampling with token ids and log-probabilities, and save/load of the training state.
//
// Wire: JSON over HTTP under `/api/v1`, except the forward_backward request and the sample and
// forward_backward results, which are protobuf (proto.ts): the hosted service's SDK speaks protobuf there
// from 0.25 and SkyRL 0.4 refuses a JSON forward_backward (415). `forwardBackwardEncoding: 'json'` sends
// the older JSON body for servers that predate that. The API key goes in `X-API-Key` (the hosted
// service issues keys starting `tml-`; SkyRL checks none).
//
// Futures: every long call answers `{request_id}`; `retrieve_future` is long-polled (SkyRL holds a poll
// up to 300 s and answers 408 when it gives up; this client ends its own poll after `pollTimeoutMs`, as
// the SDK does, and polls again: polling is always safe to repeat). `try_again` answers are polled again
// after a short pause. A failed request comes back as a 400 with `detail` (SkyRL) or as `{error}`
// (hosted) and fails at once, naming the call that failed.
//
// Ordering and retries: each training model sends a strictly increasing `seq_id` with each of its calls.
// SkyRL answers a repeated (model_id, seq_id) of forward_backward or optim_step with the original future
// (and 409 if the body differs), so those calls, and the idempotent reads (retrieve_future, heartbeat,
// capabilities), sampling (stateless) and unload_model (a second unload changes nothing), are retried after
// a connection failure, 408, 429 or 5xx.
// Calls that change state without that protection (create_model, save_weights, save_weights_for_sampler,
// load_weights) are retried only when the connection was refused, i.e. the request never reached the
// server; any other failure of theirs is reported at once. Errors name the call, the URL and the answer.
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import {
  type DecodedForwardBackward,
  type DecodedSampleResponse,
  decodeForwardBackwardOutput,
  decodeSampleResponse,
  encodeForwardBackwardRequest,
  type ProtoTensor,
} from './proto.js';
import {
  type AdamParams,
  CreateModelResponse,
  CreateModelResult,
  CreateSessionResponse,
  type Datum,
  ErrorDetail,
  ForwardBackwardResultJson,
  FutureResponse,
  LoadWeightsResult,
  type LoraConfig,
  type LossFn,
  OptimStepResult,
  RequestFailed,
  SampleResultJson,
  type SamplingParams,
  SaveWeightsForSamplerResult,
  SaveWeightsResult,
  ServerCapabilities,
  TryAgain,
  UnloadModelResult,
} from './wire.js';

const PROTO = 'application/x-protobuf';

export interface TinkerClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:8000` (routes are under `/api/v1`). */
  baseUrl: string;
  /** Sent as `X-API-Key`; the caller reads it from its environment. */
  apiKey?: string;
  /** Per HTTP attempt, except polls (default 60000 ms). */
  timeoutMs?: number;
  /** Length of one retrieve_future long poll before polling again (default 45000 ms). */
  pollTimeoutMs?: number;
  /** Longest wait for one future's result (default one hour). */
  futureTimeoutMs?: number;
  /** Attempts after the first for a retryable failure (default 4). */
  retries?: number;
  /** First back-off, doubled each retry, with jitter (default 500 ms). */
  backoffMs?: number;
  /** Longest back-off (default 10000 ms). */
  maxBackoffMs?: number;
  /** Interval of session heartbeats (default 10000 ms, as the SDK; SkyRL drops a session after 300 s). */
  heartbeatMs?: number;
  /** How forward_backward is sent: 'proto' (default; SDK >= 0.25, SkyRL 0.4) or 'json' (older servers). */
  forwardBackwardEncoding?: 'proto' | 'json';
  /** Told of each failed attempt that will be retried. */
  onRetry?: (info: { call: string; error: string; attempt: number; waitMs: number }) => void;
  /** Told of a failed heartbeat (heartbeats never throw). */
  onHeartbeatError?: (error: TinkerError) => void;
}

/** A failed Tinker call: which call, at which URL, and what the server answered (or why none came). */
export class TinkerError extends Error {
  constructor(
    readonly call: string,
    readonly url: string,
    readonly answer: string,
    readonly status?: number,
  ) {
    super(`Tinker ${call} at ${url}: ${answer}`);
    this.name = 'TinkerError';
  }
}

export interface SampledSequence {
  tokens: number[];
  /** Log-probability of each sampled token under the sampling weights. */
  logprobs: number[];
  stopReason: 'stop' | 'length';
}

export interface SampleResult {
  sequences: SampledSequence[];
  /** With `promptLogprobs`: per prompt token, null where none was computed (the first). */
  promptLogprobs?: (number | null)[];
}

export interface SampleRequest {
  /** A `tinker://…` sampler path from saveWeightsForSampler; omit it to sample the base model. */
  modelPath?: string;
  /** Base model name, for sampling the base model. */
  baseModel?: string;
  prompt: readonly number[];
  numSamples?: number;
  params: SamplingParams;
  promptLogprobs?: boolean;
}

export interface ForwardBackwardResult {
  /** Per datum: output tensors by name (SkyRL and the hosted service give `logprobs` of the targets). */
  lossFnOutputs: Record<string, { data: number[]; dtype: string; shape: number[] }>[];
  metrics: Record<string, number>;
  /** Wall time of the call including its wait, in ms. */
  timeMs: number;
}

export interface OptimStepOutput {
  metrics: Record<string, number>;
  timeMs: number;
}

export interface CreateModelOptions extends LoraConfig {
  baseModel: string;
}

type Answer = { status: number; contentType: string; bytes: Uint8Array };

interface PostOptions {
  /** A repeat cannot change the outcome: retry after any retryable failure. */
  idempotent: boolean;
  timeoutMs?: number;
  accept?: string;
  /** Raw body with its content type; otherwise `json` is sent. */
  raw?: { bytes: Uint8Array; contentType: string };
  json?: unknown;
}

function describeFetchError(err: unknown): { text: string; refused: boolean; timedOut: boolean } {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return { text: 'timed out', refused: false, timedOut: true };
  const code = e?.cause?.code;
  const cause = e?.cause?.message ? ` (${e.cause.message})` : '';
  const text = code ? `${code}${cause}` : `${String(e?.message ?? err)}${cause}`;
  return { text, refused: code === 'ECONNREFUSED', timedOut: false };
}

function clip(text: string, n = 500): string {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

function answerText(a: Answer): string {
  const body = new TextDecoder().decode(a.bytes);
  try {
    const parsed = ErrorDetail.safeParse(JSON.parse(body));
    if (parsed.success) {
      const d = parsed.data.detail;
      return `HTTP ${a.status}: ${clip(typeof d === 'string' ? d : JSON.stringify(d))}`;
    }
  } catch {
    // not JSON: show it as text
  }
  return `HTTP ${a.status}: ${clip(body)}`;
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class TinkerClient {
  readonly baseUrl: string;
  private readonly opts: Required<Omit<TinkerClientOptions, 'apiKey' | 'onRetry' | 'onHeartbeatError'>> &
    Pick<TinkerClientOptions, 'apiKey' | 'onRetry' | 'onHeartbeatError'>;
  private sessionId: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private modelSeq = 0;

  constructor(options: TinkerClientOptions) {
    const url = new URL(options.baseUrl);
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    this.opts = {
      timeoutMs: 60_000,
      pollTimeoutMs: 45_000,
      futureTimeoutMs: 3_600_000,
      retries: 4,
      backoffMs: 500,
      maxBackoffMs: 10_000,
      heartbeatMs: 10_000,
      forwardBackwardEncoding: 'proto',
      ...options,
    };
  }

  /** The session's id, once createSession has run. */
  get session(): string | undefined {
    return this.sessionId;
  }

  private url(route: string): string {
    return `${this.baseUrl}/api/v1/${route}`;
  }

  /** One POST (or GET when `method` says so) with the retry policy of the header comment. */
  private async post(
    call: string,
    route: string,
    o: PostOptions,
    method: 'POST' | 'GET' = 'POST',
  ): Promise<Answer> {
    const url = this.url(route);
    const headers: Record<string, string> = {};
    if (this.opts.apiKey) headers['X-API-Key'] = this.opts.apiKey;
    if (o.accept) headers.Accept = o.accept;
    let body: Uint8Array | string | undefined;
    if (o.raw) {
      headers['Content-Type'] = o.raw.contentType;
      body = o.raw.bytes;
    } else if (o.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    for (let attempt = 0; ; attempt++) {
      let failure: TinkerError;
      let retry: boolean;
      try {
        const res = await fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(o.timeoutMs ?? this.opts.timeoutMs),
        });
        const answer: Answer = {
          status: res.status,
          contentType: res.headers.get('content-type') ?? '',
          bytes: new Uint8Array(await res.arrayBuffer()),
        };
        if (res.ok) return answer;
        failure = new TinkerError(call, url, answerText(answer), res.status);
        retry = o.idempotent && retryableStatus(res.status);
      } catch (err) {
        if (err instanceof TinkerError) throw err;
        const d = describeFetchError(err);
        failure = new TinkerError(call, url, d.text);
        retry = o.idempotent || d.refused;
      }
      if (!retry || attempt >= this.opts.retries) throw failure;
      const base = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** attempt);
      const waitMs = Math.round(base / 2 + (Math.random() * base) / 2);
      this.opts.onRetry?.({ call, error: failure.message, attempt: attempt + 1, waitMs });
      await sleep(waitMs);
    }
  }

  private async postJson<S extends z.ZodTypeAny>(
    call: string,
    route: string,
    json: unknown,
    schema: S,
    idempotent: boolean,
  ): Promise<z.infer<S>> {
    const answer = await this.post(call, route, { json, idempotent });
    return this.parse(call, route, answer, schema);
  }

  private parse<S extends z.ZodTypeAny>(call: string, route: string, answer: Answer, schema: S): z.infer<S> {
    const text = new TextDecoder().decode(answer.bytes);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new TinkerError(
        call,
        this.url(route),
        `not JSON (${answer.contentType}): ${clip(text)}`,
        answer.status,
      );
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new TinkerError(
        call,
        this.url(route),
        `unexpected answer ${clip(text)}: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }

  /**
   * Wait for a future's result: JSON (validated with `schema`) or, when the server answers protobuf,
   * the raw bytes. `call` names the request the future belongs to, for errors.
   */
  async retrieveFuture(call: string, requestId: string, accept?: string): Promise<Answer> {
    const url = this.url('retrieve_future');
    const deadline = Date.now() + this.opts.futureTimeoutMs;
    let failures = 0;
    for (let iteration = 0; ; iteration++) {
      if (Date.now() > deadline) {
        throw new TinkerError(
          call,
          url,
          `no result for request ${requestId} after ${this.opts.futureTimeoutMs} ms`,
        );
      }
      const pollMs = Math.max(1, Math.min(this.opts.pollTimeoutMs, deadline - Date.now()));
      let answer: Answer;
      try {
        answer = await this.post(`${call} (retrieve_future ${requestId})`, 'retrieve_future', {
          json: { request_id: requestId },
          idempotent: false, // retried by this loop, which knows 408 and timeouts are not failures
          timeoutMs: pollMs,
          ...(accept ? { accept } : {}),
        });
      } catch (err) {
        if (!(err instanceof TinkerError)) throw err;
        if (err.status === 408 || err.answer === 'timed out') continue; // the long poll ended: poll again
        if (err.status === 400)
          throw new TinkerError(call, url, `request ${requestId} failed: ${err.answer}`, 400);
        const transient = err.status === undefined || err.status === 429 || err.status >= 500;
        if (!transient || failures >= this.opts.retries) throw err;
        const waitMs = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** failures++);
        this.opts.onRetry?.({
          call: `${call} (retrieve_future)`,
          error: err.message,
          attempt: failures,
          waitMs,
        });
        await sleep(waitMs);
        continue;
      }
      failures = 0;
      if (answer.contentType.includes(PROTO)) return answer;
      const text = new TextDecoder().decode(answer.bytes);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new TinkerError(call, url, `result of request ${requestId} is not JSON: ${clip(text)}`);
      }
      if (TryAgain.safeParse(value).success) {
        await sleep(Math.min(1000, 100 * 2 ** Math.min(iteration, 4)));
        continue;
      }
      const failed = RequestFailed.safeParse(value);
      if (failed.success) {
        throw new TinkerError(call, url, `request ${requestId} failed: ${failed.data.error}`, answer.status);
      }
      return answer;
    }
  }

  private async result<S extends z.ZodTypeAny>(
    call: string,
    requestId: string,
    schema: S,
  ): Promise<z.infer<S>> {
    const answer = await this.retrieveFuture(call, requestId);
    return this.parse(call, 'retrieve_future', answer, schema);
  }

  // ---- session ----

  /** Start a session and its heartbeats (stopped by close()). */
  async createSession(tags: string[] = []): Promise<string> {
    const res = await this.postJson(
      'create_session',
      'create_session',
      { tags, user_metadata: null, sdk_version: 'absolute-zero-ts', type: 'create_session' },
      CreateSessionResponse,
      true,
    );
    this.sessionId = res.session_id;
    this.heartbeat = setInterval(() => void this.sendHeartbeat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    return res.session_id;
  }

  /** One heartbeat now; failures go to onHeartbeatError, never thrown. */
  async sendHeartbeat(): Promise<void> {
    if (!this.sessionId) return;
    try {
      await this.post('session_heartbeat', 'session_heartbeat', {
        json: { session_id: this.sessionId, type: 'session_heartbeat' },
        idempotent: true,
      });
    } catch (err) {
      if (err instanceof TinkerError) this.opts.onHeartbeatError?.(err);
    }
  }

  /** Stop heartbeats. The server drops the session's models once its heartbeats stop. */
  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  async serverCapabilities(): Promise<string[]> {
    const answer = await this.post(
      'get_server_capabilities',
      'get_server_capabilities',
      { idempotent: true },
      'GET',
    );
    return this.parse(
      'get_server_capabilities',
      'get_server_capabilities',
      answer,
      ServerCapabilities,
    ).supported_models.map((m) => m.model_name);
  }

  // ---- models ----

  /** Create a LoRA training model on a base model and wait until it is ready. */
  async createLoraModel(options: CreateModelOptions): Promise<TrainingModel> {
    if (!this.sessionId) await this.createSession();
    const { baseModel, ...lora } = options;
    const res = await this.postJson(
      'create_model',
      'create_model',
      {
        session_id: this.sessionId,
        model_seq_id: this.modelSeq++,
        base_model: baseModel,
        lora_config: { train_mlp: true, train_attn: true, train_unembed: true, ...lora },
        type: 'create_model',
      },
      CreateModelResponse,
      false,
    );
    const done = await this.result('create_model', res.request_id, CreateModelResult);
    return new TrainingModel(this, done.model_id, baseModel);
  }

  /**
   * A new LoRA model restored from a `tinker://…/weights/…` path written by saveWeights: the load is the
   * model's first request, as the API requires. `rank` must be the saved model's.
   */
  async createModelFromState(
    path: string,
    options: CreateModelOptions & { optimizer?: boolean },
  ): Promise<TrainingModel> {
    const { optimizer = true, ...create } = options;
    const model = await this.createLoraModel(create);
    await model.loadWeights(path, { optimizer });
    return model;
  }

  // ---- sampling ----

  async sample(req: SampleRequest): Promise<SampleResult> {
    const body = {
      num_samples: req.numSamples ?? 1,
      prompt: { chunks: [{ type: 'encoded_text', tokens: [...req.prompt] }] },
      sampling_params: req.params,
      ...(req.modelPath ? { model_path: req.modelPath } : { base_model: req.baseModel }),
      ...(req.promptLogprobs ? { prompt_logprobs: true } : {}),
      type: 'sample',
    };
    const future = await this.postJson('asample', 'asample', body, FutureResponse, true);
    const answer = await this.retrieveFuture('asample', future.request_id, PROTO);
    let decoded: DecodedSampleResponse;
    if (answer.contentType.includes(PROTO)) decoded = decodeSampleResponse(answer.bytes);
    else {
      const json = this.parse('asample', 'retrieve_future', answer, SampleResultJson);
      decoded = {
        sequences: json.sequences.map((s) => ({
          tokens: s.tokens,
          stopReason: s.stop_reason,
          ...(s.logprobs ? { logprobs: s.logprobs } : {}),
        })),
        ...(json.prompt_logprobs ? { promptLogprobs: json.prompt_logprobs } : {}),
      };
    }
    const sequences = decoded.sequences.map((s) => {
      if (!s.logprobs || s.logprobs.length !== s.tokens.length) {
        throw new TinkerError(
          'asample',
          this.url('asample'),
          `sequence of ${s.tokens.length} tokens came with ${s.logprobs?.length ?? 0} log-probabilities`,
        );
      }
      return { tokens: s.tokens, logprobs: s.logprobs, stopReason: s.stopReason };
    });
    let promptLogprobs = decoded.promptLogprobs;
    // The API gives one entry per prompt token, null for the first; SkyRL 0.4's JAX backend leaves that
    // first entry out. Align both to the prompt.
    if (promptLogprobs && promptLogprobs.length === req.prompt.length - 1)
      promptLogprobs = [null, ...promptLogprobs];
    return { sequences, ...(promptLogprobs ? { promptLogprobs } : {}) };
  }

  // ---- used by TrainingModel ----

  /** @internal */
  async submitForwardBackward(
    modelId: string,
    seqId: number,
    data: readonly Datum[],
    lossFn: LossFn,
    lossFnConfig?: Record<string, number>,
    forwardOnly = false,
  ): Promise<string> {
    const call = forwardOnly ? 'forward' : 'forward_backward';
    let answer: Answer;
    if (this.opts.forwardBackwardEncoding === 'proto') {
      const bytes = encodeForwardBackwardRequest({
        modelId,
        seqId,
        lossFn,
        forwardOnly,
        ...(lossFnConfig ? { lossFnConfig } : {}),
        data: data.map((d) => ({
          tokens: d.model_input.chunks.flatMap((c) => c.tokens),
          lossFnInputs: d.loss_fn_inputs as Record<string, ProtoTensor>,
        })),
      });
      answer = await this.post(call, 'forward_backward', {
        raw: { bytes, contentType: PROTO },
        idempotent: true,
      });
    } else {
      // Older servers have a separate JSON route for a forward pass.
      answer = await this.post(call, forwardOnly ? 'forward' : 'forward_backward', {
        json: {
          model_id: modelId,
          seq_id: seqId,
          [forwardOnly ? 'forward_input' : 'forward_backward_input']: {
            data,
            loss_fn: lossFn,
            loss_fn_config: lossFnConfig ?? null,
          },
        },
        idempotent: true,
      });
    }
    return this.parse(call, 'forward_backward', answer, FutureResponse).request_id;
  }

  /** @internal */
  async forwardBackwardResult(requestId: string, call = 'forward_backward'): Promise<DecodedForwardBackward> {
    const answer = await this.retrieveFuture(call, requestId, PROTO);
    if (answer.contentType.includes(PROTO)) return decodeForwardBackwardOutput(answer.bytes);
    const json = this.parse(call, 'retrieve_future', answer, ForwardBackwardResultJson);
    return {
      lossFnOutputType: json.loss_fn_output_type,
      lossFnOutputs: json.loss_fn_outputs.map((rec) =>
        Object.fromEntries(
          Object.entries(rec).map(([k, t]) => [
            k,
            { data: t.data, dtype: t.dtype, shape: t.shape ?? [t.data.length] },
          ]),
        ),
      ),
      metrics: Object.fromEntries(Object.entries(json.metrics).map(([k, v]) => [k, v ?? Number.NaN])),
    };
  }

  /** @internal */
  async submit(call: string, body: unknown, idempotent: boolean): Promise<string> {
    return (await this.postJson(call, call, body, FutureResponse, idempotent)).request_id;
  }

  /** @internal */
  async resultOf<S extends z.ZodTypeAny>(call: string, requestId: string, schema: S): Promise<z.infer<S>> {
    return this.result(call, requestId, schema);
  }
}

function numericMetrics(m: Record<string, number | null>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v ?? Number.NaN]));
}

/**
 * One LoRA training model on the server. Its calls carry a strictly increasing `seq_id` (from 1), so a
 * retried forward_backward or optim_step gets its original future back instead of running twice.
 */
export class TrainingModel {
  private seq = 0;

  constructor(
    private readonly client: TinkerClient,
    readonly modelId: string,
    readonly baseModel: string,
  ) {}

  /** The seq_id the next call will carry. */
  get nextSeqId(): number {
    return this.seq + 1;
  }

  private takeSeqId(): number {
    this.seq += 1;
    return this.seq;
  }

  /** Compute and accumulate gradients of the loss over `data`. */
  async forwardBackward(
    data: readonly Datum[],
    lossFn: LossFn = 'importance_sampling',
    lossFnConfig?: Record<string, number>,
  ): Promise<ForwardBackwardResult> {
    const start = performance.now();
    const id = await this.client.submitForwardBackward(
      this.modelId,
      this.takeSeqId(),
      data,
      lossFn,
      lossFnConfig,
    );
    const out = await this.client.forwardBackwardResult(id);
    return { lossFnOutputs: out.lossFnOutputs, metrics: out.metrics, timeMs: performance.now() - start };
  }

  /**
   * A forward pass only: the loss outputs (e.g. the targets' `logprobs` under the current weights)
   * without touching gradients. Sent to the forward_backward route with `forward_only` set, as the SDK does.
   */
  async forward(data: readonly Datum[], lossFn: LossFn = 'cross_entropy'): Promise<ForwardBackwardResult> {
    const start = performance.now();
    const id = await this.client.submitForwardBackward(
      this.modelId,
      this.takeSeqId(),
      data,
      lossFn,
      undefined,
      true,
    );
    const out = await this.client.forwardBackwardResult(id, 'forward');
    return { lossFnOutputs: out.lossFnOutputs, metrics: out.metrics, timeMs: performance.now() - start };
  }

  /** Apply one Adam step with the accumulated gradients. */
  async optimStep(adam: AdamParams): Promise<OptimStepOutput> {
    const start = performance.now();
    const id = await this.submitOptimStep(adam);
    const res = await this.client.resultOf('optim_step', id, OptimStepResult);
    return { metrics: numericMetrics(res.metrics), timeMs: performance.now() - start };
  }

  private submitOptimStep(adam: AdamParams): Promise<string> {
    return this.client.submit(
      'optim_step',
      { model_id: this.modelId, seq_id: this.takeSeqId(), adam_params: adam, type: 'optim_step' },
      true,
    );
  }

  /**
   * forward_backward then optim_step, both sent before either result is awaited (the server queues them
   * in seq_id order), as the cookbook's RL loop does: one round trip less per update.
   */
  async step(
    data: readonly Datum[],
    adam: AdamParams,
    lossFn: LossFn = 'importance_sampling',
    lossFnConfig?: Record<string, number>,
  ): Promise<{ forwardBackward: ForwardBackwardResult; optim: OptimStepOutput }> {
    const start = performance.now();
    const fbId = await this.client.submitForwardBackward(
      this.modelId,
      this.takeSeqId(),
      data,
      lossFn,
      lossFnConfig,
    );
    const optId = await this.submitOptimStep(adam);
    const fb = await this.client.forwardBackwardResult(fbId);
    const fbMs = performance.now() - start;
    const opt = await this.client.resultOf('optim_step', optId, OptimStepResult);
    return {
      forwardBackward: { lossFnOutputs: fb.lossFnOutputs, metrics: fb.metrics, timeMs: fbMs },
      optim: { metrics: numericMetrics(opt.metrics), timeMs: performance.now() - start },
    };
  }

  /** Publish the current weights for sampling under `name`; returns the `tinker://…` path to sample. */
  async saveWeightsForSampler(name: string): Promise<string> {
    const id = await this.client.submit(
      'save_weights_for_sampler',
      { model_id: this.modelId, path: name, seq_id: this.takeSeqId(), type: 'save_weights_for_sampler' },
      false,
    );
    const res = await this.client.resultOf('save_weights_for_sampler', id, SaveWeightsForSamplerResult);
    if (!res.path) throw new Error(`save_weights_for_sampler of ${this.modelId} returned no path`);
    return res.path;
  }

  /** Save weights and optimizer state under `name`; returns the `tinker://…/weights/…` path to load. */
  async saveWeights(name: string): Promise<string> {
    const id = await this.client.submit(
      'save_weights',
      { model_id: this.modelId, path: name, seq_id: this.takeSeqId(), type: 'save_weights' },
      false,
    );
    return (await this.client.resultOf('save_weights', id, SaveWeightsResult)).path;
  }

  /**
   * Free the model's place on the server (SkyRL: its LoRA slot, one of `max_lora_adapters`). Its saved
   * weights stay loadable; its sampler paths can no longer be sampled on SkyRL. Asking twice is harmless.
   */
  async unload(): Promise<void> {
    const id = await this.client.submit(
      'unload_model',
      { model_id: this.modelId, type: 'unload_model' },
      true,
    );
    await this.client.resultOf('unload_model', id, UnloadModelResult);
  }

  /** Load a saved state; must be this model's first request (the API refuses it later). */
  async loadWeights(path: string, options: { optimizer?: boolean } = {}): Promise<void> {
    const id = await this.client.submit(
      'load_weights',
      {
        model_id: this.modelId,
        path,
        optimizer: options.optimizer ?? true,
        seq_id: this.takeSeqId(),
        type: 'load_weights',
      },
      false,
    );
    await this.client.resultOf('load_weights', id, LoadWeightsResult);
  }
}
