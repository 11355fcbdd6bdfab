"""Logits of a Hugging Face model with a PEFT LoRA adapter loaded by `peft` itself.

    python python/peft_reference.py BASE_DIR ADAPTER_DIR '[[1, 2, 3], ...]'

prints {"logits": [[[...per position...]]]} for each token sequence: what test/model/peft.test.ts compares
the engine's own logits with, to show that an adapter the engine saved means the same thing to peft.
"""

import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main(base_dir: str, adapter_dir: str, sequences: str) -> None:
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    with torch.no_grad():
        logits = [model(torch.tensor([s])).logits[0].tolist() for s in json.loads(sequences)]
    json.dump({"logits": logits}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
