#!/usr/bin/env bash
# The default fine-tune, timed, on the reference datasets: wall time, peak memory, and the
# test-row metrics (baseline beside fine-tuned). Reads ../shared/data. Prints a Markdown table.
#   bench/finetune.sh [extra attune finetune flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-../shared/data}
if [[ ! -d $DATA_DIR ]]; then echo "skipped: $DATA_DIR is absent" >&2; exit 0; fi
cargo build --release -q
export ATTUNE_HOME=$(mktemp -d)
trap 'rm -rf "$ATTUNE_HOME"' EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "CPU: $cpu; threads: ${RAYON_NUM_THREADS:-$(nproc)}; flags: ${*:-(defaults)}"
echo
echo "| data | rows | wall s | peak RSS MiB | steps | base acc | ft acc | base F1 | ft F1 | base silhouette | ft silhouette |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for f in atis-ft-3classes.csv atis8-train.csv; do
  out=$(mktemp); err=$(mktemp)
  /usr/bin/time -f "%e %M" ./target/release/attune finetune --data "$DATA_DIR/$f" --json "$@" >"$out" 2>"$err"
  read -r secs kb < <(tail -1 "$err")
  python3 - "$out" "$f" "$secs" "$kb" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); f, secs, kb = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
b, t = d["metrics"]["baseline"], d["metrics"]["finetuned"]
rows = d["rows"]["train"] + d["rows"]["selection"] + d["rows"]["test"]
print(f"| {f} | {rows} | {secs:.0f} | {kb/1024:.0f} | {d['training']['steps']} | {b['accuracy']:.4f} | {t['accuracy']:.4f} | "
      f"{b['f1_macro']:.4f} | {t['f1_macro']:.4f} | {b['silhouette']:.3f} | {t['silhouette']:.3f} |")
PY
  rm -f "$out" "$err"
done
