"""Write tiny random checkpoints in the formats users have, and what transformers reads from each, for
test/model/real-checkpoint.test.ts.

    python python/make_tiny_checkpoints.py     (writes test/fixtures/tiny-checkpoints/)

Hugging Face folders, saved by transformers' save_pretrained:
  llama-f32-tied      Llama, float32, tied head, linear RoPE scaling (factor 2), one model.safetensors
  qwen2-bf16-sharded  Qwen2 (Q/K/V biases), bfloat16, untied head, three shards and an index
  qwen3-f16           Qwen3 (QK-norm), float16, tied head, a head dim other than width / heads
GGUF files, written with gguf-py's GGUFWriter the way llama.cpp's converter writes them (Llama's Q and K
rows permuted for its rotary layout; Q8_0 matrices, F16 embedding, F32 norms):
  llama-q8.gguf, qwen3-q8.gguf
and one GGUF of an architecture the project does not run (phi3.gguf, for the error message).

expected.json holds, per checkpoint, the config transformers reads and its state dict as float32
(shape, SHA-256 of the little-endian bytes, sum): from `AutoModelForCausalLM.from_pretrained(folder)`
or `from_pretrained(dir, gguf_file=...)`, so the GGUF entries check dequantization and the permutation.
"""

import hashlib
import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tiny-checkpoints"
SIZES = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256)
CONFIG_KEYS = ["model_type", "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
               "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps",
               "tie_word_embeddings", "rope_parameters", "attention_bias"]


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Random values everywhere (norm weights and biases too, which init sets to ones and zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def reference(model: torch.nn.Module) -> dict:
    config = model.config.to_dict()
    tensors = []
    for key, value in model.state_dict().items():
        data = value.detach().to(torch.float32).contiguous().numpy().astype("<f4")
        tensors.append({"name": key, "shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
                        "sum": float(data.astype("float64").sum())})
    return {"class": type(model).__name__, "config": {k: config.get(k) for k in CONFIG_KEYS}, "tensors": tensors}


def hf_folders() -> list[tuple[str, torch.nn.Module]]:
    made = []
    llama = LlamaForCausalLM(LlamaConfig(**SIZES, tie_word_embeddings=True, rms_norm_eps=1e-5,
                                         rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 50000.0}))
    randomize(llama, 1)
    llama.save_pretrained(OUT / "llama-f32-tied")
    made.append(("llama-f32-tied", llama))
    qwen2 = Qwen2ForCausalLM(Qwen2Config(**SIZES, tie_word_embeddings=False, rms_norm_eps=1e-6))
    randomize(qwen2, 2)
    qwen2.to(torch.bfloat16).save_pretrained(OUT / "qwen2-bf16-sharded", max_shard_size="20KB")
    made.append(("qwen2-bf16-sharded", qwen2))
    qwen3 = Qwen3ForCausalLM(Qwen3Config(**SIZES, head_dim=16, tie_word_embeddings=True, rms_norm_eps=1e-6))
    randomize(qwen3, 3)
    qwen3.to(torch.float16).save_pretrained(OUT / "qwen3-f16")
    made.append(("qwen3-f16", qwen3))
    for name, _ in made:
        (OUT / name / "generation_config.json").unlink(missing_ok=True)
    return made


def llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute: the rotary halves of each head interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path: Path, arch: str, model: torch.nn.Module, permute: bool) -> None:
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(c.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    names = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
             "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}

    def put(name: str, x: np.ndarray, qtype: Q) -> None:
        if qtype == Q.F32:
            w.add_tensor(name, x.astype(np.float32))
        elif qtype == Q.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x.astype(np.float32), qtype), raw_dtype=qtype)

    put("token_embd.weight", sd["model.embed_tokens.weight"], Q.F16)
    for layer in range(c.num_hidden_layers):
        for short, long in names.items():
            key = f"model.layers.{layer}.{long}.weight"
            if key not in sd:
                continue
            x = sd[key]
            if permute and short == "attn_q":
                x = llama_cpp_permute(x, c.num_attention_heads)
            if permute and short == "attn_k":
                x = llama_cpp_permute(x, c.num_key_value_heads)
            put(f"blk.{layer}.{short}.weight", x, Q.Q8_0 if x.ndim == 2 else Q.F32)
    put("output_norm.weight", sd["model.norm.weight"], Q.F32)
    if not c.tie_word_embeddings:
        put("output.weight", sd["lm_head.weight"], Q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    expected = {}
    for name, _ in hf_folders():
        expected[name] = reference(AutoModelForCausalLM.from_pretrained(str(OUT / name), dtype=torch.float32))

    llama = LlamaForCausalLM(LlamaConfig(**SIZES, tie_word_embeddings=False, rms_norm_eps=1e-5, rope_theta=10000.0))
    randomize(llama, 4)
    write_gguf(OUT / "llama-q8.gguf", "llama", llama, permute=True)
    # transformers reads no head dim from a qwen3 GGUF (it keeps Qwen3Config's 128), so this one has 128.
    sizes = {**SIZES, "num_attention_heads": 2, "num_key_value_heads": 1}
    qwen3 = Qwen3ForCausalLM(Qwen3Config(**sizes, head_dim=128, tie_word_embeddings=True, rms_norm_eps=1e-6))
    randomize(qwen3, 5)
    write_gguf(OUT / "qwen3-q8.gguf", "qwen3", qwen3, permute=False)
    for name in ("llama-q8.gguf", "qwen3-q8.gguf"):
        model = AutoModelForCausalLM.from_pretrained(str(OUT), gguf_file=name, dtype=torch.float32)
        expected[name] = reference(model)

    phi = gguf.GGUFWriter(str(OUT / "phi3.gguf"), "phi3")
    phi.add_block_count(1)
    phi.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    phi.write_header_to_file()
    phi.write_kv_data_to_file()
    phi.write_tensors_to_file()
    phi.close()

    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in expected.items())
    (OUT / "expected.json").write_text(
        '{"about": "transformers\' config and float32 state dict of each tiny checkpoint; written by '
        'python/make_tiny_checkpoints.py",\n' + body + "\n}\n")


if __name__ == "__main__":
    main()
