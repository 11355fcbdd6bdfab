// Where tests find the real models `azr pull NAME` writes: <models>/<NAME>.gguf, <models> being $AZR_MODELS
// if set, else models/ under the current directory. A test that needs one is skipped, with a message that
// says how to get it, when it is absent; with AZR_REQUIRE_REAL_MODELS=1 (CI sets it after pulling) an
// absent model is an error instead.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type RealModelName = 'smollm2-135m' | 'qwen2.5-coder-0.5b';

export function modelsDir(): string {
  return resolve(process.env.AZR_MODELS || 'models');
}

/**
 * Where a pulled model's GGUF is, and `skip`: false when it is there, else the message for node:test's
 * `skip` option (`test(title, { skip: model.skip }, ...)`).
 */
export function realModel(name: RealModelName): { path: string; skip: string | false } {
  const path = join(modelsDir(), `${name}.gguf`);
  if (existsSync(path)) return { path, skip: false };
  const how = `npx azr pull ${name} (or set AZR_MODELS to a folder that has ${name}.gguf)`;
  if (process.env.AZR_REQUIRE_REAL_MODELS === '1')
    throw new Error(`${path} is missing and AZR_REQUIRE_REAL_MODELS=1: ${how}`);
  return { path, skip: `no ${path}: ${how}` };
}
