// `azr serve CHECKPOINT`: the built-in model, or a pretrained one, behind the OpenAI-compatible API until
// Ctrl-C. A pretrained model's chat completions render through its own chat template.
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import {
  type CheckpointTarget,
  describeCheckpoint,
  openCheckpoint,
  resolveCheckpoint,
} from './checkpoint-arg.js';

export const serveUsage = `usage: azr serve CHECKPOINT [--port N] [--host ADDR] [--model NAME] [--threads N] [--context N]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint);
               or a pretrained model: a GGUF file, a Hugging Face folder, or a name \`azr pull\` fetched
  --context    a pretrained model's context in tokens (default 2048, at most the model's)
  --port       port to listen on (default 8000; 0 picks a free one)
  --host       address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --model      the model name clients send (default azr)
  --threads    ONNX Runtime threads (default 2)

Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (streaming with stream: true).
A request whose prompt tokens plus max_tokens exceed the model's context gets 400, as from vLLM; send
truncate_prompt_tokens: K to keep only the last K prompt tokens instead.
`;

/**
 * Messages through a tokenizer's chat template, ready for the assistant's reply; a conversation that ends
 * with an assistant message is continued from its text (rendered with a marker in its place, then cut
 * there, so whatever the template puts after a finished turn is left out).
 */
function templateChat(
  tok: {
    applyChatTemplate(m: { role: string; content: string }[], o?: { addGenerationPrompt?: boolean }): string;
  },
  messages: readonly { role: string; content: string }[],
): string {
  const plain = messages.map((m) => ({ role: m.role, content: m.content }));
  const last = plain[plain.length - 1];
  if (last?.role !== 'assistant') return tok.applyChatTemplate(plain, { addGenerationPrompt: true });
  const marker = '\u0000azr-continue\u0000';
  const text = tok.applyChatTemplate([...plain.slice(0, -1), { role: 'assistant', content: marker }], {
    addGenerationPrompt: false,
  });
  const at = text.indexOf(marker);
  if (at < 0) throw new Error('the chat template dropped the assistant message it was given');
  return text.slice(0, at) + last.content;
}

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(serveUsage);
    return 0;
  }
  let arg: string;
  let target: CheckpointTarget;
  let context: number | undefined;
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
        context: { type: 'string' },
      },
      true,
    );
    if (p.positionals.length !== 1) throw new UsageError('give one CHECKPOINT');
    arg = p.positionals[0] as string;
    context = intFlag(p.values, 'context', 16, 131072);
    port = intFlag(p.values, 'port', 0, 65535) ?? 8000;
    host = stringFlag(p.values, 'host') ?? '127.0.0.1';
    model = stringFlag(p.values, 'model') ?? 'azr';
    if (model.trim() === '') throw new UsageError('--model takes a non-empty name');
    threads = intFlag(p.values, 'threads', 1, 64) ?? 2;
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n${serveUsage}`);
    return 2;
  }
  let policy: Awaited<ReturnType<typeof openCheckpoint>>;
  try {
    target = await resolveCheckpoint(arg);
    // Completions take prompts as they are; chat completions render through the template below.
    policy = await openCheckpoint(target, {
      threads,
      chat: false,
      ...(context ? { contextLength: context } : {}),
    });
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n`);
    return 2;
  }
  const [{ tokenText }, { createServer }] = await Promise.all([
    import('../model/tokenizer.js'),
    import('../serve/server.js'),
  ]);
  const tok = policy.codec.tokenizer;
  const builtin = target.kind === 'builtin';
  const handle = createServer(policy, {
    model,
    tokenText: builtin ? tokenText : (id) => tok.decode([id]),
    tokenBytes: (id) => [...tok.tokenBytes(id)],
    countPromptTokens: (p) => policy.codec.promptTokens(p).length,
    contextLength: policy.engine.config.contextLength,
    ...(builtin ? {} : { renderChat: (messages) => templateChat(tok, messages) }),
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
    `serving ${describeCheckpoint(target)} as model '${model}' at ${url} (context ${policy.engine.config.contextLength} tokens; Ctrl-C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await handle.close();
  await policy.close();
  return 0;
}
