// `azr train`: Absolute Zero self-play on the built-in model.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConfigOverrides, readRunConfig, resolveConfig, type SelfPlayConfig } from '../run/config.js';
import type { TrainInvocation } from '../selfplay/train.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';

export const trainUsage = `usage: azr train [options]

  --preset NAME      tiny | default | long (default: default)
  --config FILE      JSON or YAML file overriding the preset
  --out DIR          run directory (default: runs/<time>)
  --seed N           seed of the whole run
  --iterations N     stop after N iterations
  --minutes N        stop after N minutes of wall time
  --lang LANG        python | javascript
  --resume DIR       continue a run exactly where it stopped (its own config is used)
  --eval-every N     run the held-out evaluation every N iterations (0: never)
  --init CHECKPOINT  start from a checkpoint's weights (an azr pretrain output) with a fresh optimizer;
                     none: random weights (the default); the run records the file's SHA-256
`;

/** Turn argv into a validated config and run directory; throws UsageError/ConfigError with a reason. */
export function parseTrainArgs(argv: string[], now = new Date()): TrainInvocation {
  const { values } = parseFlags(argv, {
    preset: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    iterations: { type: 'string' },
    minutes: { type: 'string' },
    lang: { type: 'string' },
    resume: { type: 'string' },
    'eval-every': { type: 'string' },
    init: { type: 'string' },
  });
  const resumeDir = stringFlag(values, 'resume');
  if (resumeDir !== undefined) {
    for (const flag of ['preset', 'config', 'out', 'seed', 'lang', 'init']) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `--${flag} cannot be combined with --resume (a resumed run keeps its own config)`,
        );
      }
    }
    const path = join(resumeDir, 'config.json');
    if (!existsSync(path))
      throw new UsageError(`--resume ${resumeDir}: no config.json there; is it a run directory?`);
    let config = readRunConfig(path);
    // A resumed run may be given a new budget: more iterations or minutes than it first had.
    const iterations = intFlag(values, 'iterations', 1);
    const minutes = numberFlag(values, 'minutes');
    if (iterations !== undefined) config = { ...config, iterations };
    if (minutes !== undefined) config = { ...config, minutes };
    return { config, outDir: resumeDir, resume: true };
  }

  const lang = stringFlag(values, 'lang');
  if (lang !== undefined && lang !== 'python' && lang !== 'javascript') {
    throw new UsageError(`--lang takes python or javascript, got '${lang}'`);
  }
  const overrides: ConfigOverrides = {};
  const seed = intFlag(values, 'seed', 0, 2 ** 31 - 1);
  if (seed !== undefined) overrides.seed = seed;
  const iterations = intFlag(values, 'iterations', 1);
  const minutes = numberFlag(values, 'minutes');
  // Naming one budget on the command line replaces the preset's budget rather than adding to it.
  if (iterations !== undefined) {
    overrides.iterations = iterations;
    if (minutes === undefined) overrides.minutes = null;
  }
  if (minutes !== undefined) {
    overrides.minutes = minutes;
    if (iterations === undefined) overrides.iterations = null;
  }
  if (lang !== undefined) overrides.lang = lang;
  const evalEvery = intFlag(values, 'eval-every', 0);
  if (evalEvery !== undefined) overrides.evalEvery = evalEvery === 0 ? null : evalEvery;
  const init = stringFlag(values, 'init');
  if (init !== undefined) overrides.model = { init: init === 'none' ? null : init };
  const config = withBaseHash(
    resolveConfig({
      preset: stringFlag(values, 'preset'),
      file: stringFlag(values, 'config'),
      overrides,
    }),
  );
  const stamp = now.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return { config, outDir: stringFlag(values, 'out') ?? join('runs', stamp), resume: false };
}

/**
 * A run that starts from a base records the SHA-256 of the base's weights file, so config.json says exactly
 * which weights it began with.
 */
function withBaseHash(config: SelfPlayConfig): SelfPlayConfig {
  const init = config.model.init;
  if (init === null) return { ...config, model: { ...config.model, initSha256: null } };
  const file = init.endsWith('.safetensors') ? init : join(init, 'model.safetensors');
  if (!existsSync(file))
    throw new UsageError(`--init ${init}: no ${file}; give an azr pretrain output or a checkpoint`);
  const initSha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { ...config, model: { ...config.model, initSha256 } };
}

/** `azr train`: returns the exit code. */
export async function trainCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(trainUsage);
    return 0;
  }
  const { runTraining } = await import('../selfplay/train.js');
  let invocation: TrainInvocation;
  try {
    invocation = parseTrainArgs(argv);
  } catch (e) {
    process.stderr.write(`azr train: ${(e as Error).message}\n${e instanceof UsageError ? trainUsage : ''}`);
    return 2;
  }
  return runTraining(invocation);
}
