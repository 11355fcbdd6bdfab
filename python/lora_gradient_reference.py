"""Gradients of LoRA adapters under the self-play loss, computed by PyTorch + peft.

    python python/lora_gradient_reference.py MODEL ADAPTER_DIR BATCH.json OUT [float32|float64]

MODEL: a GGUF file (transformers dequantizes it) or a Hugging Face folder. ADAPTER_DIR: a PEFT adapter
(the engine writes it with src/model/peft.ts). BATCH.json: {"tokens", "targets", "weights", "advantages",
"old_logprobs", "allowed"} as [B][T] lists (allowed: [B][T] lists of allowed ids, or null for every id),
"clip_eps" (null: REINFORCE). The loss is the loop's (src/rl/objective.ts):
    -sum_t w_t * min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t),  r_t = exp(logp_t - old_t)
(or -sum_t w_t A_t logp_t without clipping), logp under the softmax restricted to the allowed ids.
OUT receives every adapter gradient, float32 little-endian, in the order of the adapter file's keys
(sorted), each in PEFT's layout; the key list goes to stdout as JSON. test/model/lora-gradients.test.ts
compares the engine's gradients with them. With float64 everything (weights, adapter, loss) is computed in
double precision: the exact gradients both float32 implementations are measured against.
"""

import json
import os
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main(model: str, adapter: str, batch_file: str, out: str, precision: str = "float32") -> None:
    dtype = {"float32": torch.float32, "float64": torch.float64}[precision]
    if model.endswith(".gguf"):
        base = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(os.path.abspath(model)), gguf_file=os.path.basename(model), dtype=torch.float32
        )
    else:
        base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, adapter, is_trainable=True).to(dtype)
    peft_model.train()
    b = json.load(open(batch_file))
    tokens = torch.tensor(b["tokens"])
    targets = torch.tensor(b["targets"])
    weights = torch.tensor(b["weights"], dtype=dtype)
    adv = torch.tensor(b["advantages"], dtype=dtype)
    logits = peft_model(tokens).logits  # [B, T, V]
    if b.get("allowed"):
        mask = torch.full_like(logits, -1e9)
        for i, row in enumerate(b["allowed"]):
            for t, ids in enumerate(row):
                if ids is None:
                    mask[i, t] = 0
                else:
                    mask[i, t, ids] = 0
        logits = logits + mask
    lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    eps = b.get("clip_eps")
    if eps is None:
        loss = -(weights * adv * lp).sum()
    else:
        ratio = torch.exp(lp - torch.tensor(b["old_logprobs"], dtype=dtype))
        loss = -(weights * torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)).sum()
    loss.backward()
    names = sorted(n for n, p in peft_model.named_parameters() if p.requires_grad)
    params = dict(peft_model.named_parameters())
    with open(out, "wb") as f:
        for n in names:
            f.write(params[n].grad.detach().numpy().astype("<f4").tobytes())
    # PEFT's parameter names carry the adapter's name ("default"); the file's keys do not.
    print(json.dumps({"names": [n.replace(".default.", ".") for n in names], "loss": float(loss)}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
