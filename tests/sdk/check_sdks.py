"""The official OpenAI and Cohere Python SDKs against a running `attune serve` (tests/sdk.rs
starts it): every call is checked for values, not only for "no exception".

  python check_sdks.py BASE_URL KEY BASE_MODEL FINETUNED_ID REFERENCE.json

REFERENCE.json holds {"texts": [...], "embeddings": [[...], ...]} from `attune embed`.
"""
import json
import math
import sys

import cohere
import openai
from openai import OpenAI

base, key, model, finetuned, ref_path = sys.argv[1:6]
ref = json.load(open(ref_path))
texts, expected = ref["texts"], ref["embeddings"]
DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"


def close(got, want, tol=1e-6, what=""):
    got = list(got)
    assert len(got) == len(want), f"{what}: {len(got)} numbers, expected {len(want)}"
    worst = max(abs(a - b) for a, b in zip(got, want))
    assert worst <= tol, f"{what}: max abs difference {worst} > {tol}"


def check(name, f):
    f()
    print(f"ok: {name}")


oa = OpenAI(base_url=base + "/v1", api_key=key)


def openai_default():
    # The SDK's default call asks for base64 and decodes it itself.
    r = oa.embeddings.create(model=model, input=texts)
    for d, e in zip(r.data, expected):
        close(d.embedding, e, what="openai default")
    assert r.usage.prompt_tokens > 0


def openai_float():
    r = oa.embeddings.create(model=model, input=texts, encoding_format="float")
    for d, e in zip(r.data, expected):
        close(d.embedding, e, what="openai float")


def openai_base64():
    import base64
    import struct
    raw = oa.embeddings.with_raw_response.create(model=model, input=texts, encoding_format="base64")
    body = json.loads(raw.http_response.text)
    for d, e in zip(body["data"], expected):
        b = base64.b64decode(d["embedding"])
        close(struct.unpack(f"<{len(b) // 4}f", b), e, what="openai base64")


def openai_dimensions():
    r = oa.embeddings.create(model=model, input=texts[0], dimensions=8)
    v = r.data[0].embedding
    n = math.sqrt(sum(x * x for x in expected[0][:8]))
    close(v, [x / n for x in expected[0][:8]], tol=1e-5, what="openai dimensions")


def openai_models():
    ids = [m.id for m in oa.models.list()]
    assert finetuned in ids and DEFAULT in ids, ids
    assert oa.models.retrieve(finetuned).id == finetuned


def openai_typed_error():
    try:
        oa.embeddings.create(model="no-such-model", input="x")
    except openai.NotFoundError as e:
        assert "no model" in str(e), str(e)
    else:
        raise AssertionError("no error for an unknown model")


co = cohere.Client(base_url=base, api_key=key)


def cohere_v1_embed():
    r = co.embed(texts=texts, model=model, input_type="classification")
    for got, want in zip(r.embeddings, expected):
        close(got, want, what="cohere v1 float")
    assert r.meta.billed_units.input_tokens > 0


def cohere_v1_embed_types():
    r = co.embed(texts=texts, model=model, input_type="classification", embedding_types=["float", "int8"])
    for got, want in zip(r.embeddings.float_, expected):
        close(got, want, what="cohere v1 by type")
    assert r.embeddings.int8[0][0] == round(expected[0][0] * 127)


def cohere_v1_classify():
    r = co.classify(inputs=[texts[0]], model=finetuned)
    assert r.classifications[0].prediction in ("travel", "money", "login"), r
    examples = [
        cohere.ClassifyExample(text="cheap flight fare", label="travel"),
        cohere.ClassifyExample(text="flight to boston", label="travel"),
        cohere.ClassifyExample(text="refund my card", label="money"),
        cohere.ClassifyExample(text="card payment cost", label="money"),
    ]
    r = co.classify(inputs=["cheap flight fare"], model=model, examples=examples)
    assert r.classifications[0].prediction == "travel", r


def cohere_v2_embed():
    co2 = cohere.ClientV2(base_url=base, api_key=key)
    r = co2.embed(texts=texts, model=model, input_type="classification", embedding_types=["float"])
    for got, want in zip(r.embeddings.float_, expected):
        close(got, want, what="cohere v2")


for name, f in [
    ("openai embeddings, the default call (base64)", openai_default),
    ("openai embeddings, float", openai_float),
    ("openai embeddings, base64 bytes", openai_base64),
    ("openai embeddings, dimensions", openai_dimensions),
    ("openai models list and retrieve", openai_models),
    ("openai typed error", openai_typed_error),
    ("cohere v1 embed", cohere_v1_embed),
    ("cohere v1 embed by type", cohere_v1_embed_types),
    ("cohere v1 classify", cohere_v1_classify),
    ("cohere v2 embed", cohere_v2_embed),
]:
    check(name, f)
print("all SDK checks passed")
