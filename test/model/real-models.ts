// Real pretrained models for tests: `<models>/<NAME>.gguf`, where <models> is $AZR_MODELS or models/
// under the current directory (where `npx azr pull NAME` puts them). A test that needs one is skipped,
// with the command that gets it, when it is absent; with AZR_REQUIRE_REAL_MODELS=1 (CI sets it after
// pulling) it fails instead. Self-contained, so tests in any area can import it.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type RealModelName = 'smollm2-135m' | 'qwen2.5-coder-0.5b' | 'qwen2.5-coder-1.5b';

export interface RealModel {
  name: RealModelName;
  /** For node:test's `skip` option: a reason when the model is absent and not required, else false. */
  skip: string | false;
  /** The GGUF's path; throws, naming the pull command, when it is absent (only reached when required). */
  path(): string;
}

export function realModel(name: RealModelName): RealModel {
  const file = join(resolve(process.env.AZR_MODELS || 'models'), `${name}.gguf`);
  const present = existsSync(file);
  const how = `\`npx azr pull ${name}\` (or set AZR_MODELS to a folder that holds ${name}.gguf)`;
  const required = process.env.AZR_REQUIRE_REAL_MODELS === '1';
  return {
    name,
    skip: present || required ? false : `${file} is absent: get it with ${how}`,
    path() {
      if (!present) throw new Error(`AZR_REQUIRE_REAL_MODELS=1 but ${file} is absent: get it with ${how}`);
      return file;
    },
  };
}
