#!/usr/bin/env bash
# Start SkyRL's Tinker API server (JAX backend, CPU) on loopback with the tiny Qwen3 built by
# setup_skyrl.sh, in the foreground (stop it with SIGTERM to its process group).
#   bash python/start_skyrl_server.sh PORT [WORK_DIR] [DIR]
# WORK_DIR holds the server's database and checkpoints (default: a new temporary folder); DIR is the
# setup folder (default $AZR_TINKER_HOME or ~/.cache/azr-tinker).
#
# SkyRL starts its engine as `uv run <this server's uv run flags> --extra tinker --extra jax -m
# skyrl.tinker.engine ...`, so the server is started by `uv run` in the tiny project skyrl-server/, whose
# extras carry those names; --no-sync makes uv use the installed venv as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${1:?usage: start_skyrl_server.sh PORT [WORK_DIR] [DIR]}"
work="${2:-$(mktemp -d)}"
dir="${3:-${AZR_TINKER_HOME:-$HOME/.cache/azr-tinker}}"
if [ ! -x "$dir/venv/bin/uv" ] || [ ! -f "$dir/tiny-qwen3/config.json" ]; then
  echo "start_skyrl_server.sh: no SkyRL install in $dir; run: bash python/setup_skyrl.sh $dir" >&2
  exit 2
fi
mkdir -p "$work"
export PATH="$dir/venv/bin:$PATH" UV_PROJECT_ENVIRONMENT="$dir/venv" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 JAX_PLATFORMS=cpu
cd "$work"
exec "$dir/venv/bin/uv" run --project "$here/skyrl-server" --no-sync \
  -m skyrl.tinker.api --host 127.0.0.1 --port "$port" \
  --base-model "$dir/tiny-qwen3" --backend jax \
  --database-url "sqlite:///$work/tinker.db" --checkpoints-base "$work/checkpoints" \
  --backend-config '{"max_lora_adapters": 8, "max_lora_rank": 8}'
