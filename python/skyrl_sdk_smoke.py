"""Drive a running Tinker server with the official Python SDK (tinker), timing each call.

A check of the server on its own, apart from our TypeScript client: if this passes and the TypeScript
tests fail, the fault is ours.

    TINKER_API_KEY=tml-local python python/skyrl_sdk_smoke.py http://127.0.0.1:PORT MODEL_DIR
"""

import sys
import time

import tinker
from tinker import types
from transformers import AutoTokenizer


def timed(label, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:32s} {time.perf_counter() - start:7.2f} s", flush=True)
    return out


def main() -> None:
    base_url, model_dir = sys.argv[1], sys.argv[2]
    tok = AutoTokenizer.from_pretrained(model_dir)
    prompt = tok.encode("def add(x, y):\n    return")
    service = timed("create session", lambda: tinker.ServiceClient(base_url=base_url))
    trainer = timed(
        "create LoRA model",
        lambda: service.create_lora_training_client(base_model=model_dir, rank=4, seed=0),
    )
    sampler = timed("save_weights_for_sampler", lambda: trainer.save_weights_and_get_sampling_client())
    params = types.SamplingParams(max_tokens=8, temperature=1.0, seed=1)
    first = timed(
        "sample",
        lambda: sampler.sample(types.ModelInput.from_ints(prompt), num_samples=2, sampling_params=params).result(),
    )
    seq = first.sequences[0]
    print("sampled", seq.tokens, [round(x, 3) for x in seq.logprobs or []], seq.stop_reason)

    full = prompt + list(seq.tokens)
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(full[:-1]),
        loss_fn_inputs={
            "target_tokens": types.TensorData(data=full[1:], dtype="int64"),
            "logprobs": types.TensorData(data=[0.0] * (len(prompt) - 1) + list(seq.logprobs or []), dtype="float32"),
            "advantages": types.TensorData(data=[0.0] * (len(prompt) - 1) + [1.0] * len(seq.tokens), dtype="float32"),
        },
    )
    fb = timed("forward_backward", lambda: trainer.forward_backward([datum], "importance_sampling").result())
    print("metrics", fb.metrics)
    opt = timed("optim_step", lambda: trainer.optim_step(types.AdamParams(learning_rate=1e-2)).result())
    print("optim", opt)
    saved = timed("save_state", lambda: trainer.save_state(name="state0").result())
    print("saved", saved.path)
    sampler1 = timed("save_weights_for_sampler 2", lambda: trainer.save_weights_and_get_sampling_client())
    again = timed(
        "sample 2",
        lambda: sampler1.sample(types.ModelInput.from_ints(prompt), num_samples=1, sampling_params=params).result(),
    )
    print("sampled after step", again.sequences[0].tokens, [round(x, 3) for x in again.sequences[0].logprobs or []])
    restored = timed(
        "load_state (new model)",
        lambda: service.create_training_client_from_state_with_optimizer(saved.path),
    )
    print("restored model", restored.model_id)


if __name__ == "__main__":
    main()
