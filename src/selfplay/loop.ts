// The self-play loop's outer shell: budget, commits, checkpoints, evaluation, stopping. What happens
// inside one iteration (propose, validate, solve, reward, update) lives in iteration.ts.
//
// Commit protocol. An iteration's lines go to the append-only files first (buffers, samples, metrics);
// then, on checkpoint iterations, the policy is saved under a fresh name; then state.json is replaced
// atomically to name that iteration, its RNG state, buffer sizes and checkpoint. A kill anywhere before
// that rename leaves the previous commit in force, and resume truncates the later lines. Everything is
// seeded, so the redone iterations write the same lines again.
import { rmSync } from 'node:fs';
import type { Policy } from '../policy/types.js';
import type { EvalScores, FinalEval } from '../run/metrics.js';
import { writeFileAtomic } from '../run/rundir.js';
import type { Session } from '../run/session.js';
import { Rng } from '../util/rng.js';

export interface LoopDeps {
  policy: Policy;
  /** Runs one iteration; the loop owns everything around it. */
  iterate: IterationRunner;
  /** Held-out evaluation of the current policy; absent: no evaluation during training. */
  evaluate?: (policy: Policy) => Promise<EvalScores>;
  /** One line of progress per iteration (and a few lifecycle lines). */
  log?: (line: string) => void;
  /** Aborting stops the loop after the iteration in flight, which is then committed with a checkpoint. */
  signal?: AbortSignal;
  now?: () => number;
}

export interface IterationContext {
  iteration: number;
  rng: Rng;
  /** Held-out scores measured at the start of this iteration, if an evaluation ran. */
  eval?: EvalScores;
  elapsedS: number;
}

/** What the loop needs back from one iteration to commit it. */
export interface IterationOutcome {
  /** Records per buffer file after the iteration's new tasks were appended. */
  bufferSizes: Record<string, number>;
  /** The one-line summary for the terminal. */
  progressLine: string;
}

export type IterationRunner = (ctx: IterationContext) => Promise<IterationOutcome>;

export interface LoopResult {
  /** Last committed iteration. */
  iteration: number;
  stoppedBy: 'iterations' | 'minutes' | 'signal';
  elapsedS: number;
}

export async function runSelfPlay(session: Session, deps: LoopDeps): Promise<LoopResult> {
  const { config } = session;
  const now = deps.now ?? (() => performance.now());
  const log = deps.log ?? (() => {});
  const started = now();
  const priorS = session.state.elapsedS; // wall time of earlier sessions of this run
  const elapsed = () => priorS + (now() - started) / 1000;
  const rng = new Rng(session.state.rng as [number, number, number, number]);
  let stoppedBy: LoopResult['stoppedBy'] | null = null;

  for (let iteration = session.state.iteration + 1; ; iteration++) {
    if (deps.signal?.aborted) stoppedBy = 'signal';
    else if (config.iterations !== null && iteration > config.iterations) stoppedBy = 'iterations';
    else if (config.minutes !== null && elapsed() >= config.minutes * 60) stoppedBy = 'minutes';
    if (stoppedBy) break;

    let evalScores: EvalScores | undefined;
    const evalDue =
      deps.evaluate &&
      config.evalEvery !== null &&
      (iteration === 1 || (iteration - 1) % config.evalEvery === 0);
    if (evalDue && deps.evaluate) {
      evalScores = await deps.evaluate(deps.policy);
      log(`eval before iteration ${iteration}: ${formatScores(evalScores)}`);
    }

    const outcome = await deps.iterate({ iteration, rng, eval: evalScores, elapsedS: elapsed() });
    log(outcome.progressLine);

    const last =
      deps.signal?.aborted ||
      (config.iterations !== null && iteration >= config.iterations) ||
      (config.minutes !== null && elapsed() >= config.minutes * 60);
    if (iteration % config.checkpointEvery === 0 || last) {
      await commit(session, deps.policy, iteration, rng, outcome.bufferSizes, elapsed());
    }
  }

  if (deps.evaluate && config.evalEvery !== null) {
    const final = await deps.evaluate(deps.policy);
    log(`eval after iteration ${session.state.iteration}: ${formatScores(final)}`);
    const record: FinalEval = { afterIteration: session.state.iteration, eval: final };
    writeFileAtomic(session.dir.finalEvalPath, `${JSON.stringify(record)}\n`);
  }
  return { iteration: session.state.iteration, stoppedBy, elapsedS: elapsed() };
}

async function commit(
  session: Session,
  policy: Policy,
  iteration: number,
  rng: Rng,
  bufferSizes: Record<string, number>,
  elapsedS: number,
): Promise<void> {
  const { dir } = session;
  const previous = session.state.checkpoint;
  let checkpoint = previous;
  if (policy.save) {
    checkpoint = `iter-${String(iteration).padStart(6, '0')}`;
    const path = dir.checkpointPath(checkpoint);
    rmSync(path, { recursive: true, force: true });
    await policy.save(path);
  }
  session.state = {
    version: 1,
    iteration,
    rng: rng.state(),
    checkpoint,
    elapsedS,
    bufferSizes,
  };
  dir.writeState(session.state);
  if (previous && previous !== checkpoint) {
    rmSync(dir.checkpointPath(previous), { recursive: true, force: true });
  }
}

export function formatScores(s: EvalScores): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `deduction ${pct(s.deduction)}  abduction ${pct(s.abduction)}  induction ${pct(s.induction)}  mean ${pct(s.mean)}`;
}
