#!/usr/bin/env bash
# Start llama.cpp's OpenAI-compatible server (llama-cpp-python, installed by setup_llama_server.sh) on
# loopback with a GGUF model, in the foreground (stop it with SIGTERM).
#   bash python/start_llama_server.sh PORT MODEL.gguf [NAME] [DIR]
# NAME is the model name requests use (default: the file's name without .gguf); DIR is the setup folder
# (default $AZR_LLAMA_HOME or ~/.cache/azr-llama-server). Two threads, one sequence at a time, a context
# of 8192 tokens (reference prompts with references run to 2,000 tokens, completions to 2,048).
set -euo pipefail
port="${1:?usage: start_llama_server.sh PORT MODEL.gguf [NAME] [DIR]}"
model="${2:?usage: start_llama_server.sh PORT MODEL.gguf [NAME] [DIR]}"
name="${3:-$(basename "$model" .gguf)}"
dir="${4:-${AZR_LLAMA_HOME:-$HOME/.cache/azr-llama-server}}"
if ! "$dir/venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "start_llama_server.sh: no llama-cpp-python server in $dir; run: bash python/setup_llama_server.sh $dir" >&2
  exit 2
fi
exec "$dir/venv/bin/python" -m llama_cpp.server --model "$model" --model_alias "$name" \
  --host 127.0.0.1 --port "$port" --n_ctx 8192 --n_threads 2 --n_threads_batch 2
