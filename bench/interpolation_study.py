"""Whether blending the fine-tuned encoder's weights back toward the base model's (WiSE-FT,
Wortsman et al. 2022: theta = (1 - alpha) theta_base + alpha theta_finetuned) buys held-out
accuracy on top of attune's default fine-tune.

For each set and seed: the matrix's stratified test split (bench/matrix.py) and head_study.py's
selection split of the training rows; attune fine-tunes with --valid and --test set to those
files. Then, in PyTorch (sentence-transformers), each alpha's blended encoder embeds the three
parts and scikit-learn fits attune's head (C = 10, balanced classes) on the training rows, scored
on the selection rows (what a selection step would see) and on the test rows.

  .venv-bench/bin/python bench/interpolation_study.py --sets b77 --seeds 1,2,3 --alphas 0,0.5,0.85,1
Needs numpy, scikit-learn and sentence-transformers in the interpreter that runs it (.venv-bench
has them, with scikit-learn added); one JSON line per alpha to --out.
"""
import argparse, glob, json, os, sys, tempfile

import torch
from sentence_transformers import SentenceTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import head_study  # noqa: E402
import matrix  # noqa: E402

ROOT = matrix.ROOT
PARTS = ("tr", "sel", "test")


def blends(base_dir, tuned_dir, alphas, parts):
    """Embeddings of every part under each alpha's blended weights."""
    model = SentenceTransformer(base_dir, device="cpu")
    theta0 = {k: v.clone() for k, v in model[0].auto_model.state_dict().items()}
    theta1 = SentenceTransformer(tuned_dir, device="cpu")[0].auto_model.state_dict()
    for a in alphas:
        mixed = {k: (1 - a) * v + a * theta1[k] if v.is_floating_point() else v for k, v in theta0.items()}
        model[0].auto_model.load_state_dict(mixed)
        yield a, tuple(model.encode([t for t, _ in parts[p]], batch_size=64) for p in PARTS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="b77")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--alphas", default="0,0.5,0.7,0.85,1")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "interpolation_study.jsonl"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    binary = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "target", "release", "attune"))
    alphas = [float(x) for x in a.alphas.split(",")]
    for name in a.sets.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as work:
                matrix.split(name, seed, work)
                head_study.selection_split(work, seed)
                env = dict(os.environ, ATTUNE_HOME=f"{work}/home", RAYON_NUM_THREADS="2")
                d, secs = head_study.finetune(binary, env, work, seed)
                tuned = os.path.dirname(glob.glob(f"{d['path']}/**/modules.json", recursive=True)[0])
                parts = {p: matrix.read_rows(f"{work}/{p}.csv") for p in PARTS}
                y = tuple([l for _, l in parts[p]] for p in PARTS)
                for alpha, x in blends(matrix.cache_folder(matrix.DEFAULT_BASE), tuned, alphas, parts):
                    r = head_study.heads(x, y, [("C=10 balanced", 10.0, "balanced", False)])[0]
                    r.update({"set": name, "seed": seed, "alpha": alpha, "selected": d["selected"],
                              "attune_finetuned": d["metrics"]["finetuned"]["accuracy"],
                              "attune_baseline": d["metrics"]["baseline"]["accuracy"],
                              "finetune_seconds": secs})
                    with open(a.out, "a") as f:
                        f.write(json.dumps(r) + "\n")
                    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
