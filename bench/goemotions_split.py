"""Seeded train/test split of a multi-label JSON Lines file ({"text": ..., "labels": [names...]}),
for bench/setfit_multilabel.py and attune's own multi-label runs on the same rows.

Default method: iterative stratification (Sechidis, Tsoumakas & Vlahavas, 2011, "On the
stratification of multi-label data"): the rarest label still to place goes first, each of its rows
to the subset that still wants most of that label (ties: the subset that wants most rows, then the
seeded coin). A subset that already holds its share of rows takes no more, so the test file has
exactly --test-rows rows. Rows with an empty label list are dealt out last the same way.
--method random is a plain seeded shuffle instead. Either way the same --seed gives the same files.
Rows keep their input order inside each output file.

Prints one JSON line: rows per file, labels, and the labels the test file lacks.
"""
import argparse, json, os, random

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="../shared/data/goemotions-train.jsonl")
ap.add_argument("--out-dir", required=True)
ap.add_argument("--test-rows", type=int, default=1000)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--method", choices=["iterative", "random"], default="iterative")
a = ap.parse_args()

with open(a.data, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
n = len(rows)
if not 0 < a.test_rows < n:
    raise SystemExit(f"--test-rows must be between 1 and {n - 1} for {n} rows")
rng = random.Random(a.seed)
label_sets = [sorted(set(r["labels"])) for r in rows]
TRAIN, TEST = 0, 1

def random_split():
    order = list(range(n))
    rng.shuffle(order)
    return set(order[: a.test_rows])

def iterative_split():
    want_rows = [n - a.test_rows, a.test_rows]
    ratio = [w / n for w in want_rows]
    unplaced = set(range(n))
    rows_of = {}
    for i, labels in enumerate(label_sets):
        for l in labels:
            rows_of.setdefault(l, set()).add(i)
    want_label = {l: [len(ix) * r for r in ratio] for l, ix in rows_of.items()}
    where = {}

    def place(i, label):
        open_ = [s for s in (TRAIN, TEST) if want_rows[s] > 0]
        if label is not None:
            best = max(want_label[label][s] for s in open_)
            open_ = [s for s in open_ if want_label[label][s] == best]
        best = max(want_rows[s] for s in open_)
        open_ = [s for s in open_ if want_rows[s] == best]
        s = open_[0] if len(open_) == 1 else rng.choice(open_)
        where[i] = s
        want_rows[s] -= 1
        for l in label_sets[i]:
            want_label[l][s] -= 1
        unplaced.discard(i)
        for l in label_sets[i]:
            rows_of[l].discard(i)

    while True:
        live = [l for l, ix in rows_of.items() if ix]
        if not live:
            break
        fewest = min(len(rows_of[l]) for l in live)
        label = rng.choice(sorted(l for l in live if len(rows_of[l]) == fewest))
        todo = sorted(rows_of[label])
        rng.shuffle(todo)
        for i in todo:
            place(i, label)
    rest = sorted(unplaced)  # rows with no label
    rng.shuffle(rest)
    for i in rest:
        place(i, None)
    return {i for i, s in where.items() if s == TEST}

test = random_split() if a.method == "random" else iterative_split()
assert len(test) == a.test_rows
os.makedirs(a.out_dir, exist_ok=True)
for name, keep in (("train.jsonl", lambda i: i not in test), ("test.jsonl", lambda i: i in test)):
    with open(os.path.join(a.out_dir, name), "w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            if keep(i):
                f.write(json.dumps({"text": r["text"], "labels": r["labels"]}, ensure_ascii=False) + "\n")

train_labels = {l for i, ls in enumerate(label_sets) if i not in test for l in ls}
test_labels = {l for i, ls in enumerate(label_sets) if i in test for l in ls}
print(json.dumps({"method": a.method, "seed": a.seed, "rows": n, "train_rows": n - len(test),
                  "test_rows": len(test), "labels": len(train_labels | test_labels),
                  "labels_missing_from_test": sorted(train_labels - test_labels),
                  "labels_missing_from_train": sorted(test_labels - train_labels),
                  "out_dir": a.out_dir}))
