#!/usr/bin/env bash
# The three comparisons of the performance issue, one after the other on this machine, written
# into BENCHMARKS.md between the bench:begin and bench:end markers (the rest of the file is
# prose): embedding throughput, a training step, and the time to SetFit's accuracy on atis8.
# Each script installs its PyTorch peer into .venv-bench from PyPI and reads ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d ../shared/data ]]; then echo "skipped: ../shared/data is absent" >&2; exit 0; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  echo "<!-- bench:begin (written by bench/all.sh; do not edit by hand) -->"
  echo "Run of $(date -u +%Y-%m-%d) on $cpu, $(nproc) cores, ${THREADS:-2} threads per engine, commit $(git rev-parse --short HEAD)."
  echo
  echo "### Embedding (bench/embed.sh)"
  echo
  bash bench/embed.sh 2>/dev/null
  echo
  echo "### Training step (bench/train_step.sh)"
  echo
  bash bench/train_step.sh 2>/dev/null
  echo
  echo "### Time to SetFit's accuracy on atis8-train (bench/time_to_accuracy.sh)"
  echo
  bash bench/time_to_accuracy.sh 2>/dev/null
  echo "<!-- bench:end -->"
} >"$out"
python3 - "$out" <<'PY'
import re, sys
block = open(sys.argv[1]).read().strip()
text = open("BENCHMARKS.md").read()
pattern = re.compile(r"<!-- bench:begin.*?<!-- bench:end -->", re.S)
text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n## Latest run of bench/all.sh\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
PY
cat "$out"
