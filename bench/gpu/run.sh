#!/usr/bin/env bash
# On the lent GPU machine, from the repository root with .gpu/ carried (see bench/gpu/build.sh):
# attune's cuda build embedding 2,000 Banking77 texts (the first run JIT-compiles candle's PTX
# kernels, which the driver then caches, so it is reported apart), sentence-transformers on the
# same GPU, agreement of the embeddings, and the default fine-tune of atis8-train on the GPU.
set -uo pipefail
cd .gpu
mkdir -p /tmp/m && tar -xJf model.tar.xz -C /tmp/m
xz -dc attune.xz > /tmp/attune && chmod +x /tmp/attune
LIBS=$(python3 -c 'import glob,os;print(":".join(sorted({os.path.dirname(p) for p in glob.glob("/opt/torch/.venv/lib/python3.12/site-packages/nvidia/**/lib*.so*",recursive=True)})))')
export LD_LIBRARY_PATH=$LIBS:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
M=/tmp/m/model
echo "== attune embed, cuda (first run: kernel JIT), then warm, then cpu"
for run in cold warm warm; do ATTUNE_DEVICE=cuda timeout 120 /tmp/attune embed --model $M -i b2k.txt -o /tmp/e-cuda.npy 2>&1 | tail -1; done
ATTUNE_DEVICE=cpu timeout 120 /tmp/attune embed --model $M -i b2k.txt -o /tmp/e-cpu.npy 2>&1 | tail -1
echo "== sentence-transformers embed, cuda"
for run in 1 2; do timeout 120 python3 st_embed_gpu.py $M b2k.txt 2>&1 | grep texts/s; done
python3 -c "import numpy as np; a=np.load('/tmp/e-cuda.npy'); b=np.load('/tmp/e-cpu.npy'); c=np.load('/tmp/e-st.npy'); print('max abs diff: attune gpu vs attune cpu', abs(a-b).max(), '; attune gpu vs sentence-transformers gpu', abs(a-c).max())"
echo "== attune fine-tune atis8-train, cuda"
ATTUNE_HOME=/tmp/h ATTUNE_DEVICE=cuda timeout 300 /tmp/attune finetune --base $M --data atis8-train.csv --json > /tmp/ft.json 2> /tmp/ft.err
echo "rc=$?"; tail -2 /tmp/ft.err
python3 -c "import json; d=json.load(open('/tmp/ft.json')); print('seconds', round(d['seconds'],1), 'steps', d['training']['steps'], 'acc', d['metrics']['baseline']['accuracy'], '->', d['metrics']['finetuned']['accuracy'], 'f1', round(d['metrics']['finetuned']['f1_macro'],4), 'sil', round(d['metrics']['finetuned']['silhouette'],3)); print([(p['epoch'], round(p['seconds'],1), round(p['accuracy'],4)) for p in d['validation_curve']])"
