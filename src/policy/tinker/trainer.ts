// A trainer backend over the Tinker client, to show how thin one is: update(samples) is one
// forward_backward + optim_step on the loop's samples, then the new weights are published for sampling;
// save() writes the training state on the server and returns its `tinker://` path; resume() starts a new
// model from such a path. Generation and the Policy the loop talks to are policy.ts (TinkerPolicy).
import type { TrainingSample, UpdateStats } from '../types.js';
import type { TinkerClient, TrainingModel } from './client.js';
import { importanceSamplingLoss, type LossReduction, rlDatums, sampleToSequence } from './datums.js';
import type { AdamParams } from './wire.js';

export interface TinkerTrainerOptions {
  client: TinkerClient;
  baseModel: string;
  /** LoRA rank (and, on resume, the saved model's rank). */
  rank: number;
  /** Seed of the LoRA initialisation. */
  seed?: number;
  adam: AdamParams;
  /** How the server reduces the loss: 'sum' (hosted Tinker) or 'sequenceMean' (SkyRL's JAX backend). */
  reduction: LossReduction;
  /** The prompt's token ids exactly as they were sampled with (the model's tokenizer). */
  encodePrompt: (text: string) => number[];
}

export class TinkerTrainer {
  private updates: number;
  private published: string | undefined;

  private constructor(
    private readonly opts: TinkerTrainerOptions,
    readonly model: TrainingModel,
    step = 0,
  ) {
    this.updates = step;
  }

  /** Optimizer steps taken so far (counting those of the state a resumed trainer loaded). */
  get step(): number {
    return this.updates;
  }

  /** A new LoRA model; its initial weights are published for sampling. */
  static async create(opts: TinkerTrainerOptions): Promise<TinkerTrainer> {
    const { baseModel, rank, seed } = opts;
    const model = await opts.client.createLoraModel({
      baseModel,
      rank,
      ...(seed === undefined ? {} : { seed }),
    });
    const trainer = new TinkerTrainer(opts, model);
    await trainer.publish();
    return trainer;
  }

  /**
   * A new model loaded from a path save() returned (weights and optimizer state); `step` is the number of
   * updates that state had taken (kept by the caller next to the path). With `optimizer: false` only the
   * weights are loaded and Adam starts afresh (a new run from a saved model).
   */
  static async resume(
    opts: TinkerTrainerOptions,
    statePath: string,
    step = 0,
    options: { optimizer?: boolean } = {},
  ): Promise<TinkerTrainer> {
    const { baseModel, rank, seed } = opts;
    const model = await opts.client.createModelFromState(statePath, {
      baseModel,
      rank,
      optimizer: options.optimizer ?? true,
      ...(seed === undefined ? {} : { seed }),
    });
    const trainer = new TinkerTrainer(opts, model, step);
    await trainer.publish();
    return trainer;
  }

  /** The `tinker://` path of the latest weights, to sample from. */
  get samplerPath(): string {
    if (!this.published) throw new Error('no weights published yet');
    return this.published;
  }

  private async publish(): Promise<void> {
    this.published = await this.model.saveWeightsForSampler(`sampler-${this.updates}`);
  }

  /**
   * One policy-gradient step over the samples, then the new weights are published for sampling. `adam`
   * replaces the options' Adam parameters for this step (e.g. a learning-rate warmup).
   */
  async update(samples: readonly TrainingSample[], adam: AdamParams = this.opts.adam): Promise<UpdateStats> {
    const start = performance.now();
    const seqs = samples.map((s) => sampleToSequence(s, this.opts.encodePrompt));
    const data = rlDatums(seqs, this.opts.reduction);
    const { forwardBackward, optim } = await this.model.step(data, adam);
    const logprobs = forwardBackward.lossFnOutputs.map((o) => o.logprobs?.data ?? []);
    this.updates += 1;
    await this.publish();
    const m = optim.metrics;
    return {
      loss: importanceSamplingLoss(data, logprobs, this.opts.reduction),
      gradNorm: m['skyrl.ai/grad_norm'] ?? m.grad_norm ?? Number.NaN,
      tokens: seqs.reduce((n, s) => n + s.completionTokens.length, 0),
      learningRate: adam.learning_rate,
      timeMs: performance.now() - start,
    };
  }

  /** Save weights and optimizer state on the server under `name`; returns the path resume() takes. */
  save(name: string): Promise<string> {
    return this.model.saveWeights(name);
  }
}
