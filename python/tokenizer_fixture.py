"""Record how Python encodes a few strings with the committed tiny tokenizer, for the TypeScript tokenizer
test (test/model/bpe-tokenizer.test.ts) to agree with.

    python python/tokenizer_fixture.py > test/fixtures/tiny-qwen3-tokenizer-ids.json
    npx biome format --write test/fixtures/tiny-qwen3-tokenizer-ids.json

Encoding is the `tokenizers` library's, without added special tokens (as the TypeScript side encodes);
the chat rendering is transformers' apply_chat_template.
"""

import json
import sys
from pathlib import Path

from tokenizers import Tokenizer
from transformers import AutoTokenizer

DIR = Path(__file__).resolve().parent / "tiny-qwen3-tokenizer"

STRINGS = [
    "def add(x, y):\n    return x + y\n",
    "print(f'{n!r:>8}')  # don't, we'll\tTAB",
    "   leading and trailing spaces   ",
    "numbers 1234567 and 3.14159e-10",
    "naïve café — 東京 🚀 ünïcödé",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "\n\n\r\n  \n",
    "<answer> [1, 2]</answer>\n</answer >",
    "",
]
MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Reverse a list."},
]


def main() -> None:
    tok = Tokenizer.from_file(str(DIR / "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(str(DIR))
    cases = [{"text": s, "ids": tok.encode(s, add_special_tokens=False).ids} for s in STRINGS]
    chat = hf.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    out = {
        "cases": cases,
        "chat": {"messages": MESSAGES, "text": chat, "ids": tok.encode(chat, add_special_tokens=False).ids},
    }
    lines = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases)
    sys.stdout.write('{"cases": [\n' + lines + '\n ],\n "chat": ' + json.dumps(out["chat"], ensure_ascii=False) + "}\n")


if __name__ == "__main__":
    main()
