// The CHECKPOINT argument of `azr eval`, `azr serve` and `azr eval --bench cruxeval --policy builtin`:
// a checkpoint directory, its model.safetensors, or a run directory, which stands for the checkpoint its
// last committed iteration names. A checkpoint of the tinker backend is a pointer to weights on a server
// (tinker-checkpoint.ts opens it).
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SelfPlayConfig } from '../run/config.js';
import type { AnswerFormat } from '../tasks/answer-format.js';
import { UsageError } from './args.js';

/** The checkpoint `target` names; a UsageError when it does not exist or is a run with none yet. */
export async function resolveCheckpoint(target: string): Promise<string> {
  if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
  let path = target;
  if (statSync(target).isDirectory() && existsSync(join(target, 'state.json'))) {
    const { RunDir } = await import('../run/rundir.js');
    const run = new RunDir(target);
    const ckpt = run.readState()?.checkpoint;
    if (!ckpt) throw new UsageError(`${target} has no checkpoint yet`);
    path = run.checkpointPath(ckpt);
  }
  return path;
}

/** The config of the run directory holding `checkpoint` (and that config.json's path), if it is in one. */
export async function runConfigOf(
  checkpoint: string,
): Promise<{ config: SelfPlayConfig; file: string } | undefined> {
  const { readRunConfig } = await import('../run/config.js');
  let dir = statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    const file = join(dir, 'config.json');
    if (existsSync(join(dir, 'state.json')) && existsSync(file)) return { config: readRunConfig(file), file };
  }
  return undefined;
}

/**
 * The answer format a checkpoint is scored in: its run's (the config.json of the run directory holding it),
 * so that a model is asked and decoded as it was trained; outside a run, the default preset's. A run on the
 * tinker backend sampled without the answer grammar (the API has no constrained decoding), so it is scored
 * without it too.
 */
export async function checkpointFormat(
  checkpoint: string,
): Promise<{ format: AnswerFormat; source: string }> {
  const { answerFormatOf, PRESETS } = await import('../run/config.js');
  const run = await runConfigOf(checkpoint);
  if (run) {
    const format = answerFormatOf(run.config);
    return {
      format: run.config.backend.kind === 'tinker' ? { ...format, grammar: null } : format,
      source: run.file,
    };
  }
  return {
    format: answerFormatOf(PRESETS.default),
    source: 'the default preset (no run directory around it)',
  };
}

/** One line naming a format and where it came from. */
export function describeFormat(f: AnswerFormat, source: string): string {
  return `answer format: ${f.style} prompts, ${f.grammar ? 'grammar-constrained' : 'free'} decoding (from ${source})`;
}
