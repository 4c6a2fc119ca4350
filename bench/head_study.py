"""Which head to fit on the fine-tuned (and the frozen) embeddings: the L2 strength, class weights,
and whether the selection rows join the head's training rows once every choice is made.

For each set and seed: the matrix's stratified test split (bench/matrix.py), then a stratified
selection split of the training rows (15 %, at most 1,000, as attune takes); attune fine-tunes
with --valid and --test set to those files, so every engine below sees the same rows. Both
encoders then embed the three parts, and scikit-learn fits multinomial logistic regressions
(lbfgs to convergence) in several variants, each scored on the test rows. "C=1 balanced" is
attune's head before 2026-12-05 (l2 = 1/n on the mean loss, class_weight="balanced"); "C=10
balanced" is its head since (bench/results/head_study.jsonl was made with the earlier build,
commit a9808a1, so its encoders were trained from a C=1 head).

  /path/to/venv/bin/python bench/head_study.py --sets b77,b77-8 --seeds 1,2,3
Needs numpy and scikit-learn in the interpreter that runs it; one JSON line per variant to --out.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time
from collections import defaultdict

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402

ROOT = matrix.ROOT


def selection_split(work, seed, share=0.15, cap=1000):
    """attune's selection share of the matrix's training rows, as --valid and the rest."""
    rows = matrix.read_rows(f"{work}/train.csv")
    rng = random.Random(seed * 7919 + 1)
    tr, sel = [], []
    for held, rest in matrix.stratified(rows, rng, min(share, cap / len(rows)), keep_single=True):
        sel += held
        tr += rest
    matrix.write_rows(f"{work}/tr.csv", tr)
    matrix.write_rows(f"{work}/sel.csv", sel)


def finetune(binary, env, work, seed):
    """attune's default fine-tune on tr.csv, selecting on sel.csv and scoring on test.csv: its
    `--json` answer and the wall seconds."""
    t0 = time.perf_counter()
    out = subprocess.run([binary, "finetune", "--data", f"{work}/tr.csv", "--valid", f"{work}/sel.csv",
                          "--test", f"{work}/test.csv", "--seed", str(seed), "--json"],
                         env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return json.loads(out.stdout), time.perf_counter() - t0


def embed(binary, env, model, part, work):
    out = f"{work}/{part}-{abs(hash(model)) % 10**8}.npy"
    subprocess.run([binary, "embed", "--model", model, "--input", f"{work}/{part}.csv", "--output", out],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return np.load(out)


def labels_of(work, part):
    return [l for _, l in matrix.read_rows(f"{work}/{part}.csv")]


VARIANTS = [
    # name, C, class weight, fit on tr+sel
    ("C=1 balanced", 1.0, "balanced", False),
    ("C=1 balanced, +sel", 1.0, "balanced", True),
    ("C=3 balanced", 3.0, "balanced", False),
    ("C=3 balanced, +sel", 3.0, "balanced", True),
    ("C=10 balanced", 10.0, "balanced", False),
    ("C=10 balanced, +sel", 10.0, "balanced", True),
    ("C=30 balanced", 30.0, "balanced", False),
    ("C=100 balanced", 100.0, "balanced", False),
    ("C=1 unweighted", 1.0, None, False),
]


def fit_head(x, y, c, class_weight="balanced"):
    """attune's head (c = 10, balanced) or a variant, fitted to convergence."""
    # scikit-learn's C multiplies the summed loss: C = c means l2 = 1/(c n) on the mean loss.
    return LogisticRegression(C=c, class_weight=class_weight, max_iter=3000).fit(x, y)


def heads(x, y, variants):
    xtr, xsel, xte = x
    ytr, ysel, yte = y
    res = []
    for name, c, cw, plus_sel in variants:
        xs, ys = (np.vstack([xtr, xsel]), ytr + ysel) if plus_sel else (xtr, ytr)
        lr = fit_head(xs, ys, c, cw)
        p_sel, p_te = lr.predict(xsel), lr.predict(xte)
        res.append({"variant": name,
                    "sel_accuracy": accuracy_score(ysel, p_sel) if not plus_sel else None,
                    "accuracy": accuracy_score(yte, p_te), "f1_macro": f1_score(yte, p_te, average="macro")})
    return res


def table(path):
    """Means and spreads over seeds, one Markdown row per set, encoder and variant."""
    import statistics
    groups = defaultdict(list)
    for line in open(path):
        r = json.loads(line)
        groups[(r["set"], r["encoder"], r["variant"])].append(r)
    print("| set | encoder | head | seeds | test accuracy | test macro-F1 |")
    print("|---|---|---|---|---|---|")
    for (name, enc, variant), rs in groups.items():
        def ms(vals):
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{statistics.mean(vals):.4f} ± {sd:.4f}"
        print(f"| {name} | {enc} | {variant} | {','.join(str(r['seed']) for r in rs)} | "
              f"{ms([r['accuracy'] for r in rs])} | {ms([r['f1_macro'] for r in rs])} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="b77-8,b77-16,atis8,b77")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "head_study.jsonl"))
    ap.add_argument("--table-only", action="store_true", help="print the table of --out and stop")
    a = ap.parse_args()
    if a.table_only:
        return table(a.out)
    binary = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "target", "release", "attune"))
    for name in a.sets.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as work:
                matrix.split(name, seed, work)
                selection_split(work, seed)
                env = dict(os.environ, ATTUNE_HOME=f"{work}/home", RAYON_NUM_THREADS="2")
                d, secs = finetune(binary, env, work, seed)
                y = tuple(labels_of(work, p) for p in ("tr", "sel", "test"))
                for enc, model in (("frozen", matrix.DEFAULT_BASE), ("finetuned", d["model_id"])):
                    x = tuple(embed(binary, env, model, p, work) for p in ("tr", "sel", "test"))
                    reported = d["metrics"]["baseline" if enc == "frozen" else "finetuned"]["accuracy"]
                    for r in heads(x, y, VARIANTS):
                        r.update({"set": name, "seed": seed, "encoder": enc, "attune_reported": reported,
                                  "finetune_seconds": secs, "selected": d["selected"]})
                        with open(a.out, "a") as f:
                            f.write(json.dumps(r) + "\n")
                        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
