"""How far a frozen base model gets with attune's head, base beside base, on the matrix's splits:
before fine-tuning anything, what a larger base buys and what "2 points above the frozen base
model" would then ask of a fine-tune.

Every model embeds each set's texts once with sentence-transformers (2 threads); for each seed,
the matrix's stratified test split (bench/matrix.py) picks the training and test rows, and
scikit-learn fits attune's head (bench/head_study.py's fit_head: multinomial logistic regression,
C = 10, balanced class weights; also C = 1, the head before 2026-12-05) on all the training rows;
accuracy and macro-F1 on the test rows. attune's own baseline fits its head on the training rows
less its selection rows, so its frozen figures sit a little below these.

  .venv-bench/bin/python bench/frozen_bases.py --models MODEL_FOLDER[,MODEL_FOLDER...] --seeds 1,2,3
Each model is a sentence-transformers folder (attune's cache keeps the ones it fetched:
~/.cache/attune/models/ORG--NAME). Needs sentence-transformers, numpy and scikit-learn in the
interpreter that runs it; one JSON line per model, seed and head to --out.
"""
import argparse, json, os, sys, tempfile, time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sklearn.metrics import f1_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import head_study  # noqa: E402
import matrix  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="comma-separated sentence-transformers folders")
    ap.add_argument("--sets", default="b77")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(matrix.ROOT, "bench", "results", "frozen_bases.jsonl"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for name in a.sets.split(","):
        splits = []
        for seed in [int(s) for s in a.seeds.split(",")]:
            with tempfile.TemporaryDirectory(prefix=f"frozen-{name}-{seed}-") as work:
                matrix.split(name, seed, work)
                splits.append((seed, *(matrix.read_rows(os.path.join(work, f"{p}.csv")) for p in ("train", "test"))))
        # The seeds split the same texts: each is embedded once per model.
        texts = sorted({t for _, train, test in splits for t, _ in train + test})
        for folder in a.models.split(","):
            model = SentenceTransformer(folder, device="cpu")
            t0 = time.perf_counter()
            vec = dict(zip(texts, model.encode(texts, batch_size=32)))
            secs = time.perf_counter() - t0
            for seed, train, test in splits:
                x, y = np.array([vec[t] for t, _ in train]), [l for _, l in train]
                x_test, y_test = np.array([vec[t] for t, _ in test]), np.array([l for _, l in test])
                for c in (1.0, 10.0):
                    pred = head_study.fit_head(x, y, c).predict(x_test)
                    line = {
                        "set": name, "seed": seed, "model": os.path.basename(os.path.normpath(folder)),
                        "head_c": c, "train_rows": len(train), "test_rows": len(test),
                        "accuracy": float((pred == y_test).mean()),
                        "macro_f1": float(f1_score(y_test, pred, average="macro")),
                        "embed_s": round(secs, 1),
                    }
                    print(json.dumps(line), flush=True)
                    with open(a.out, "a") as f:
                        f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
