// `azr export RUN --merged DIR`: a run of a pretrained model as a plain Hugging Face folder, its LoRA
// adapters merged into the base's weights, for tools that serve a model folder (vLLM, transformers,
// llama.cpp's converter). A pretrained model (a GGUF, a pulled name) exports as it is: the same folder
// without adapters. The adapters alone are already in PEFT's format in each checkpoint.
import { parseFlags, stringFlag, UsageError } from './args.js';

export const exportUsage = `usage: azr export CHECKPOINT --merged DIR

  CHECKPOINT  a run of a pretrained model (its latest checkpoint), one of its checkpoint directories,
              or a pretrained model (a GGUF file, a Hugging Face folder, a name azr pull fetched)
  --merged DIR
              write a Hugging Face folder: config.json, model.safetensors (float32, the adapters merged
              into the weights they adapt) and the tokenizer (tokenizer.json, tokenizer_config.json with
              the chat template). DIR must not exist.
`;

export async function exportCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(exportUsage);
    return 0;
  }
  let checkpoint: string;
  let out: string;
  try {
    const { values, positionals } = parseFlags(argv, { merged: { type: 'string' } }, true);
    if (positionals.length !== 1) throw new UsageError('give one CHECKPOINT');
    checkpoint = positionals[0] as string;
    const merged = stringFlag(values, 'merged');
    if (merged === undefined) throw new UsageError('--merged DIR is required');
    out = merged;
  } catch (e) {
    process.stderr.write(
      `azr export: ${(e as Error).message}\n${e instanceof UsageError ? exportUsage : ''}`,
    );
    return 2;
  }
  const [
    { describeCheckpoint, resolveCheckpoint },
    { openPretrained },
    { writeMergedFolder },
    { readPeftAdapter },
    { llamaConfigOf },
  ] = await Promise.all([
    import('./checkpoint-arg.js'),
    import('../model/resolve-model.js'),
    import('../model/merged-export.js'),
    import('../model/peft.js'),
    import('../model/pretrained-engine.js'),
  ]);
  try {
    const target = await resolveCheckpoint(checkpoint);
    if (target.kind === 'builtin')
      throw new UsageError(
        `${target.path} is a checkpoint of the built-in GPT, which no other tool runs; export takes a run of a pretrained model`,
      );
    if (target.kind === 'tinker')
      throw new UsageError(
        `${target.path} is a checkpoint of the tinker backend: its weights are on the server (${target.pointer.statePath}); download them with the server's own tools`,
      );
    const base = openPretrained(target.kind === 'adapter' ? target.base : target.model);
    const adapters =
      target.kind === 'adapter' ? readPeftAdapter(target.path, llamaConfigOf(base.spec)) : null;
    process.stderr.write(`azr export: ${describeCheckpoint(target)}, float32, into ${out}\n`);
    const r = writeMergedFolder(base, adapters, out);
    process.stdout.write(
      `${JSON.stringify({ dir: r.dir, tensors: r.tensors, merged: r.merged, architecture: base.spec.architecture })}\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`azr export: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
