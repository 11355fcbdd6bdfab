"""Does transformers read a folder's tokenizer as a fixture recorded it?

    python python/check_hf_tokenizer.py FOLDER FIXTURE_JSON

FOLDER is a Hugging Face folder (as `azr export --merged` writes); FIXTURE_JSON a tokenizer fixture of
python/tokenizer_fixture.py (`cases`: text and ids; `chats`: messages, the generation prompt flag, the
rendered text). Prints {"cases": n, "chats": n, "mismatches": [...]}: every case whose ids, and every chat
whose apply_chat_template text, differ from the fixture's.
"""

import json
import sys

from transformers import AutoTokenizer


def main(folder: str, fixture: str) -> None:
    tok = AutoTokenizer.from_pretrained(folder)
    want = json.load(open(fixture))
    bad = []
    for c in want["cases"]:
        ids = tok.encode(c["text"], add_special_tokens=False)
        if ids != c["ids"]:
            bad.append({"text": c["text"], "ids": ids, "want": c["ids"]})
    for c in want["chats"]:
        text = tok.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=c["addGenerationPrompt"])
        if text != c["text"]:
            bad.append({"messages": c["messages"], "text": text, "want": c["text"]})
    json.dump({"cases": len(want["cases"]), "chats": len(want["chats"]), "mismatches": bad}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
