// The answer grammar against a real llama.cpp server (llama-cpp-python's OpenAI-compatible server, built
// by python/setup_llama_server.sh) running SmolLM2-135M: llama.cpp's own GBNF parser takes every grammar
// the policy sends (a grammar it cannot parse kills that server), and completions sampled under it, on
// both APIs, parse. Skipped, saying how to get what is missing, without the server install or the model;
// AZR_REQUIRE_LLAMA_SERVER=1 makes their absence a failure.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AnswerShape, answerGrammar } from '../../src/grammar/answer-structure.js';
import { createOpenAIPolicy } from '../../src/policy/openai.js';
import type { GenerateRequest } from '../../src/policy/types.js';
import {
  identityTask,
  parseProposal,
  parseSolution,
  proposerPrompt,
  type Role,
  STRUCTURE_ONLY,
  solverPrompt,
  type TaskType,
} from '../../src/tasks/index.js';
import { DISTINCT_SHAPES } from '../grammar/answer-shapes.js';
import { realModel } from '../model/real-models.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const home = process.env.AZR_LLAMA_HOME || join(homedir(), '.cache', 'azr-llama-server');
const installed = existsSync(join(home, 'venv', 'bin', 'python')) && existsSync(join(home, '.recipe'));
const model = realModel('smollm2-135m');
const required = process.env.AZR_REQUIRE_LLAMA_SERVER === '1';
if (required && !installed) throw new Error(`AZR_REQUIRE_LLAMA_SERVER=1 but ${home} has no llama.cpp server`);
const skip = !installed
  ? `no llama.cpp server in ${home}: bash python/setup_llama_server.sh (about 15 minutes of building)`
  : model.skip;

let server: ChildProcess | undefined;
let baseUrl = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function alive(): Promise<boolean> {
  try {
    return (await fetch(`${baseUrl}/models`)).ok;
  } catch {
    return false;
  }
}

before(async () => {
  if (skip) return;
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}/v1`;
  server = spawn(
    'bash',
    [join(root, 'python', 'start_llama_server.sh'), String(port), model.path(), 'smol'],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  for (let i = 0; i < 300 && !(await alive()); i++) await new Promise((r) => setTimeout(r, 500));
  assert.ok(await alive(), 'the llama.cpp server did not come up');
});

after(() => {
  // The script execs the server, so this is the server's own process group.
  if (server?.pid) process.kill(-server.pid, 'SIGKILL');
});

test("llama.cpp's GBNF parser takes every answer grammar (each shape, each place an answer starts)", {
  skip,
}, async () => {
  for (const [type, role] of DISTINCT_SHAPES)
    for (const startsAt of ['think-text', 'think-tag', 'answer'] as const) {
      const shape: AnswerShape = { type, role, lang: 'python', inductionInputs: 4, startsAt };
      const r = await fetch(`${baseUrl}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'smol', prompt: 'Hi', max_tokens: 1, grammar: answerGrammar(shape) }),
      });
      assert.equal(r.status, 200, `${type}/${role}/${startsAt}: ${await r.text()}`);
    }
  assert.ok(await alive());
});

test('completions sampled under the grammar parse, on /v1/completions (bounded reasoning) and on chat', {
  skip,
}, async () => {
  const task = {
    ...identityTask('deduction', 'python'),
    program: 'def f(a):\n    return a * 2 + 1',
    input: '3',
    output: '7',
  };
  const constraint = (type: TaskType, role: Role) => ({
    style: 'reference' as const,
    type,
    role,
    lang: 'python' as const,
    inductionInputs: 4,
    returnOnly: STRUCTURE_ONLY.returnOnly,
    exprDepth: STRUCTURE_ONLY.exprDepth,
    shortInputs: STRUCTURE_ONLY.shortInputs,
    boolReturns: STRUCTURE_ONLY.boolReturns,
  });
  const requests: GenerateRequest[] = [
    {
      prompt: solverPrompt(task, { style: 'reference' }),
      n: 2,
      temperature: 1,
      topP: 1,
      maxTokens: 160,
      seed: 1,
      constraint: constraint('deduction', 'solver'),
    },
    {
      prompt: proposerPrompt('deduction', 'python', [task], { style: 'reference' }),
      n: 1,
      temperature: 1,
      topP: 1,
      maxTokens: 400,
      seed: 2,
      constraint: constraint('deduction', 'proposer'),
    },
  ];
  // A server's grammar cannot count tokens: an answer cut by max_tokens is unclosed whatever the grammar.
  // Every completion that ended by itself must parse, and chat turns start with the grammar's <think>.
  let ended = 0;
  for (const api of ['completions', 'chat'] as const) {
    const policy = createOpenAIPolicy({
      baseUrls: [baseUrl],
      model: 'smol',
      api,
      grammar: 'gbnf',
      timeoutMs: 1_800_000,
    });
    try {
      const [solved, proposed] = await policy.generate(requests);
      const all = [
        ...(solved ?? []).map((c) => ({
          c,
          ok: parseSolution('deduction', 'python', `<think>${c.text}`, 'reference').ok,
        })),
        ...(proposed ?? []).map((c) => ({
          c,
          ok: parseProposal('deduction', 'python', `<think>${c.text}`, 'reference').ok,
        })),
      ];
      for (const { c, ok } of all) {
        if (api === 'chat') assert.ok(c.text.startsWith('<think>'), JSON.stringify(c.text));
        if (c.finishReason === 'stop') {
          ended++;
          assert.ok(ok, `${api}: ${JSON.stringify(c.text)}`);
        }
      }
    } finally {
      await policy.close();
    }
  }
  assert.ok(ended > 0, 'no completion ended by itself');
});
