"""Record how Python tokenizes code, unicode and special tokens, and how chat templates render, for the
TypeScript tokenizer tests to agree with. Two fixtures:

    python python/tokenizer_fixture.py > test/fixtures/tiny-qwen3-tokenizer-ids.json
    python python/tokenizer_fixture.py --gguf MODELS/smollm2-135m.gguf > test/fixtures/tokenizer-smollm2-135m.json
    python python/tokenizer_fixture.py --gguf MODELS/qwen2.5-coder-0.5b.gguf > test/fixtures/tokenizer-qwen2.5-coder-0.5b.json

Without --gguf: the committed tiny tokenizer (python/tiny-qwen3-tokenizer/, read by
test/model/bpe-tokenizer.test.ts), and the same vocabulary and merges under each pre-tokenizer a GGUF's
`tokenizer.ggml.pre` may name, written the way that family's own tokenizer.json writes it (the TypeScript
test builds those tokenizers from GGUF metadata; test/model/gguf-tokenizer.test.ts).

With --gguf (test/model/gguf-tokenizer.test.ts): the tokenizer transformers builds from the GGUF
(AutoTokenizer.from_pretrained(dir, gguf_file=name)), corrected where transformers' GGUF loader departs from
the model's own tokenizer.json and from llama.cpp, which both follow the file:
  - pre-tokenizer: a llama-architecture GGUF gets GPT-2's split whatever `tokenizer.ggml.pre` says; for
    `smollm` the model's tokenizer splits every digit off first (Digits, then ByteLevel), so it encodes
    `    1` as 4 spaces + `1` where transformers gives 3 spaces + ` 1`;
  - added tokens: a qwen2 GGUF gets only `<|endoftext|>`, `<|im_start|>` and `<|im_end|>`; the model's
    tokenizer.json also has the other CONTROL tokens (`<|fim_prefix|>` ...) as special tokens and the
    USER_DEFINED ones (`<tool_call>`) as added tokens.
Every case where the uncorrected transformers tokenizer gives other ids is listed on stderr. Chat renders
are transformers' apply_chat_template (tokenize=False), encoded by the corrected tokenizer.

With --gguf and --encode TEXTS_JSON (bench/tokenizer.ts): the corrected tokenizer's ids for each text of a
JSON list, and how long the Rust library takes to encode them.

Needs transformers, tokenizers and gguf (the Tinker venv of python/setup_skyrl.sh, with gguf==0.19.0).
Encoding never adds special tokens (as the TypeScript side encodes by default). The JSON is ASCII (\\u
escapes), so invisible characters stay visible in the file.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from tokenizers import Tokenizer

DIR = Path(__file__).resolve().parent / "tiny-qwen3-tokenizer"

STRINGS = [
    # code
    "def add(x, y):\n    return x + y\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "\tif x:\n\t\treturn [i * 2 for i in range(3)]\n\telse:\n\t\tpass\n",
    "x = 1" + " " * 40 + "# aligned\n" + " " * 100 + "\n",
    "print(f'{n!r:>8}')  # don't, we'll\tTAB",
    "   leading and trailing spaces   ",
    "numbers 1234567 and 3.14159e-10",
    "n = 12345678901234567890 + 0x1F - 1_000_000 * 2**64\n",
    "values = [\n    123,\n    4567,\n  89,\n]\n",
    "assert f([3, 1, 2]) == [1, 2, 3], 'sorted'\n",
    "I'M sure it'S fine; you'LL see, we'VE won, they'D go",
    "\n\n\r\n  \n",
    "",
    # unicode
    "naïve café — 東京 🚀 ünïcödé",
    "東京は日本の首都です。中文测试，标点！한국어 텍스트",
    "emoji 👍🏽 family 👨\u200d👩\u200d👧 flag 🇯🇵 keycap 1\ufe0f\u20e3",
    "combining: e\u0301 a\u0308 n\u0303 \u1100\u1161\u11a8 vs é ä ñ 각",
    "spaces: a\u00a0b\u2009c\u3000d\u0085e\u2028f\ufeffg\u200bh",
    "whitespace or not: bom\ufeff(x) nel\u0085\nend \ufeff. \u0085\u0085  x",
    "numerals: ²³ ½ ٣٤٥ ①② Ⅻ ১২",
    "controls: \x00\x01\x1b[31mred\x1b[0m\x7f",
    "look-alikes of byte-level tokens: ĠĠ hello Ċ Ā ÿ \ufffd",
    "Привет мир; مرحبا بالعالم; שלום; नमस्ते",
    # special tokens written in the text
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><|im_end|><|im_end|>x<|im_start|><|im_end",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
    "<repo_name>azr<file_sep>main.py\n<jupyter_code>x",
    "<think>\nok\n</think>\n<answer> [1, 2]</answer>\n</answer >",
]

TINY_MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Reverse a list."},
]

# (messages, add_generation_prompt)
CONVERSATIONS = [
    ([{"role": "user", "content": "Write f(s) that reverses a string."}], True),
    ([{"role": "user", "content": "Write f(s) that reverses a string."}], False),
    (
        [
            {"role": "system", "content": "You are a careful Python programmer."},
            {"role": "user", "content": "What does `sorted([3, 1, 2])[::-1]` return?\nAnswer with the value."},
        ],
        True,
    ),
    (
        [
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "def f(a):\n    return a * 2\n\nf(21) = ?"},
            {"role": "assistant", "content": "42"},
            {"role": "user", "content": "And f('ab')?"},
        ],
        True,
    ),
    (
        [
            {"role": "user", "content": "Say hi."},
            {"role": "assistant", "content": "hi <answer>ok</answer>"},
        ],
        False,
    ),
]

GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)


def byte_level(use_regex: bool) -> dict:
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def split(regex: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


# What each `tokenizer.ggml.pre` name means, as the family's own tokenizer.json writes it (GPT-2; SmolLM2 and
# StarCoder; Qwen2; Llama 3): normalizer, pre-tokenizer, and BPE's ignore_merges.
PRE_TOKENIZATIONS = {
    "gpt2": (None, byte_level(True), False),
    "smollm": (None, {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level(True)]}, False),
    "qwen2": ({"type": "NFC"}, {"type": "Sequence", "pretokenizers": [split(QWEN2_SPLIT), byte_level(False)]}, False),
    "llama-bpe": (None, {"type": "Sequence", "pretokenizers": [split(LLAMA3_SPLIT), byte_level(False)]}, True),
}


def with_pre(tokenizer_json: dict, pre: str) -> Tokenizer:
    normalizer, pre_tokenizer, ignore_merges = PRE_TOKENIZATIONS[pre]
    j = json.loads(json.dumps(tokenizer_json))
    j["normalizer"] = normalizer
    j["pre_tokenizer"] = pre_tokenizer
    j["model"]["ignore_merges"] = ignore_merges
    return Tokenizer.from_str(json.dumps(j))


def pre_tokenization(tokenizer_json: dict, pre: str) -> dict:
    """The tokenizer.json layout, each string's pieces after normalizing and pre-tokenizing (byte-level
    spelled), and its ids."""
    tok = with_pre(tokenizer_json, pre)

    def pieces(text: str) -> list[str]:
        normalized = tok.normalizer.normalize_str(text) if tok.normalizer else text
        return [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(normalized)]

    normalizer, pre_tokenizer, ignore_merges = PRE_TOKENIZATIONS[pre]
    layout = {"normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "ignore_merges": ignore_merges}
    return {"pre": pre, "layout": layout, "pieces": [pieces(s) for s in STRINGS], "ids": [ids(tok, s) for s in STRINGS]}


def ids(tok: Tokenizer, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False).ids


def dump(obj: dict) -> None:
    """One case per line, ASCII only."""
    lines = []
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join("    " + json.dumps(v) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


def token_bytes(tokenizer_json: dict) -> list[str]:
    """Each id's bytes in hex: an added token's UTF-8 text, an ordinary token's characters mapped back
    through GPT-2's byte-level alphabet (transformers' bytes_to_unicode)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    tokens = {i: t for t, i in tokenizer_json["model"]["vocab"].items()}
    added = {t["id"]: t["content"] for t in tokenizer_json["added_tokens"]}
    out = []
    for i in range(max([*tokens, *added]) + 1):
        out.append(added[i].encode("utf-8").hex() if i in added else bytes(byte_of[c] for c in tokens[i]).hex())
    return out


def tiny() -> None:
    from transformers import AutoTokenizer

    tok = Tokenizer.from_file(str(DIR / "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(str(DIR))
    chat = hf.apply_chat_template(TINY_MESSAGES, tokenize=False, add_generation_prompt=True)
    tiny_json = json.loads(tok.to_str())
    dump(
        {
            "cases": [{"text": s, "ids": ids(tok, s)} for s in STRINGS],
            "chat": {"messages": TINY_MESSAGES, "text": chat, "ids": ids(tok, chat)},
            "preTokenizations": [pre_tokenization(tiny_json, pre) for pre in PRE_TOKENIZATIONS],
            "tokenBytes": token_bytes(tiny_json),
        }
    )


def gguf_fields(path: str) -> dict:
    from gguf import GGUFReader

    r = GGUFReader(path)

    def strings(key: str) -> list[str]:
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    f = r.fields["tokenizer.ggml.token_type"]
    return {
        "pre": strings("tokenizer.ggml.pre")[0],
        "tokens": strings("tokenizer.ggml.tokens"),
        "types": [int(f.parts[i][0]) for i in f.data],
    }


CONTROL, USER_DEFINED = 3, 4


def reference_tokenizer(path: str):
    """transformers' tokenizer of the GGUF, the corrected reference tokenizer, and the notes on what changed."""
    from transformers import AutoTokenizer

    meta = gguf_fields(path)
    hf = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path))
    j = json.loads(hf.backend_tokenizer.to_str())
    notes = []
    if meta["pre"] == "smollm":
        normalizer, pre_tokenizer, _ = PRE_TOKENIZATIONS["smollm"]
        notes.append(f"pre-tokenizer: transformers {json.dumps(j['pre_tokenizer'])}, the model's {json.dumps(pre_tokenizer)}")
        j["pre_tokenizer"] = pre_tokenizer
    have = {t["id"] for t in j["added_tokens"]}
    missing = [i for i, t in enumerate(meta["types"]) if t in (CONTROL, USER_DEFINED) and i not in have]
    if missing:
        notes.append(f"added tokens transformers lacks: {[meta['tokens'][i] for i in missing]}")
    for i in missing:
        j["added_tokens"].append(
            {
                "id": i,
                "content": meta["tokens"][i],
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": meta["types"][i] == CONTROL,
            }
        )
    return hf, Tokenizer.from_str(json.dumps(j)), meta, notes


def encode_texts(path: str, texts_file: str) -> None:
    """Ids of each text of a JSON list, and the CPU time the Rust library takes: the best of 10 encodings of
    the first text, and one pass over all of them. For bench/tokenizer.ts."""
    import time

    _, ref, _, _ = reference_tokenizer(path)
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    best = float("inf")
    for _ in range(10):
        t0 = time.process_time()
        ref.encode(texts[0], add_special_tokens=False)
        best = min(best, time.process_time() - t0)
    t0 = time.process_time()
    out = [ids(ref, t) for t in texts]
    seconds = time.process_time() - t0
    json.dump({"ids": out, "firstMs": best * 1000, "allSeconds": seconds}, sys.stdout)


def from_gguf(path: str) -> None:
    hf, ref, meta, notes = reference_tokenizer(path)
    raw = hf.backend_tokenizer
    for n in notes:
        print(n, file=sys.stderr)

    def checked(text: str) -> list[int]:
        got = ids(ref, text)
        theirs = ids(raw, text)
        if got != theirs:
            print(f"transformers differs on {json.dumps(text)}: {theirs} (ours {got})", file=sys.stderr)
        return got

    chats = []
    for messages, gen in CONVERSATIONS:
        text = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
        chats.append({"messages": messages, "addGenerationPrompt": gen, "text": text, "ids": checked(text)})
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    dump(
        {
            "gguf": {"bytes": os.path.getsize(path), "sha256": sha, "pre": meta["pre"], "vocabSize": len(meta["tokens"])},
            "cases": [{"text": s, "ids": checked(s)} for s in STRINGS],
            "chats": chats,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", help="a GGUF file: record its tokenizer instead of the tiny one")
    parser.add_argument("--encode", metavar="TEXTS_JSON", help="with --gguf: print the ids of each text of a JSON list")
    args = parser.parse_args()
    if args.gguf and args.encode:
        encode_texts(args.gguf, args.encode)
    elif args.gguf:
        from_gguf(args.gguf)
    else:
        tiny()


if __name__ == "__main__":
    main()
