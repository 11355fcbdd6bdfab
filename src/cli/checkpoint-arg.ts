// The CHECKPOINT argument of `azr eval`, `azr serve` and `azr eval --bench cruxeval --policy builtin`:
// a checkpoint directory, its model.safetensors, or a run directory, which stands for the checkpoint its
// last committed iteration names.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnswerFormat } from '../tasks/answer-format.js';
import { UsageError } from './args.js';

/**
 * The built-in checkpoint `target` names; a UsageError when it does not exist, is a run with none yet, or
 * is a checkpoint of the tinker backend (a pointer to weights on a server, which these commands cannot load).
 */
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
  const { POINTER_FILE, readTinkerPointer } = await import('../policy/tinker/policy.js');
  if (existsSync(join(path, POINTER_FILE))) {
    const p = readTinkerPointer(path);
    throw new UsageError(
      `${path} is a checkpoint of the tinker backend (the weights are ${p.statePath} on the server, sampler ` +
        `${p.samplerPath}); this command loads built-in checkpoints only: evaluate during training with ` +
        '--eval-every, or sample the sampler path with a Tinker client',
    );
  }
  return path;
}

/**
 * The answer format a checkpoint is scored in: its run's (the config.json of the run directory holding it),
 * so that a model is asked and decoded as it was trained; outside a run, the default preset's.
 */
export async function checkpointFormat(
  checkpoint: string,
): Promise<{ format: AnswerFormat; source: string }> {
  const { answerFormatOf, PRESETS, readRunConfig } = await import('../run/config.js');
  let dir = statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    const file = join(dir, 'config.json');
    if (existsSync(join(dir, 'state.json')) && existsSync(file))
      return { format: answerFormatOf(readRunConfig(file)), source: file };
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
