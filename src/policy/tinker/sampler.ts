// A sampling-only Policy over the weights a Tinker checkpoint saved (the pointer file policy.ts writes):
// what `azr eval` and `azr serve` score and serve for a run on the tinker backend, sampled through the
// Tinker sampling API exactly as the run sampled during training (sampling.ts).
//
// It samples the checkpoint's own sampler path. A server may no longer have it: SkyRL keeps a sampler path
// sampleable only while the model that published it is loaded, and unloads a model when its session's
// heartbeats stop (5 minutes by default), when asked to, or when the server restarts. Then the saved
// training state of the same step is loaded into a new LoRA model (weights only) and published for
// sampling, once, and the request is sent again; that model is unloaded on close, so an evaluation does
// not keep one of the server's LoRA slots.
import { BpeTokenizer } from '../../model/bpe-tokenizer.js';
import type { Completion, GenerateRequest, Policy } from '../types.js';
import { TinkerClient, TinkerError, type TrainingModel } from './client.js';
import type { TinkerPointer } from './policy.js';
import { DEFAULT_CONCURRENCY, mapLimited, sampleCompletions } from './sampling.js';

export interface TinkerSamplerOptions {
  /** Server origin, e.g. `http://127.0.0.1:8000`. */
  url: string;
  apiKey?: string;
  /** Folder with the base model's `tokenizer.json` and `tokenizer_config.json`. */
  tokenizerDir: string;
  /** Sampling requests in flight at once (default 16). */
  concurrency?: number;
  /** Told when the saved state had to be restored into a new model. */
  log?: (line: string) => void;
}

export interface TinkerSampler extends Policy {
  readonly tokenizer: BpeTokenizer;
  /** The sampler path sampled so far: the checkpoint's, or that of the model its state was restored into. */
  readonly samplerPath: string;
}

/**
 * The server answered that it does not have the sampler path's model (SkyRL: 404 "Model not found" for a
 * model it never knew, a failed request "Model … not loaded" for one it unloaded).
 */
function modelGone(e: unknown): boolean {
  if (!(e instanceof TinkerError) || e.status === undefined) return false;
  return e.status === 404 || /not (?:loaded|found)|unloaded|KeyError/i.test(e.answer);
}

export async function openTinkerSampler(
  pointer: TinkerPointer,
  opts: TinkerSamplerOptions,
): Promise<TinkerSampler> {
  const tokenizer = await BpeTokenizer.load(opts.tokenizerDir);
  const client = new TinkerClient({
    baseUrl: opts.url,
    ...(opts.apiKey === undefined ? {} : { apiKey: opts.apiKey }),
    // A restore may wait for the server's engine to load the model, and a first sample for compiling.
    futureTimeoutMs: 900_000,
  });
  let samplerPath = pointer.samplerPath;
  let restored: Promise<TrainingModel> | undefined;

  const restore = async (cause: TinkerError): Promise<TrainingModel> => {
    let model: TrainingModel;
    try {
      model = await client.createModelFromState(pointer.statePath, {
        baseModel: pointer.baseModel,
        rank: pointer.loraRank,
        optimizer: false,
      });
      samplerPath = await model.saveWeightsForSampler(`restored-step-${pointer.step}`);
    } catch (e) {
      throw new Error(
        `cannot sample ${pointer.samplerPath} (${cause.answer}) nor restore its saved state ` +
          `${pointer.statePath}: ${(e as Error).message}`,
      );
    }
    opts.log?.(
      `tinker: the server no longer has ${pointer.samplerPath} (${cause.answer}); restored the saved ` +
        `weights ${pointer.statePath} (step ${pointer.step}) into model ${model.modelId}, sampling ${samplerPath}`,
    );
    return model;
  };

  const sampleOne = async (r: GenerateRequest): Promise<Completion[]> => {
    // Reads samplerPath when called, so a request sent after a restore samples the restored weights.
    const attempt = async () =>
      (await sampleCompletions({ client, tokenizer, samplerPath }, [r]))[0] as Completion[];
    if (!restored) {
      try {
        return await attempt();
      } catch (e) {
        if (!modelGone(e)) throw e;
        restored ??= restore(e as TinkerError);
      }
    }
    await restored;
    return attempt();
  };

  return {
    tokenizer,
    get samplerPath() {
      return samplerPath;
    },
    generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      return mapLimited(requests, opts.concurrency ?? DEFAULT_CONCURRENCY, sampleOne);
    },
    async close(): Promise<void> {
      try {
        const model = await restored?.catch(() => undefined);
        await model?.unload();
      } finally {
        client.close();
      }
    },
  };
}
