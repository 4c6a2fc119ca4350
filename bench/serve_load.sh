#!/usr/bin/env bash
# Load on `attune serve` (bench/serve_load.py): a cold start where every client asks for the
# unloaded default model at once, then CLIENTS concurrent clients on /v1/embed and /v1/classify.
#   bench/serve_load.sh [--clients 200] [--seconds 60] [--cache-mb 512]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
exec python3 bench/serve_load.py "$@"
