"""Record what transformers builds from each pulled GGUF, for test/model/real-checkpoint.test.ts.

    python python/pretrained_fixture.py [MODELS_DIR] [NAME ...]

MODELS_DIR defaults to $AZR_MODELS, else models/; NAMEs default to smollm2-135m and qwen2.5-coder-0.5b.
For each model, `AutoModelForCausalLM.from_pretrained(MODELS_DIR, gguf_file=NAME.gguf)` (float32, which
dequantizes with gguf-py and undoes llama.cpp's Q/K permutation) gives the reference: its config, and
per state-dict tensor the shape, the SHA-256 of its float32 little-endian bytes and its sum. Written to
test/fixtures/pretrained-NAME.json.
"""

import hashlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

DEFAULT = ["smollm2-135m", "qwen2.5-coder-0.5b"]
FIXTURES = Path(__file__).resolve().parent.parent / "test" / "fixtures"
CONFIG_KEYS = [
    "model_type",
    "num_hidden_layers",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "tie_word_embeddings",
    "rope_parameters",
]


def record(models: Path, name: str) -> dict:
    model = AutoModelForCausalLM.from_pretrained(str(models), gguf_file=f"{name}.gguf", dtype=torch.float32)
    config = model.config.to_dict()
    tensors = []
    for key, value in model.state_dict().items():
        data = value.detach().to(torch.float32).contiguous().numpy()
        tensors.append(
            {
                "name": key,
                "shape": list(data.shape),
                "sha256": hashlib.sha256(data.astype("<f4").tobytes()).hexdigest(),
                "sum": float(data.astype("float64").sum()),
            }
        )
    return {
        "about": f"transformers' state dict of {name}.gguf (float32); written by python/pretrained_fixture.py",
        "transformers": importlib.metadata.version("transformers"),
        "gguf": importlib.metadata.version("gguf"),
        "model": name,
        "class": type(model).__name__,
        "config": {k: config.get(k) for k in CONFIG_KEYS},
        "tensors": tensors,
    }


def main() -> None:
    args = sys.argv[1:]
    models = Path(args[0] if args else os.environ.get("AZR_MODELS") or "models")
    for name in args[1:] or DEFAULT:
        if not (models / f"{name}.gguf").exists():
            sys.exit(f"{models / name}.gguf is missing: run `npx azr pull {name}` (or pass the models folder)")
        out = record(models, name)
        body = ",\n".join("  " + json.dumps(t) for t in out.pop("tensors"))
        path = FIXTURES / f"pretrained-{name}.json"
        path.write_text(json.dumps(out)[:-1] + ', "tensors": [\n' + body + "\n]}\n")
        print(f"wrote {path.name}: {body.count(chr(10)) + 1} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
