#!/usr/bin/env bash
# Builds attune with the cuda feature on a machine without a CUDA toolkit, and packs what the
# lent GPU machine needs into .gpu/ (ignored by git; the device tool carries it): the stripped
# binary, the default model (weights in f16, 41 MB compressed; attune loads them as f32), the
# embedding texts and atis8-train. Then run bench/gpu/run.sh there.
#
# CUDA 13.0's nvcc, headers and libraries come from NVIDIA's PyPI wheels; cudarc links libcuda at
# build time, so a stand-in libcuda.so exporting the driver API's names is made for the link (the
# driver's real libcuda.so.1 is the one loaded at run time). CUDA_COMPUTE_CAP picks the GPU
# generation (90: H100/H200).
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${CUDA_WHEELS:-$HOME/.cache/attune-cuda}
# A Python with torch and safetensors (the benchmarks' venv) for the f16 copy of the model.
PY=${PYTHON:-.venv-bench/bin/python}
mkdir -p "$CACHE/wheels" "$CACHE/link" .gpu
if [[ ! -x $CACHE/x/nvidia/cu13/bin/nvcc ]]; then
  "$PY" -m pip download --no-deps -q -d "$CACHE/wheels" "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-runtime==13.0.*" \
    "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*" "nvidia-cuda-cccl==13.0.*" "nvidia-cublas==13.0.*" \
    "nvidia-curand==10.4.0.*" "nvidia-cuda-nvrtc==13.0.*"
  for w in "$CACHE"/wheels/*.whl; do unzip -q -o "$w" -d "$CACHE/x"; done
fi
CUDA=$CACHE/x/nvidia/cu13
for l in cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13 cudart.so.13; do
  ln -sf "$CUDA/lib/lib$l" "$CACHE/link/lib${l%%.so*}.so"
done
CUDARC=$(ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* 2>/dev/null | tail -1)
if [[ -z $CUDARC ]]; then cargo fetch -q; CUDARC=$(ls -d "$HOME"/.cargo/registry/src/*/cudarc-0.19.* | tail -1); fi
grep -oE '^\s+fn cu[A-Za-z0-9_]+\(' "$CUDARC/src/driver/sys/mod.rs" | sed -E 's/^\s+fn //; s/\($//' | sort -u |
  awk 'BEGIN{print "/* link-time stand-in for libcuda.so.1 */"} {print "int " $1 "(void){return 999;}"}' >"$CACHE/link/stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CACHE/link/libcuda.so" "$CACHE/link/stub.c"
export CUDA_ROOT=$CUDA CUDA_PATH=$CUDA CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} PATH=$CUDA/bin:$PATH
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda} RUSTFLAGS="-L $CACHE/link" cargo build --release --features cuda
strip -o .gpu/attune "${CARGO_TARGET_DIR:-target/cuda}/release/attune"
xz -T2 -6 -f .gpu/attune
MODEL=${MODEL_DIR:-${ATTUNE_CACHE:-$HOME/.cache/attune}/models/sentence-transformers--all-MiniLM-L6-v2}
"$PY" - "$MODEL" <<'PY'
import os, shutil, subprocess, sys, tempfile
src = sys.argv[1]
tmp = tempfile.mkdtemp()
dst = os.path.join(tmp, "model")
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors"))
import torch
from safetensors.torch import load_file, save_file
save_file({k: v.to(torch.float16) for k, v in load_file(os.path.join(src, "model.safetensors")).items()},
          os.path.join(dst, "model.safetensors"))
subprocess.run(["tar", "-cJf", os.path.abspath(".gpu/model.tar.xz"), "-C", tmp, "model"], check=True)
shutil.rmtree(tmp)
PY
"$PY" -c "import csv; r=list(csv.reader(open('../shared/data/banking77-train.csv')))[1:2001]; open('.gpu/b2k.txt','w').write(''.join(x[0].replace(chr(10),' ')+chr(10) for x in r))"
cp ../shared/data/atis8-train.csv .gpu/
cp bench/gpu/run.sh bench/gpu/st_embed_gpu.py .gpu/
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
du -sh .gpu
