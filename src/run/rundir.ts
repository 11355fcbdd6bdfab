// The run directory: everything a run writes, laid out so that a run killed at any instant resumes with
// every completed iteration intact.
//
//   config.json        resolved config (written once, at the start)
//   state.json         last committed iteration, loop RNG state, checkpoint name (write-then-rename)
//   metrics.jsonl      one record per iteration (append-only)
//   samples.jsonl      proposals and solutions with the model's text (append-only)
//   buffers/*.jsonl    verified tasks per task type (append-only, each line tagged with its iteration)
//   checkpoints/NAME/  model weights, optimizer state (written to a temporary name, then renamed)
//
// An iteration is committed when state.json names it. On resume, lines that belong to a later
// (uncommitted) iteration are dropped, so the redone iteration does not count twice.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const RunStateSchema = z.object({
  version: z.literal(1),
  /** Last iteration whose metrics, buffers and checkpoint are all on disk; 0 before the first. */
  iteration: z.number().int().nonnegative(),
  /** State of the loop's PRNG after that iteration. */
  rng: z.array(z.number().int()),
  /** Checkpoint directory name under checkpoints/, or null before the first checkpoint. */
  checkpoint: z.string().nullable(),
  /** Wall time spent in earlier sessions of this run, so --minutes counts the whole run. */
  elapsedS: z.number().nonnegative(),
  /** Records in each task buffer file at that iteration; later records are dropped on resume. */
  bufferSizes: z.record(z.string(), z.number().int().nonnegative()),
  /**
   * The seeding stage is over (its metrics line, iteration 0, is written). Absent in runs from before it
   * existed, which had none; while it runs, each round commits bufferSizes with iteration 0.
   */
  seeded: z.boolean().optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;

export class RunDir {
  constructor(readonly root: string) {}

  get configPath(): string {
    return join(this.root, 'config.json');
  }
  get statePath(): string {
    return join(this.root, 'state.json');
  }
  get metricsPath(): string {
    return join(this.root, 'metrics.jsonl');
  }
  /** The held-out scores measured after the last iteration (the loop logs them; this keeps them). */
  get finalEvalPath(): string {
    return join(this.root, 'final-eval.json');
  }
  get samplesPath(): string {
    return join(this.root, 'samples.jsonl');
  }
  get buffersDir(): string {
    return join(this.root, 'buffers');
  }
  get checkpointsDir(): string {
    return join(this.root, 'checkpoints');
  }
  checkpointPath(name: string): string {
    return join(this.checkpointsDir, name);
  }
  bufferPath(taskType: string): string {
    return join(this.buffersDir, `${taskType}.jsonl`);
  }

  create(): void {
    mkdirSync(this.buffersDir, { recursive: true });
    mkdirSync(this.checkpointsDir, { recursive: true });
  }

  readState(): RunState | null {
    let text: string;
    try {
      text = readFileSync(this.statePath, 'utf8');
    } catch {
      return null;
    }
    const r = RunStateSchema.safeParse(JSON.parse(text));
    if (!r.success) throw new Error(`${this.statePath} is not a run state: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  writeState(state: RunState): void {
    writeFileAtomic(this.statePath, `${JSON.stringify(state)}\n`);
  }
}

/** Write a file so that a reader sees either the old or the new content, never a torn one. */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
