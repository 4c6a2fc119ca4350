#!/usr/bin/env bash
# Load on POST /v1/embed: 64 connections for 30 s from wrk on loopback, against the release
# server with the default model. Reports throughput, latency percentiles, errors and the server's
# peak memory. Installs wrk from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q wrk >/dev/null; }
cargo build --release -q
export ATTUNE_HOME=$(mktemp -d)
PORT=${PORT:-18089}
CONNS=${CONNS:-64}
SECS=${SECS:-30}
TEXTS=${TEXTS:-4}
./target/release/attune serve --port "$PORT" --api-key bench 2>"$ATTUNE_HOME/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$ATTUNE_HOME"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
body=$(python3 - "$TEXTS" <<'PY'
import json, sys
n = int(sys.argv[1])
texts = ["How do I reset my password?", "I was charged twice for my order", "Where is my parcel? It is late",
         "The app crashes when I open settings", "Can I change the delivery address?", "Refund for a damaged item"]
print(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "texts": (texts * 20)[:n]}))
PY
)
# Warm-up: loads the model.
curl -sf -H "Authorization: Bearer bench" -H "Content-Type: application/json" -d "$body" "http://127.0.0.1:$PORT/v1/embed" >/dev/null
lua=$(mktemp --suffix .lua)
cat >"$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
wrk.body = [[$body]]
LUA
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $CONNS connections, ${SECS}s, $TEXTS texts per request"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$lua" "http://127.0.0.1:$PORT/v1/embed"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
curl -s -H "Authorization: Bearer bench" "http://127.0.0.1:$PORT/metrics" | grep -E '^attune_batch_texts_(sum|count)|requests_total\{route="/v1/embed"'
