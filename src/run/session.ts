// Opening a run directory for a new run or a resumed one. A new run refuses a directory that already
// holds a run (so nothing is overwritten by accident); a resumed run drops whatever an iteration that
// never committed left behind, so the redone iteration writes its lines exactly once.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { truncateJsonl } from '../util/jsonl.js';
import { Rng } from '../util/rng.js';
import type { SelfPlayConfig } from './config.js';
import { RunDir, type RunState, writeFileAtomic } from './rundir.js';

export interface Session {
  dir: RunDir;
  config: SelfPlayConfig;
  state: RunState;
  resumed: boolean;
}

export class SessionError extends Error {
  override name = 'SessionError';
}

export function initialState(config: SelfPlayConfig): RunState {
  return {
    version: 1,
    iteration: 0,
    rng: new Rng(config.seed).state(),
    checkpoint: null,
    elapsedS: 0,
    bufferSizes: {},
  };
}

export function openSession(root: string, config: SelfPlayConfig, resume: boolean): Session {
  const dir = new RunDir(root);
  if (!resume) {
    if (existsSync(dir.configPath) || existsSync(dir.statePath)) {
      throw new SessionError(
        `${root} already holds a run; continue it with --resume ${root} or choose another --out`,
      );
    }
    dir.create();
    writeFileAtomic(dir.configPath, `${JSON.stringify(config, null, 2)}\n`);
    const state = initialState(config);
    dir.writeState(state);
    return { dir, config, state, resumed: false };
  }
  dir.create();
  const state = dir.readState() ?? initialState(config);
  const committed = (r: { iteration?: unknown }) =>
    typeof r.iteration === 'number' && r.iteration <= state.iteration;
  truncateJsonl(dir.metricsPath, committed);
  truncateJsonl(dir.samplesPath, committed);
  removeStaleCheckpoints(dir, state.checkpoint);
  return { dir, config, state, resumed: true };
}

/** Checkpoints other than the committed one are leftovers of a save that a kill interrupted. */
export function removeStaleCheckpoints(dir: RunDir, keep: string | null): void {
  if (!existsSync(dir.checkpointsDir)) return;
  for (const name of readdirSync(dir.checkpointsDir)) {
    if (name !== keep) rmSync(dir.checkpointPath(name), { recursive: true, force: true });
  }
}
