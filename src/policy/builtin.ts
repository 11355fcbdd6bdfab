// The built-in policy: the small GPT of src/model behind the Policy interface. generate() tokenizes,
// samples with the KV cache (optionally grammar-constrained), and returns token ids and log-probs;
// update() packs the samples into one policy-gradient step; save() writes a safetensors checkpoint.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_PRESETS, type ModelConfig, type ModelPreset } from '../model/config.js';
import type { DecodeConstraint } from '../model/constraint.js';
import { createModelEngine, loadModelEngine, type OrtModelEngine } from '../model/engine.js';
import type { OptimizerSettings } from '../model/engine-types.js';
import { BOS, PAD, type SampleRow, sampleRows } from '../model/sampler.js';
import { encode } from '../model/tokenizer.js';
import { packTrainBatch, type Sequence } from '../rl/objective.js';
import type { Completion, GenerateRequest, Policy, TrainingSample, UpdateStats } from './types.js';

export const CHECKPOINT_FILE = 'model.safetensors';

export interface BuiltinPolicyOptions {
  threads: number;
  /** Resolves GenerateRequest.constraint names (e.g. to grammars); unknown names sample unconstrained. */
  constraints?: (name: string) => DecodeConstraint | undefined;
  /** Rows sampled together. */
  maxBatch?: number;
  /** Rows per optimizer step; an update over more sequences takes several steps of this size. */
  maxTrainBatch?: number;
}

export interface BuiltinPolicy extends Policy {
  readonly engine: OrtModelEngine;
  update(samples: readonly TrainingSample[]): Promise<UpdateStats>;
  save(dir: string): Promise<void>;
}

export function modelConfigFor(preset: ModelPreset, contextLength: number, vocabSize = 272): ModelConfig {
  return { ...MODEL_PRESETS[preset], vocabSize, contextLength };
}

function wrap(engine: OrtModelEngine, opts: BuiltinPolicyOptions): BuiltinPolicy {
  const maxBatch = opts.maxBatch ?? 64;
  const maxTrain = opts.maxTrainBatch ?? 16;
  return {
    engine,
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      const rows: SampleRow[] = [];
      for (const r of requests) {
        const prompt = [BOS, ...encode(r.prompt)];
        const constraint = r.constraint ? opts.constraints?.(r.constraint) : undefined;
        for (let i = 0; i < r.n; i++) {
          const row: SampleRow = {
            prompt,
            maxTokens: r.maxTokens,
            temperature: r.temperature,
            topP: r.topP,
            // Sample i of a request draws from its own stream: seed and index decide it.
            seed: ((r.seed ?? 0) * 1_000_003 + i * 7919) >>> 0,
          };
          if (r.stop) row.stop = r.stop;
          if (constraint) row.constraint = constraint;
          rows.push(row);
        }
      }
      const sampled = await sampleRows(engine, rows, maxBatch);
      let at = 0;
      return requests.map((r) => {
        const mine = sampled.slice(at, at + r.n);
        at += r.n;
        return mine.map((s) => ({
          text: s.text,
          finishReason: s.finishReason,
          tokenIds: s.tokens,
          logprobs: s.logprobs,
        }));
      });
    },
    async update(samples: readonly TrainingSample[]): Promise<UpdateStats> {
      const t0 = performance.now();
      const seqs: Sequence[] = samples
        .filter((s) => s.advantage !== 0 && (s.completion.tokenIds?.length ?? 0) > 0)
        .map((s) => ({
          prompt: [BOS, ...encode(s.prompt)],
          completion: s.completion.tokenIds as number[],
          advantage: s.advantage,
        }));
      const lr = engine.learningRate(engine.step + 1);
      if (seqs.length === 0)
        return { loss: 0, gradNorm: 0, tokens: 0, learningRate: lr, timeMs: performance.now() - t0 };
      // Micro-steps of a fixed number of rows over sequences sorted by length, each padded to a multiple
      // of 64 tokens: a handful of graph shapes serve every update (building one costs seconds), and
      // short sequences are not padded to the longest of the whole update.
      const ctx = engine.config.contextLength;
      seqs.sort((a, b) => a.prompt.length + a.completion.length - (b.prompt.length + b.completion.length));
      let loss = 0;
      let gradNorm = 0;
      let tokens = 0;
      for (let i = 0; i < seqs.length; i += maxTrain) {
        const part = seqs.slice(i, i + maxTrain);
        const longest = Math.max(...part.map((q) => q.prompt.length + q.completion.length - 1));
        const time = Math.min(ctx, Math.ceil(longest / 64) * 64);
        const filler = Array.from({ length: maxTrain - part.length }, () => ({
          prompt: [PAD],
          completion: [],
          advantage: 0,
        }));
        const batch = packTrainBatch([...part, ...filler], time, PAD);
        // packTrainBatch averaged over maxTrain rows; make it a mean over the real sequences.
        const scale = maxTrain / part.length;
        for (let k = 0; k < batch.weights.length; k++)
          batch.weights[k] = (batch.weights[k] as number) * scale;
        const s = await engine.trainStep(batch);
        loss += s.loss * (part.length / seqs.length);
        gradNorm = Math.max(gradNorm, s.gradNorm);
        for (const q of part) tokens += q.completion.length;
      }
      return { loss, gradNorm, tokens, learningRate: lr, timeMs: performance.now() - t0 };
    },
    async save(dir: string): Promise<void> {
      mkdirSync(dir, { recursive: true });
      await engine.save(join(dir, CHECKPOINT_FILE));
      writeFileSync(
        join(dir, 'config.json'),
        `${JSON.stringify({ model: engine.config, tokenizer: 'bytes+specials/1' }, null, 2)}\n`,
      );
    },
    close: () => engine.close(),
  };
}

export async function createBuiltinPolicy(
  config: ModelConfig,
  engineOpts: { seed: number; optimizer: OptimizerSettings },
  opts: BuiltinPolicyOptions,
): Promise<BuiltinPolicy> {
  const engine = await createModelEngine(config, {
    threads: opts.threads,
    seed: engineOpts.seed,
    optimizer: engineOpts.optimizer,
  });
  return wrap(engine, opts);
}

/** Load from a checkpoint directory (or the .safetensors file itself). */
export async function loadBuiltinPolicy(
  path: string,
  opts: BuiltinPolicyOptions & { optimizer?: OptimizerSettings },
): Promise<BuiltinPolicy> {
  const file = path.endsWith('.safetensors') ? path : join(path, CHECKPOINT_FILE);
  const engine = await loadModelEngine(
    file,
    opts.optimizer ? { threads: opts.threads, optimizer: opts.optimizer } : { threads: opts.threads },
  );
  return wrap(engine, opts);
}
