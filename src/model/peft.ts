// LoRA adapters in PEFT's format, so the ecosystem reads what the engine trains: `adapter_config.json`
// and `adapter_model.safetensors` with keys `base_model.model.<module>.lora_A.weight` [r, in] and
// `...lora_B.weight` [out, r] (PEFT's layout; the engine keeps the transposes, config.ts). `peft`'s
// PeftModel.from_pretrained(base, dir) loads the pair onto the Hugging Face base model.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from './checkpoint.js';
import {
  type LlamaConfig,
  LORA_MODULE,
  LORA_TARGETS,
  type LoraSettings,
  loraParameterSpecs,
} from './config.js';
import { transpose2d } from './llama-weights.js';
import type { Weights } from './params.js';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';

const peftKey = (name: string) => `base_model.model.${name.replace(/\.lora_([AB])$/, '.lora_$1.weight')}`;

/** The short target names of PEFT's `target_modules` (q_proj -> q, ...). */
const TARGET_OF = new Map(LORA_TARGETS.map((t) => [LORA_MODULE[t].split('.')[1] as string, t]));

/** Writes `dir`/adapter_config.json and adapter_model.safetensors (each replaced atomically). */
export function writePeftAdapter(
  dir: string,
  config: LlamaConfig,
  lora: LoraSettings,
  adapters: ReadonlyMap<string, Float32Array>,
  baseModel: string,
): void {
  mkdirSync(dir, { recursive: true });
  const tensors = loraParameterSpecs(config, lora).map((s) => {
    const [rows, cols] = s.shape as [number, number];
    return {
      name: peftKey(s.name),
      shape: [cols, rows],
      data: transpose2d(adapters.get(s.name) as Float32Array, rows, cols),
    };
  });
  writeSafetensors(join(dir, PEFT_WEIGHTS), tensors, { format: 'pt' });
  const peftConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    target_modules: lora.targets.map((t) => LORA_MODULE[t].split('.')[1]),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
  const file = join(dir, PEFT_CONFIG);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(peftConfig, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * Reads a PEFT LoRA adapter for `config`: its settings and matrices in the engine's layout. Refuses what
 * the engine does not implement (other PEFT types, dropout is ignored at inference, per-module ranks, DoRA,
 * rsLoRA, modules it cannot target).
 */
export function readPeftAdapter(dir: string, config: LlamaConfig): { lora: LoraSettings; adapters: Weights } {
  const c = JSON.parse(readFileSync(join(dir, PEFT_CONFIG), 'utf8')) as Record<string, unknown>;
  const refuse = (why: string) => {
    throw new Error(`${join(dir, PEFT_CONFIG)}: ${why}`);
  };
  if (c.peft_type !== 'LORA') refuse(`peft_type ${String(c.peft_type)} is not LORA`);
  if (c.use_dora || c.use_rslora) refuse('DoRA and rsLoRA adapters are not supported');
  if (
    Object.keys((c.rank_pattern as object) ?? {}).length ||
    Object.keys((c.alpha_pattern as object) ?? {}).length
  )
    refuse('per-module ranks or alphas are not supported');
  const modules = Array.isArray(c.target_modules) ? (c.target_modules as string[]) : [];
  const targets = modules.map(
    (m) => TARGET_OF.get(m) ?? refuse(`target module ${m} is not one the engine adapts`),
  );
  const lora: LoraSettings = {
    rank: Number(c.r),
    alpha: Number(c.lora_alpha),
    targets: LORA_TARGETS.filter((t) => targets.includes(t)),
  };
  const { tensors } = readSafetensors(join(dir, PEFT_WEIGHTS));
  const adapters: Weights = new Map();
  for (const s of loraParameterSpecs(config, lora)) {
    const t = tensors.get(peftKey(s.name));
    const [rows, cols] = s.shape as [number, number];
    if (!t || t.shape.join() !== [cols, rows].join())
      refuse(`${PEFT_WEIGHTS} lacks ${peftKey(s.name)} of shape [${cols}, ${rows}]`);
    adapters.set(s.name, transpose2d((t as { data: Float32Array }).data, cols, rows));
  }
  return { lora, adapters };
}
