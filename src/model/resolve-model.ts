// What a model argument names: a GGUF file, a Hugging Face folder, or the name of a model `azr pull`
// fetched into the models folder. Nothing here downloads: a pullable model that is not there yet is an
// error that gives the command to fetch it.
import { existsSync, statSync } from 'node:fs';
import { openGgufCheckpoint } from './gguf-checkpoint.js';
import { isHfFolder, openHfFolder } from './hf-folder.js';
import type { PretrainedCheckpoint } from './pretrained.js';
import { modelsFolder, PULLABLE_MODELS, pullableModel, pulledModelFiles } from './pullable-models.js';

export interface ResolvedModel {
  kind: 'gguf' | 'hf-folder';
  path: string;
  /** The pulled model's name when the argument was one. */
  pulled?: string;
}

/** Resolves a model argument; the error says what was looked for and, for a pullable name, how to get it. */
export function resolveModel(arg: string, folder = modelsFolder()): ResolvedModel {
  if (existsSync(arg)) {
    if (statSync(arg).isDirectory()) {
      if (isHfFolder(arg)) return { kind: 'hf-folder', path: arg };
      throw new Error(
        `${arg} is a folder but not a Hugging Face model (config.json with model.safetensors or its index)`,
      );
    }
    return { kind: 'gguf', path: arg };
  }
  const model = pullableModel(arg);
  if (model) {
    const { gguf } = pulledModelFiles(model.name, folder);
    if (existsSync(gguf)) return { kind: 'gguf', path: gguf, pulled: model.name };
    throw new Error(`model ${arg} is not in ${folder}: fetch it with \`npx azr pull ${arg}\``);
  }
  throw new Error(
    `${arg} is neither a file, a folder, nor a pullable model (${PULLABLE_MODELS.map((m) => m.name).join(', ')})`,
  );
}

/**
 * True when `arg` names a pretrained model on its face: a .gguf file, a Hugging Face folder, or a name of
 * the pullable table (present or not). An absent path, or a folder of another kind (a run, a checkpoint of
 * the built-in model), is not one.
 */
export function isPretrainedModel(arg: string): boolean {
  if (existsSync(arg)) return statSync(arg).isDirectory() ? isHfFolder(arg) : arg.endsWith('.gguf');
  return pullableModel(arg) !== undefined;
}

/** Opens what a model argument names (see resolveModel). */
export function openPretrained(arg: string, folder = modelsFolder()): PretrainedCheckpoint {
  const { kind, path } = resolveModel(arg, folder);
  return kind === 'gguf' ? openGgufCheckpoint(path) : openHfFolder(path);
}
