// `azr serve CHECKPOINT`: the built-in model, or a tinker run's saved weights sampled through the Tinker
// API, behind the OpenAI-compatible API until Ctrl-C.
import { existsSync } from 'node:fs';
import type { Policy } from '../policy/types.js';
import type { ServeOptions } from '../serve/server.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { resolveCheckpoint } from './checkpoint-arg.js';
import {
  openTinkerCheckpoint,
  TINKER_URL_FLAG,
  type TinkerCheckpoint,
  tinkerCheckpointOf,
  tinkerUrlUsage,
} from './tinker-checkpoint.js';

export const serveUsage = `usage: azr serve CHECKPOINT [--port N] [--host ADDR] [--model NAME] [--threads N] [--tinker-url URL]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint);
               a run on the tinker backend is served from its saved weights, through the Tinker sampling API
  --port       port to listen on (default 8000; 0 picks a free one)
  --host       address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --model      the model name clients send (default azr)
  --threads    ONNX Runtime threads (default 2)
${tinkerUrlUsage(15)}

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
  let values: Record<string, unknown>;
  try {
    const p = parseFlags(
      argv,
      {
        port: { type: 'string' },
        host: { type: 'string' },
        model: { type: 'string' },
        threads: { type: 'string' },
        ...TINKER_URL_FLAG,
      },
      true,
    );
    values = p.values;
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
  let tinker: TinkerCheckpoint | undefined;
  try {
    target = await resolveCheckpoint(target);
    tinker = await tinkerCheckpointOf(target, values);
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n`);
    return 2;
  }
  const { createServer } = await import('../serve/server.js');
  const { policy, options } = tinker ? await tinkerServed(tinker) : await builtinServed(target, threads);
  const handle = createServer(policy, { model, ...options });
  let url: string;
  try {
    url = await handle.listen(port, host);
  } catch (e) {
    await policy.close();
    process.stderr.write(`azr serve: cannot listen on ${host}:${port}: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `serving ${target} as model '${model}' at ${url} (context ${options.contextLength} tokens; Ctrl-C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await handle.close();
  await policy.close();
  return 0;
}

/** What is served: the policy, and how the server counts and names its tokens. */
interface Served {
  policy: Policy;
  options: ServeOptions & { contextLength: number };
}

/** The built-in model at `checkpoint`, with its tokens' text and bytes and its context. */
async function builtinServed(checkpoint: string, threads: number): Promise<Served> {
  const [{ loadBuiltinPolicy, promptTokens }, { tokenText }, { builtinTokenBytes }] = await Promise.all([
    import('../policy/builtin.js'),
    import('../model/tokenizer.js'),
    import('../serve/token-bytes.js'),
  ]);
  // Inference only: no update will need the sampling masks, so none are recorded.
  const policy = await loadBuiltinPolicy(checkpoint, { threads, trainUnderMask: false });
  return {
    policy,
    options: {
      tokenText,
      tokenBytes: builtinTokenBytes,
      countPromptTokens: (p) => promptTokens(p).length,
      contextLength: policy.engine.config.contextLength,
    },
  };
}

/**
 * A tinker run's saved weights, sampled on its server. Prompts are counted with the model's tokenizer and
 * bounded by the run's context; a token's text is its decoding alone (no byte-level `bytes` yet).
 */
async function tinkerServed(c: TinkerCheckpoint): Promise<Served> {
  const policy = await openTinkerCheckpoint(c, (line) => process.stdout.write(`${line}\n`));
  const tok = policy.tokenizer;
  return {
    policy,
    options: {
      tokenText: (id) => tok.decode([id]),
      countPromptTokens: (p) => tok.encode(p).length,
      contextLength: c.contextLength,
    },
  };
}
