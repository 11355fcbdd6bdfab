"""PyTorch + peft: LoRA training steps on a pretrained model, the anchor of `npm run bench:lora`.

    python bench/ref/torch_lora.py MODEL BATCH.json THREADS STEPS [MICRO_ROWS]

MODEL is a GGUF file (transformers dequantizes it) or a Hugging Face folder. BATCH.json holds the rows
the engine trains: {"rows": [[ids...], ...], "weights": [[w...], ...], "rank", "alpha", "targets"} with
w the per-position loss weight (the advantage already multiplied in; 0 on prompt and padding). The loss
is -sum(w * log p(next token)): the loop's REINFORCE objective. LoRA adapters (peft, dropout 0) on the
named modules; AdamW on the adapters only. The head runs only on the last positions that hold weight
(transformers' logits_to_keep), as a careful PyTorch user would write it. Prints one JSON line: the
best and median step seconds, the torch and peft versions, and the peak resident memory. One step runs
the rows MICRO_ROWS at a time (default 4) and accumulates their gradients.
"""

import json
import os
import resource
import statistics
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

ATTENTION = os.environ.get("AZR_TORCH_ATTENTION", "sdpa")
MODULES = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def main(model: str, batch_file: str, threads: str, steps: str, micro_rows: str = "4") -> None:
    micro = int(micro_rows)
    torch.set_num_threads(int(threads))
    if model.endswith(".gguf"):
        base = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(os.path.abspath(model)), gguf_file=os.path.basename(model), dtype=torch.float32, attn_implementation=ATTENTION
        )
    else:
        base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, attn_implementation=ATTENTION)
    batch = json.load(open(batch_file))
    config = LoraConfig(
        r=batch["rank"],
        lora_alpha=batch["alpha"],
        lora_dropout=0.0,
        target_modules=[MODULES[t] for t in batch["targets"]],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    # rows [B, L]: whole sequences; weights [B, L - 1]: position t's weight for predicting token t + 1.
    ids = torch.tensor(batch["rows"])
    weights = torch.tensor(batch["weights"], dtype=torch.float32)
    # Weighted positions sit at the ends of the rows: logits for positions first .. L - 2 only.
    first = int(weights.nonzero()[:, 1].min())
    keep = ids.shape[1] - first
    times = []
    for _ in range(int(steps)):
        t = time.perf_counter()
        opt.zero_grad()
        # Gradient accumulation over micro-batches of `micro` rows: the whole batch's activations at once
        # do not fit in the machine's memory (24 GiB; the bench's default batch was killed there).
        for lo in range(0, ids.shape[0], micro):
            rows = ids[lo : lo + micro]
            logits = model(rows, logits_to_keep=keep).logits[:, :-1]
            picked = torch.log_softmax(logits, dim=-1).gather(-1, rows[:, first + 1 :].unsqueeze(-1)).squeeze(-1)
            loss = -(weights[lo : lo + micro, first:] * picked).sum()
            loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    import peft

    print(
        json.dumps(
            {
                "best_s": min(times[1:] or times),
                "median_s": statistics.median(times[1:] or times),
                "torch": torch.__version__,
                "peft": peft.__version__,
                "micro_rows": micro,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:6])
