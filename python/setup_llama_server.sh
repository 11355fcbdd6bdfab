#!/usr/bin/env bash
# Install llama.cpp's OpenAI-compatible server (llama-cpp-python[server], built from source) into DIR/venv.
# Everything comes from PyPI. The build is skipped when DIR already holds it, so a second run takes seconds.
#   bash python/setup_llama_server.sh [DIR]   (DIR defaults to $AZR_LLAMA_HOME or ~/.cache/azr-llama-server)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${AZR_LLAMA_HOME:-$HOME/.cache/azr-llama-server}}"
exclude_newer="2026-12-07T00:00:00Z"

python=""
for candidate in python3.12 python3.11 python3.13 python3; do
  if "$candidate" -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] < (3, 15) else 1)' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup_llama_server.sh: no Python 3.9-3.14 found" >&2
  exit 1
fi

stamp="$(sha256sum "$here/requirements-llama-server.txt" | cut -d' ' -f1)"
if [ "$(cat "$dir/.recipe" 2>/dev/null)" = "$stamp" ] && "$dir/venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "llama.cpp server ready in $dir"
  exit 0
fi
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then "$python" -m venv "$dir/venv"; fi
if [ "$("$dir/venv/bin/uv" --version 2>/dev/null)" != "uv 0.13.9" ]; then
  "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check uv==0.13.9
fi
# The build uses every core it is given; CMAKE_BUILD_PARALLEL_LEVEL caps it on a shared machine.
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" "$dir/venv/bin/uv" pip install \
  --python "$dir/venv/bin/python" --exclude-newer "$exclude_newer" -r "$here/requirements-llama-server.txt"
echo "$stamp" > "$dir/.recipe"
echo "llama.cpp server ready in $dir"
