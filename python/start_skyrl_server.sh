#!/usr/bin/env bash
# Start SkyRL's Tinker API server (JAX backend, CPU) on loopback with a model built by setup_skyrl.sh, in
# the foreground (stop it with SIGTERM to its process group).
#   bash python/start_skyrl_server.sh PORT [WORK_DIR] [DIR] [MODEL]
# WORK_DIR holds the server's database and checkpoints (default: a new temporary folder); DIR is the
# setup folder (default $AZR_TINKER_HOME or ~/.cache/azr-tinker); MODEL is the base model's Hugging Face
# folder (default DIR/tiny-qwen3; DIR/smollm2-135m is SmolLM2-135M-Instruct).
#
# SkyRL starts its engine as `uv run <this server's uv run flags> --extra tinker --extra jax -m
# skyrl.tinker.engine ...`, so the server is started by `uv run` in the tiny project skyrl-server/, whose
# extras carry those names; --no-sync makes uv use the installed venv as it is.
#
# JAX compiles the model once per input shape, which on CPU takes minutes for a 30-layer model. So the
# shapes are kept few: every sampling batch is padded to 16 sequences (sample_max_num_sequences; without
# it each batch size compiles anew) and forward_backward runs one sequence at a time
# (train_micro_batch_size 1; the gradient is the same sum over sequences), leaving one shape per
# sequence-length bucket. Compiled programs are kept in DIR/jax-cache, so a restarted server does not
# compile them again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${1:?usage: start_skyrl_server.sh PORT [WORK_DIR] [DIR] [MODEL]}"
work="${2:-$(mktemp -d)}"
dir="${3:-${AZR_TINKER_HOME:-$HOME/.cache/azr-tinker}}"
model="${4:-$dir/tiny-qwen3}"
if [ ! -x "$dir/venv/bin/uv" ] || [ ! -f "$model/config.json" ]; then
  echo "start_skyrl_server.sh: no SkyRL install with $model in $dir; run: bash python/setup_skyrl.sh $dir" >&2
  exit 2
fi
mkdir -p "$work"
export PATH="$dir/venv/bin:$PATH" UV_PROJECT_ENVIRONMENT="$dir/venv" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 JAX_PLATFORMS=cpu \
  JAX_COMPILATION_CACHE_DIR="$dir/jax-cache"
cd "$work"
exec "$dir/venv/bin/uv" run --project "$here/skyrl-server" --no-sync \
  -m skyrl.tinker.api --host 127.0.0.1 --port "$port" \
  --base-model "$model" --backend jax \
  --database-url "sqlite:///$work/tinker.db" --checkpoints-base "$work/checkpoints" \
  --backend-config '{"max_lora_adapters": 8, "max_lora_rank": 8, "sample_max_num_sequences": 16, "train_micro_batch_size": 1}'
