"""Tiny random models of the Llama family, and what transformers computes with them.

For each variant the engine covers (Llama with tied embeddings, Qwen2 with Q/K/V biases and an untied
head, Qwen3 with QK-norm and a head dimension of its own) this writes a Hugging Face folder (config.json +
model.safetensors, float32) and `reference.json`: token sequences and the logits transformers' own model
class gives at every position. test/model/llama-family.test.ts loads the same folders into the engine and
compares. The models are random but seeded, and scaled so that logits spread over several units (a
near-uniform distribution would hide most errors).

    python python/llama_family_fixture.py test/fixtures/llama-family
"""

import json
import os
import sys

import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

COMMON = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    rms_norm_eps=1e-5,
)

VARIANTS = {
    "llama": (LlamaConfig, LlamaForCausalLM, dict(rope_theta=10000.0, tie_word_embeddings=True)),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(rope_theta=1e6, tie_word_embeddings=False, rms_norm_eps=1e-6)),
    "qwen3": (Qwen3Config, Qwen3ForCausalLM, dict(rope_theta=1e6, head_dim=16, tie_word_embeddings=True)),
}

SEQUENCES = [
    [1, 5, 7, 60, 3, 9, 11, 42, 17, 90, 33, 2, 8, 8, 8, 71, 0, 95, 44, 12],
    [4, 4, 20, 30, 40, 50],
]


def main(out: str) -> None:
    for i, (name, (config_class, model_class, extra)) in enumerate(VARIANTS.items()):
        torch.manual_seed(1000 + i)
        model = model_class(config_class(**{**COMMON, **extra})).float().eval()
        with torch.no_grad():
            for key, p in model.named_parameters():
                if key.endswith("norm.weight"):
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif key.endswith("bias"):
                    p.copy_(0.2 * torch.randn_like(p))
                else:
                    p.copy_(0.15 * torch.randn_like(p))
        folder = os.path.join(out, name)
        model.save_pretrained(folder, safe_serialization=True)
        for extra_file in ("generation_config.json",):
            path = os.path.join(folder, extra_file)
            if os.path.exists(path):
                os.remove(path)
        with torch.no_grad():
            logits = [model(torch.tensor([s])).logits[0].tolist() for s in SEQUENCES]
            # Greedy continuations, token by token with transformers' own cache: the sampler must agree. The
            # attention mask is explicit: generate() would otherwise infer one from the pad id, and id 0 occurs.
            greedy = [
                model.generate(
                    torch.tensor([s]),
                    attention_mask=torch.ones(1, len(s), dtype=torch.long),
                    max_new_tokens=12,
                    do_sample=False,
                    pad_token_id=0,
                )[0][len(s) :].tolist()
                for s in SEQUENCES
            ]
        rounded = [[[float(f"{v:.7g}") for v in row] for row in seq] for seq in logits]
        with open(os.path.join(folder, "reference.json"), "w") as f:
            json.dump({"sequences": SEQUENCES, "logits": rounded, "greedy": greedy}, f, separators=(",", ":"))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters -> {folder}")


if __name__ == "__main__":
    main(sys.argv[1])
