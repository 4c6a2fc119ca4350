"""Multi-label benchmark: attune's default multi-label fine-tune beside SetFit 1.2's multi-label
mode (one-vs-rest, the same base model) on GoEmotions (../shared/data/goemotions-train.jsonl,
5,014 Reddit comments, 28 labels), each seed its own iteratively stratified split of 1,000 test
rows (bench/goemotions_split.py). Both engines train on the same 4,014 rows and are scored on
the same test rows; attune takes its selection rows out of its training rows itself.

  python3 bench/multilabel.py --seeds 1,2,3 [--peers]      # results appended to --out
  python3 bench/multilabel.py --table-only

SetFit: bench/setfit_multilabel.py in .venv-bench, CosineSimilarityLoss pairs, batch 16, one
epoch, --setfit-iterations (5), then one logistic regression per label. 2 threads each, one run
at a time."""
import argparse, json, os, statistics, subprocess, sys, tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from matrix import ROOT, DATA, timed  # noqa: E402

KEYS = ["hamming_score", "subset_accuracy", "f1_micro", "f1_macro", "precision_micro", "recall_micro"]


def run_attune(work, seed, threads, extra):
    env = dict(os.environ, ATTUNE_HOME=os.path.join(work, "home"), RAYON_NUM_THREADS=str(threads))
    binary = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "target", "release", "attune"))
    cmd = [binary, "finetune", "--data", f"{work}/train.jsonl", "--test", f"{work}/test.jsonl",
           "--seed", str(seed), "--json", *extra]
    out, secs, mib = timed(cmd, env, f"{work}/attune.err")
    d = json.loads(out)
    rows = []
    for engine, side in (("frozen encoder + head", "baseline"), ("attune, fine-tuned", "finetuned")):
        m = d["metrics"][side]
        r = {"engine": engine, **{k: m[k] for k in KEYS}}
        if side == "finetuned":
            r.update(seconds=secs, peak_mib=mib, selected=d["selected"])
        rows.append(r)
    kept = d["metrics"]["finetuned" if d["selected"] == "finetuned" else "baseline"]
    rows.append({"engine": "attune, the model kept", **{k: kept[k] for k in KEYS}, "seconds": secs,
                 "peak_mib": mib, "selected": d["selected"]})
    return rows


def run_setfit(work, seed, threads, iterations):
    py = os.path.join(ROOT, ".venv-bench", "bin", "python")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [py, os.path.join(ROOT, "bench", "setfit_multilabel.py"), "--train", f"{work}/train.jsonl",
           "--test", f"{work}/test.jsonl", "--threads", str(threads), "--iterations", str(iterations),
           "--seed", str(seed)]
    out, secs, mib = timed(cmd, env, f"{work}/setfit.err")
    d = json.loads(out.strip().splitlines()[-1])
    return [{"engine": f"SetFit 1.2 one-vs-rest ({iterations} it.)", **{k: d[k] for k in KEYS},
             "seconds": secs, "peak_mib": mib}]


def table(lines):
    groups, order = defaultdict(list), []
    for r in lines:
        key = r["engine"] + (f" `{r['flags']}`" if r.get("flags") else "")
        if key not in groups:
            order.append(key)
        groups[key].append(r)

    def ms(vals, fmt):
        vals = [v for v in vals if v is not None]
        if not vals:
            return "-"
        if len(vals) == 1:
            return fmt.format(vals[0])
        return (fmt + " ± " + fmt).format(statistics.mean(vals), statistics.stdev(vals))

    print("| engine | seeds | Hamming score | subset acc. | micro-F1 | macro-F1 | wall s | peak MiB | kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in order:
        rs = groups[key]
        kept = ", ".join(r["selected"] for r in rs) if "selected" in rs[0] and key.startswith("attune, the") else ""
        print(f"| {key} | {','.join(str(r['seed']) for r in rs)} | "
              + " | ".join(ms([r[k] for r in rs], "{:.4f}") for k in ["hamming_score", "subset_accuracy", "f1_micro", "f1_macro"])
              + f" | {ms([r.get('seconds') for r in rs], '{:.0f}')} | {ms([r.get('peak_mib') for r in rs], '{:.0f}')} | {kept} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", action="store_true", help="also run SetFit (needs .venv-bench)")
    ap.add_argument("--peers-only", action="store_true")
    ap.add_argument("--setfit-iterations", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(DATA, "goemotions-train.jsonl"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "multilabel.jsonl"))
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("attune_flags", nargs="*", help="extra attune finetune flags (after --)")
    a = ap.parse_args()
    if not a.table_only:
        if not os.path.exists(a.data):
            raise SystemExit(f"skipped: {a.data} is absent (the shared data folder is not here)")
        for seed in [int(s) for s in a.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as work:
                split = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "goemotions_split.py"), "--data",
                                        a.data, "--out-dir", work, "--seed", str(seed)],
                                       check=True, stdout=subprocess.PIPE, text=True)
                info = json.loads(split.stdout.strip().splitlines()[-1])
                rows = []
                if not a.peers_only:
                    rows += run_attune(work, seed, a.threads, a.attune_flags)
                if a.peers or a.peers_only:
                    rows += run_setfit(work, seed, a.threads, a.setfit_iterations)
                with open(a.out, "a") as f:
                    for r in rows:
                        r.update(seed=seed, train_rows=info["train_rows"], test_rows=info["test_rows"],
                                 flags=" ".join(a.attune_flags))
                        f.write(json.dumps(r) + "\n")
                        print(json.dumps(r), flush=True)
    with open(a.out) as f:
        table([json.loads(l) for l in f if l.strip()])


if __name__ == "__main__":
    main()
