"""What lower precision costs a fine-tuned model on held-out rows. For each set and seed: the recipe
matrix's stratified split (bench/matrix.py), attune's default fine-tune in f32, then
`attune eval --dtype int8` and `--dtype bf16` on the test rows, which measure f32 beside the lower
precision on the same rows. Prints, per set and dtype, the mean and spread over seeds of the
accuracy and macro-F1 change, the share of unchanged answers and the mean and least cosine.
--train-dtypes bf16 also fine-tunes each split in bf16 (`finetune --dtype bf16`) and compares its
held-out figures (evaluated in f32) and wall time with the f32 run's.

  python3 bench/precision.py [--sets atis8] [--seeds 1,2,3] [--dtypes int8,bf16] [--train-dtypes bf16]"""
import argparse, json, os, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="atis8")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--dtypes", default="int8,bf16", help="inference precisions ('' for none)")
    ap.add_argument("--train-dtypes", default="", help="training precisions beside f32, e.g. bf16")
    a = ap.parse_args()
    trained = {}
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
                f32_run = test_figures(binary, env, model, work, secs)
                for dtype in filter(None, a.train_dtypes.split(",")):
                    out, secs, _ = matrix.timed(
                        [binary, "finetune", "--data", f"{work}/train.csv", "--seed", str(seed), "--json",
                         "--dtype", dtype], env, f"{work}/ft-{dtype}.err", f"precision-{name}-{seed}-{dtype}.err")
                    low = test_figures(binary, env, json.loads(out)["model_id"], work, secs)
                    r = {"set": name, "seed": seed, "train_dtype": dtype, "f32": f32_run, dtype: low}
                    print(json.dumps(r), flush=True)
                    trained.setdefault((name, dtype), []).append((f32_run, low))
                for dtype in filter(None, a.dtypes.split(",")):
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
    if rows:
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
    if trained:
        print("\n| set | training dtype | seeds | f32 accuracy | accuracy | change (points) | f32 macro-F1 "
              "| macro-F1 | change (points) | f32 s | s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, dtype), pairs in trained.items():
        def col(key, which):
            return [p[which][key] for p in pairs]
        def ms(vals, scale=1.0, fmt="{:.4f}"):
            vals = [v * scale for v in vals]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{fmt.format(statistics.mean(vals))} ± {sd:.{2 if scale != 1.0 else 4}f}"
        d_acc = [b - f for f, b in zip(col("accuracy", 0), col("accuracy", 1))]
        d_f1 = [b - f for f, b in zip(col("f1_macro", 0), col("f1_macro", 1))]
        print(f"| {name} | {dtype} | {len(pairs)} | {ms(col('accuracy', 0))} | {ms(col('accuracy', 1))} "
              f"| {ms(d_acc, 100, '{:+.2f}')} | {ms(col('f1_macro', 0))} | {ms(col('f1_macro', 1))} "
              f"| {ms(d_f1, 100, '{:+.2f}')} | {statistics.mean(col('seconds', 0)):.0f} "
              f"| {statistics.mean(col('seconds', 1)):.0f} |")


def test_figures(binary, env, model, work, seconds):
    """The model's figures on the split's test rows, in f32 inference, and the run's wall time."""
    out = subprocess.run([binary, "eval", "--model", model, "--data", f"{work}/test.csv", "--json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    c = json.loads(out)
    return {"accuracy": c["accuracy"], "f1_macro": c["f1_macro"], "seconds": seconds}


if __name__ == "__main__":
    main()
