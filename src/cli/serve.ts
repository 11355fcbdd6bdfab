// `azr serve CHECKPOINT`: the built-in model, a pretrained one, or a tinker run's saved weights sampled
// through the Tinker API, behind the OpenAI-compatible API until Ctrl-C. A pretrained model's chat
// completions render through its own chat template.
import type { TextTokenizer } from '../model/text-tokenizer.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import {
  type CheckpointPolicy,
  type CheckpointTarget,
  describeCheckpoint,
  openCheckpoint,
  resolveCheckpoint,
  TINKER_URL_FLAG,
  tinkerUrlUsage,
} from './checkpoint-arg.js';

export const serveUsage = `usage: azr serve CHECKPOINT [--port N] [--host ADDR] [--model NAME] [--threads N] [--context N]
                   [--tinker-url URL]

  CHECKPOINT   a checkpoint directory, its model.safetensors, or a run directory (its latest checkpoint);
               or a pretrained model: a GGUF file, a Hugging Face folder, or a name \`azr pull\` fetched;
               a run on the tinker backend is served from its saved weights, through the Tinker sampling API
  --context    a pretrained model's context in tokens (default 2048, at most the model's)
  --port       port to listen on (default 8000; 0 picks a free one)
  --host       address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --model      the model name clients send (default azr)
  --threads    ONNX Runtime threads (default 2)
${tinkerUrlUsage(15)}

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

/** How the server reads the opened checkpoint's text, and the context it bounds requests by. */
function servedText(
  target: CheckpointTarget,
  policy: CheckpointPolicy,
): { tokenizer: TextTokenizer; promptTokens: (prompt: string) => number[]; contextLength: number } {
  if ('codec' in policy)
    return {
      tokenizer: policy.codec.tokenizer,
      promptTokens: (p) => policy.codec.promptTokens(p),
      contextLength: policy.engine.config.contextLength,
    };
  if (target.kind !== 'tinker') throw new Error(`${target.kind} checkpoint opened as a Tinker sampler`);
  // A tinker run's prompts are its tokenizer's plain encoding (as it sampled them), within the run's context.
  return {
    tokenizer: policy.tokenizer,
    promptTokens: (p) => policy.tokenizer.encode(p),
    contextLength: target.config.model.contextLength,
  };
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
  let tinkerUrl: string | undefined;
  try {
    const p = parseFlags(
      argv,
      {
        port: { type: 'string' },
        host: { type: 'string' },
        model: { type: 'string' },
        threads: { type: 'string' },
        context: { type: 'string' },
        ...TINKER_URL_FLAG,
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
    tinkerUrl = stringFlag(p.values, 'tinker-url');
  } catch (e) {
    process.stderr.write(`azr serve: ${(e as Error).message}\n${serveUsage}`);
    return 2;
  }
  let policy: Awaited<ReturnType<typeof openCheckpoint>>;
  try {
    target = await resolveCheckpoint(arg, tinkerUrl === undefined ? {} : { tinkerUrl });
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
  const { tokenizer: tok, promptTokens, contextLength } = servedText(target, policy);
  const builtin = target.kind === 'builtin';
  // A tinker run trained on the loop's plain-text prompts: its chats are rendered as the built-in model's.
  const templated = target.kind === 'pretrained' || target.kind === 'adapter';
  const handle = createServer(policy, {
    model,
    tokenText: builtin ? tokenText : (id) => tok.decode([id]),
    tokenBytes: (id) => [...tok.tokenBytes(id)],
    countPromptTokens: (p) => promptTokens(p).length,
    contextLength,
    ...(templated ? { renderChat: (messages) => templateChat(tok, messages) } : {}),
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
    `serving ${describeCheckpoint(target)} as model '${model}' at ${url} (context ${contextLength} tokens; Ctrl-C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await handle.close();
  await policy.close();
  return 0;
}
