// A checkpoint of the tinker backend as `azr eval`, `azr eval --bench cruxeval` and `azr serve` take it
// (directly, or through its run directory): its pointer file names the saved weights on the server, and
// its run's config the server, the tokenizer and the API key's variable. The commands sample those weights
// through the Tinker sampling API (src/policy/tinker/sampler.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TinkerPointer } from '../policy/tinker/policy.js';
import type { TinkerSampler } from '../policy/tinker/sampler.js';
import { stringFlag, UsageError } from './args.js';
import { runConfigOf } from './checkpoint-arg.js';

/** `--tinker-url` in the commands that take a CHECKPOINT. */
export const TINKER_URL_FLAG = { 'tinker-url': { type: 'string' } } as const;

/** Its usage line, with the text at `column` as the command's other flags have it. */
export function tinkerUrlUsage(column: number): string {
  const label = '  --tinker-url URL';
  const text = "a tinker run's Tinker server, if not where the run trained (default: its backend.url)";
  return label.length < column ? `${label.padEnd(column)}${text}` : `${label}\n${' '.repeat(column)}${text}`;
}

/** Everything needed to sample a tinker checkpoint's weights. */
export interface TinkerCheckpoint {
  pointer: TinkerPointer;
  /** The server: --tinker-url, else the run's backend.url. */
  url: string;
  apiKey?: string;
  tokenizerDir: string;
  /** The run's `model.contextLength`: what its prompts were bounded by. */
  contextLength: number;
}

/**
 * The tinker checkpoint `checkpoint` is, with its run's settings and the command's --tinker-url; undefined
 * for a built-in checkpoint. UsageErrors: a tinker checkpoint outside its run directory (the run's config
 * names the server and the tokenizer), or --tinker-url with a built-in one.
 */
export async function tinkerCheckpointOf(
  checkpoint: string,
  values: Record<string, unknown>,
): Promise<TinkerCheckpoint | undefined> {
  const { POINTER_FILE, readTinkerPointer } = await import('../policy/tinker/policy.js');
  const url = stringFlag(values, 'tinker-url');
  if (!existsSync(join(checkpoint, POINTER_FILE))) {
    if (url !== undefined)
      throw new UsageError(`--tinker-url: ${checkpoint} is not a checkpoint of the tinker backend`);
    return undefined;
  }
  const pointer = readTinkerPointer(checkpoint);
  const run = await runConfigOf(checkpoint);
  if (run?.config.backend.kind !== 'tinker') {
    throw new UsageError(
      `${checkpoint} is a checkpoint of the tinker backend outside its run directory; give the run (its ` +
        'config.json names the server and the tokenizer)',
    );
  }
  const b = run.config.backend;
  const apiKey = process.env[b.apiKeyEnv];
  return {
    pointer,
    url: url ?? b.url,
    ...(apiKey === undefined ? {} : { apiKey }),
    tokenizerDir: b.tokenizer,
    contextLength: run.config.model.contextLength,
  };
}

/** A sampling policy over the checkpoint's saved weights; `log` is told what is sampled where. */
export async function openTinkerCheckpoint(
  c: TinkerCheckpoint,
  log: (line: string) => void,
): Promise<TinkerSampler> {
  const { openTinkerSampler } = await import('../policy/tinker/sampler.js');
  const p = c.pointer;
  const sampler = await openTinkerSampler(p, {
    url: c.url,
    ...(c.apiKey === undefined ? {} : { apiKey: c.apiKey }),
    tokenizerDir: c.tokenizerDir,
    log,
  });
  log(
    `sampling ${p.samplerPath} (step ${p.step}, LoRA rank ${p.loraRank} on ${p.baseModel}) through the ` +
      `Tinker API at ${c.url}`,
  );
  return sampler;
}
