#!/usr/bin/env bash
# Issue 32's iteration-0 measurement: `azr generate` against llama.cpp's OpenAI-compatible server with a
# real model, four ways: /v1/completions and /v1/chat/completions, each without and with the answer
# grammar. Each run writes OUTDIR/<api>-<grammar>.jsonl (the tasks) and .log (progress, then one JSON line
# of counts: per task type, proposals, format errors, valid tasks, solver answers and unparsed ones).
#   bash python/iteration0_llama.sh MODEL.gguf OUTDIR [PORT]
# Environment: ROUNDS (default 3), BATCH (4), ROLLOUTS (4), as in the issue's command; the server comes
# from setup_llama_server.sh. Run `npx tsc -p tsconfig.json` first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="${1:?usage: iteration0_llama.sh MODEL.gguf OUTDIR [PORT]}"
out="${2:?usage: iteration0_llama.sh MODEL.gguf OUTDIR [PORT]}"
port="${3:-8091}"
rounds="${ROUNDS:-3}"
batch="${BATCH:-4}"
rollouts="${ROLLOUTS:-4}"
mkdir -p "$out"
bash "$here/start_llama_server.sh" "$port" "$model" m > "$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null; then break; fi
  sleep 1
done
for api in completions chat; do
  for grammar in none auto; do
    name="$api-$grammar"
    rm -f "$out/$name.jsonl"
    chat=()
    if [ "$api" = chat ]; then chat=(--chat); fi
    start=$(date +%s)
    node "$here/../dist/src/cli/main.js" generate --base-url "http://127.0.0.1:$port/v1" --model m "${chat[@]}" \
      --grammar "$grammar" --out "$out/$name.jsonl" --tasks 1000 --max-rounds "$rounds" --batch "$batch" \
      --rollouts "$rollouts" --references 3 --proposer-max-tokens 512 --solver-max-tokens 256 \
      --seed-factor 0 --concurrency 1 --timeout-ms 1800000 > "$out/$name.log" 2>&1 || echo "$name failed: see $out/$name.log"
    echo "$name: $(( $(date +%s) - start )) s: $(tail -1 "$out/$name.log" | cut -c1-400)"
  done
done
