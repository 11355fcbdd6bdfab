// `azr serve CHECKPOINT`: the built-in model behind the OpenAI-compatible API until Ctrl-C.
import { existsSync } from 'node:fs';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { resolveCheckpoint } from './checkpoint-arg.js';

export const serveUsage = `usage: azr serve CHECKPOINT [--port N] [--host ADDR] [--model NAME] [--threads N]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint)
  --port       port to listen on (default 8000; 0 picks a free one)
  --host       address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --model      the model name clients send (default azr)
  --threads    ONNX Runtime threads (default 2)

Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (streaming with stream: true).
A request whose prompt tokens plus max_tokens exceed the model's context gets 400, as from vLLM; send
truncate_prompt_tokens: K to keep only the last K prompt tokens instead.
`;

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serveUsage);
    return 0;
  }
  let target: string;
  let port: number;
  let host: string;
  let model: string;
  let threads: number;
  try {
    const p = parseFlags(
      argv,
      {
        port: { type: 'string' },
        host: { type: 'string' },
        model: { type: 'string' },
        threads: { type: 'string' },
      },
      true,
    );
    if (p.positionals.length !== 1) throw new UsageError('give one CHECKPOINT');
    target = p.positionals[0] as string;
    if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
    port = intFlag(p.values, 'port', 0, 65535) ?? 8000;
    host = stringFlag(p.values, 'host') ?? '127.0.0.1';
    model = stringFlag(p.values, 'model') ?? 'azr';
    if (model.trim() === '') throw new UsageError('--model takes a non-empty name');
    threads = intFlag(p.values, 'threads', 1, 64) ?? 2;
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n${serveUsage}`);
    return 2;
  }
  try {
    target = await resolveCheckpoint(target);
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n`);
    return 2;
  }
  const [{ loadBuiltinPolicy, promptTokens }, { tokenText }, { createServer }, { builtinTokenBytes }] =
    await Promise.all([
      import('../policy/builtin.js'),
      import('../model/tokenizer.js'),
      import('../serve/server.js'),
      import('../serve/token-bytes.js'),
    ]);
  // Inference only: no update will need the sampling masks, so none are recorded.
  const policy = await loadBuiltinPolicy(target, { threads, trainUnderMask: false });
  const handle = createServer(policy, {
    model,
    tokenText,
    tokenBytes: builtinTokenBytes,
    countPromptTokens: (p) => promptTokens(p).length,
    contextLength: policy.engine.config.contextLength,
  });
  let url: string;
  try {
    url = await handle.listen(port, host);
  } catch (e) {
    await policy.close();
    process.stderr.write(`azr serve: cannot listen on ${host}:${port}: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `serving ${target} as model '${model}' at ${url} (context ${policy.engine.config.contextLength} tokens; Ctrl-C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await handle.close();
  await policy.close();
  return 0;
}
