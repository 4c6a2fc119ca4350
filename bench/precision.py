"""What lower precision costs a fine-tuned model on held-out rows. For each set and seed: the recipe
matrix's stratified split (bench/matrix.py), attune's default fine-tune in f32, then
`attune eval --dtype int8` and `--dtype bf16` on the test rows, which measure f32 beside the lower
precision on the same rows. Prints, per set and dtype, the mean and spread over seeds of the
accuracy and macro-F1 change, the share of unchanged answers and the mean and least cosine.

  python3 bench/precision.py [--sets atis8] [--seeds 1,2,3]"""
import argparse, json, os, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="atis8")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--dtypes", default="int8,bf16")
    a = ap.parse_args()
    binary = os.environ.get("ATTUNE_BIN", os.path.join(matrix.ROOT, "target", "release", "attune"))
    rows = {}
    for name in a.sets.split(","):
        if not os.path.exists(matrix.SETS[name][0]):
            print(f"skipped {name}: {matrix.SETS[name][0]} is absent", file=sys.stderr)
            continue
        for seed in map(int, a.seeds.split(",")):
            with tempfile.TemporaryDirectory() as work:
                n_train, n_test = matrix.split(name, seed, work)
                env = dict(os.environ, ATTUNE_HOME=os.path.join(work, "home"))
                out, secs, _ = matrix.timed(
                    [binary, "finetune", "--data", f"{work}/train.csv", "--seed", str(seed), "--json"],
                    env, f"{work}/ft.err", f"precision-{name}-{seed}.err")
                model = json.loads(out)["model_id"]
                for dtype in a.dtypes.split(","):
                    out = subprocess.run([binary, "eval", "--model", model, "--data", f"{work}/test.csv",
                                          "--dtype", dtype, "--json"], env=env, check=True,
                                         capture_output=True, text=True).stdout
                    c = json.loads(out)
                    r = {"set": name, "seed": seed, "dtype": dtype, "train": n_train, "test": n_test,
                         "f32_accuracy": c["f32"]["accuracy"], "accuracy": c["accuracy"],
                         "f32_f1_macro": c["f32"]["f1_macro"], "f1_macro": c["f1_macro"],
                         "agreement": c["agreement"], "mean_cosine": c["mean_cosine"],
                         "min_cosine": c["min_cosine"]}
                    print(json.dumps(r), flush=True)
                    rows.setdefault((name, dtype), []).append(r)
    print("\n| set | dtype | seeds | f32 accuracy | accuracy change (points) | macro-F1 change (points) "
          "| answers unchanged | mean cosine | least cosine |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, dtype), rs in rows.items():
        def ms(vals, scale=1.0, fmt="{:+.2f}"):
            vals = [v * scale for v in vals]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{fmt.format(statistics.mean(vals))} ± {sd:.2f}"
        print(f"| {name} | {dtype} | {len(rs)} | {statistics.mean(r['f32_accuracy'] for r in rs):.4f} "
              f"| {ms([r['accuracy'] - r['f32_accuracy'] for r in rs], 100)} "
              f"| {ms([r['f1_macro'] - r['f32_f1_macro'] for r in rs], 100)} "
              f"| {100 * statistics.mean(r['agreement'] for r in rs):.2f} % "
              f"| {statistics.mean(r['mean_cosine'] for r in rs):.5f} "
              f"| {min(r['min_cosine'] for r in rs):.5f} |")


if __name__ == "__main__":
    main()
