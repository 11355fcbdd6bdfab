// `azr serve CHECKPOINT` as a process (the real `azr` in a child): it
// prints its URL, answers the API, and stops on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tinyBuiltinPolicy } from './tiny-model.js';

const AZR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'azr-serve-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('azr serve CHECKPOINT serves the checkpoint on a free port until SIGTERM', async () => {
  const model = await tinyBuiltinPolicy(128);
  const ckpt = join(dir, 'ckpt');
  await model.save(ckpt);
  await model.close();
  const child = spawn(
    process.execPath,
    [AZR, 'serve', ckpt, '--port', '0', '--model', 'mine', '--threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.match(out, /as model 'mine'.*context 128 tokens/);
    const models = (await (await fetch(`${url}/models`)).json()) as {
      data: { id: string; max_model_len: number }[];
    };
    assert.equal(models.data[0]?.id, 'mine');
    assert.equal(models.data[0]?.max_model_len, 128);
    // The checkpoint's context is enforced: 7 prompt tokens + 122 do not fit in 128.
    const over = await fetch(`${url}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mine', prompt: 'def f(', max_tokens: 122 }),
    });
    assert.equal(over.status, 400);
    assert.match(
      ((await over.json()) as { error: { message: string } }).error.message,
      /maximum context length is 128 tokens\. However, you requested 129 tokens \(7 in the prompt, 122 in the completion\)/,
    );
    const res = await fetch(`${url}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mine', prompt: 'def f(', n: 2, max_tokens: 4, seed: 1 }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { choices: unknown[] }).choices.length, 2);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('azr serve refuses a missing checkpoint with usage', async () => {
  const { serveCommand } = await import('../../src/cli/serve.js');
  const err = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((c: string | Uint8Array) => {
    text += c.toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await serveCommand([join(dir, 'nope')]);
  } finally {
    process.stderr.write = err;
  }
  assert.equal(code, 2);
  assert.match(text, /does not exist/);
});
