// The CHECKPOINT argument of `azr eval`, `azr serve` and `azr eval --bench cruxeval --policy builtin`:
// a checkpoint directory, its model.safetensors, or a run directory, which stands for the checkpoint its
// last committed iteration names.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';

/** The checkpoint `target` names; a UsageError when it does not exist or is a run with none yet. */
export async function resolveCheckpoint(target: string): Promise<string> {
  if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
  if (!(statSync(target).isDirectory() && existsSync(join(target, 'state.json')))) return target;
  const { RunDir } = await import('../run/rundir.js');
  const run = new RunDir(target);
  const ckpt = run.readState()?.checkpoint;
  if (!ckpt) throw new UsageError(`${target} has no checkpoint yet`);
  return run.checkpointPath(ckpt);
}
