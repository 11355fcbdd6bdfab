"""transformers' logits for token sequences, from a GGUF file or a Hugging Face folder.

    python python/reference_logits.py MODEL OUT '[[ids...], ...]'

MODEL is a .gguf file (transformers dequantizes it to float32 with the `gguf` package) or a folder.
OUT receives the logits of every position of every sequence, float32 little-endian, sequence after
sequence, [positions, vocab] each. test/model/real-logits.test.ts compares the engine with them.
"""

import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def main(model: str, out: str, sequences: str) -> None:
    if model.endswith(".gguf"):
        m = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(os.path.abspath(model)), gguf_file=os.path.basename(model), dtype=torch.float32
        )
    else:
        m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    m.eval()
    with open(out, "wb") as f, torch.no_grad():
        for s in json.loads(sequences):
            f.write(m(torch.tensor([s])).logits[0].numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    main(*sys.argv[1:4])
