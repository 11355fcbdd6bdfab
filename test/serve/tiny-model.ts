// Test helper: the built-in policy with the tiny preset and random weights (seeded), served over HTTP by
// the real `azr serve` server on an ephemeral localhost port.

import { tokenText } from '../../src/model/tokenizer.js';
import {
  type BuiltinPolicy,
  createBuiltinPolicy,
  modelConfigFor,
  promptTokens,
} from '../../src/policy/builtin.js';
import type { Policy } from '../../src/policy/types.js';
import { createServer, type ServeHandle } from '../../src/serve/server.js';
import { builtinTokenBytes } from '../../src/serve/token-bytes.js';

const optimizer = {
  learningRate: 1e-3,
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1,
  beta1: 0.9,
  beta2: 0.99,
};

export function tinyBuiltinPolicy(contextLength = 256, seed = 1): Promise<BuiltinPolicy> {
  return createBuiltinPolicy(modelConfigFor('tiny', contextLength), { seed, optimizer }, { threads: 1 });
}

export interface Served {
  url: string;
  handle: ServeHandle;
}

/** Serves `policy` as `azr serve` does; a built-in policy's context length is enforced as there. */
export async function serve(policy: Policy, model = 'tiny'): Promise<Served> {
  const handle = createServer(policy, {
    model,
    tokenText,
    tokenBytes: builtinTokenBytes,
    countPromptTokens: (p) => promptTokens(p).length,
    ...('engine' in policy ? { contextLength: (policy as BuiltinPolicy).engine.config.contextLength } : {}),
  });
  const url = await handle.listen(0);
  return { url, handle };
}
