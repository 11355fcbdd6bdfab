"""Train the tiny byte-level BPE tokenizer of the tiny Qwen3 test model, locally.

No hub: the corpus is the top-level modules of the running interpreter's standard library (sorted, so
the same Python gives the same tokenizer). The layout copies Qwen2/Qwen3's tokenizer.json (NFC, a
split regex, then byte-level BPE, a byte-level decoder) so the TypeScript loader is tested on the
real structure, and tokenizer_config.json carries a ChatML chat template like Qwen's.

The result is committed (python/tiny-qwen3-tokenizer/); run this only to change it:

    python python/make_tiny_tokenizer.py python/tiny-qwen3-tokenizer [--vocab-size 1024]

The trained vocabulary (--vocab-size, the three special tokens included) is followed by one added
ordinary token, `</answer>`, the answer format's closing tag (ids 0-1023 trained, 1024 added).
"""

import argparse
import json
import sysconfig
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Qwen2/Qwen3's pre-tokenizer split.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
ANSWER_CLOSE = "</answer>"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def corpus_files() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(stdlib.glob("*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--vocab-size", type=int, default=1024)
    args = parser.parse_args()

    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    files = corpus_files()
    tok.train([str(f) for f in files], trainer)
    # The answer's closing tag as one ordinary (non-special) token after the trained vocabulary, so that
    # the tiny random test model can write it in one step (python/make_tiny_qwen3.py biases it).
    tok.add_tokens([AddedToken(ANSWER_CLOSE, special=False, normalized=False)])

    args.out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out_dir / "tokenizer.json"), pretty=True)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "model_max_length": 512,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (args.out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"trained on {len(files)} files; vocab {tok.get_vocab_size()} -> {args.out_dir}")


if __name__ == "__main__":
    main()
