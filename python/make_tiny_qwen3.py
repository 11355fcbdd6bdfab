"""Build a tiny Qwen3ForCausalLM with random weights in a folder, locally (no hub, no download).

The folder is what SkyRL's Tinker server takes as --base-model: config.json, model.safetensors and the
tokenizer committed beside this script (tokenizer.json, tokenizer_config.json with a chat template).
Same seed, same weights.

    python python/make_tiny_qwen3.py OUT_DIR [--seed 0] [--layers 2] [--hidden 64] [--answer-weight 2.0]

Shaped for the tests in one way. A random model with this 1025-token vocabulary would write the
answer's closing tag `</answer>` (one added token of the tokenizer) with probability about 1/1025 per
step, so self-play would see only format errors (reward -1 everywhere, TRR++ advantages 0, no training
step). So every token's embedding holds the same value (0.1, five times HF's init range) in dimension 0,
a constant feature that survives the random blocks (after the final RMSNorm it is about 2 of the hidden
state's norm 8), and the `</answer>` row of the output layer reads it with weight --answer-weight: a
logit offset of about 4 in every context. Measured (this script's defaults, a deduction prompt ending in
`<answer>`, temperature 1) with HF's PyTorch forward: P(`</answer>`) 7 % per position on average
(1.5-15 %); of 200 samples of 16 tokens, 74 % contain `</answer>` and 46 % have a non-empty one-line
body before it (a well-formed solver answer). SkyRL's JAX sampler gives the token more (log-probability
-1.4 right after `<answer>`; 31 of 32 samples contain it); docs/distributed.md has what the e2e test sees.
Everything else is HF's random init (the other output rows stay small: range 0.02).
"""

import argparse
import shutil
from pathlib import Path

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from tokenizers import Tokenizer

TOKENIZER_DIR = Path(__file__).resolve().parent / "tiny-qwen3-tokenizer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--answer-weight", type=float, default=2.0)
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
    head_dim = 16
    config = Qwen3Config(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=args.hidden,
        intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // head_dim,
        num_key_value_heads=max(1, args.hidden // head_dim // 2),
        head_dim=head_dim,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tokenizer.token_to_id("<|im_end|>"),
        pad_token_id=tokenizer.token_to_id("<|endoftext|>"),
        dtype="float32",
    )
    torch.manual_seed(args.seed)
    model = Qwen3ForCausalLM(config)
    answer = tokenizer.token_to_id("</answer>")
    assert answer is not None, "the tokenizer has no </answer> token"
    with torch.no_grad():
        embed = model.model.embed_tokens.weight
        # The constant feature (see the docstring) and the `</answer>` row reading it.
        embed[:, 0] = 5 * config.initializer_range
        model.lm_head.weight[answer, 0] = args.answer_weight
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out_dir, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER_DIR / name, args.out_dir / name)
    params = sum(p.numel() for p in model.parameters())
    print(f"tiny Qwen3: {params} parameters, vocab {config.vocab_size} -> {args.out_dir}")


if __name__ == "__main__":
    main()
