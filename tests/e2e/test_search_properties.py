"""Property-based search tests (hypothesis) through search_proxy, the public data-plane path."""

from __future__ import annotations

import uuid

import marqo
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
CATEGORIES = ["shoes", "hats", "bags"]
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=10).map(lambda t: "zq" + t)
document = st.fixed_dictionaries({
    "title": st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
    "category": st.sampled_from(CATEGORIES),
    "price": st.integers(min_value=0, max_value=500),
})


@pytest.fixture(scope="module")
def index(stack):
    urls = {n: i["url"] for n, i in stack["status"].items()}
    key = stack["env"]["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
    name = f"props-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{urls['controller']}/api/v2/indexes/{name}", headers={"x-api-key": key}, json={}, timeout=30)
    assert created.status_code == 200, created.text
    idx = marqo.Client(url=urls["search_proxy"], api_key=key).index(name)
    seed_docs = [{"_id": f"base{i}", "title": " ".join(WORDS[i % 10: i % 10 + 3]), "category": CATEGORIES[i % 3],
                  "price": i * 17 % 500} for i in range(40)]
    assert idx.add_documents(seed_docs, tensor_fields=["title"])["errors"] is False
    yield idx
    requests.delete(f"{urls['controller']}/api/v2/indexes/{name}", headers={"x-api-key": key}, timeout=30)


@SETTINGS
@given(doc=document)
def test_a_document_added_is_found_by_id(index, doc):
    doc_id = uuid.uuid4().hex
    assert index.add_documents([{"_id": doc_id, **doc}], tensor_fields=["title"])["errors"] is False
    found = index.get_document(doc_id)
    assert {k: found[k] for k in doc} == doc


@SETTINGS
@given(unique=token, doc=document)
def test_a_token_unique_to_one_document_ranks_it_first(index, unique, doc):
    doc_id = uuid.uuid4().hex
    unique += doc_id[:6]  # hypothesis repeats its tokens across examples; the index keeps every document
    index.add_documents([{"_id": doc_id, **doc, "title": f"{doc['title']} {unique}"}], tensor_fields=["title"])
    for method in ("LEXICAL", "HYBRID"):
        hits = index.search(unique, search_method=method, limit=5)["hits"]
        assert hits and hits[0]["_id"] == doc_id, (method, hits[:2])


@SETTINGS
@given(category=st.sampled_from(CATEGORIES), low=st.integers(0, 400), span=st.integers(0, 200),
       method=st.sampled_from(["LEXICAL", "TENSOR", "HYBRID"]))
def test_every_hit_satisfies_the_filter(index, category, low, span, method):
    high = low + span
    hits = index.search(" ".join(WORDS[:4]), search_method=method, limit=50,
                        filter_string=f"category:{category} AND price:[{low} TO {high}]")["hits"]
    for hit in hits:
        assert hit["category"] == category and low <= hit["price"] <= high, hit


@SETTINGS
@given(limit=st.integers(1, 6), pages=st.integers(2, 4), method=st.sampled_from(["LEXICAL", "TENSOR"]))
def test_offset_limit_pages_are_consistent_and_disjoint(index, limit, pages, method):
    query = "alpha bravo charlie"
    whole = [h["_id"] for h in index.search(query, search_method=method, limit=limit * pages)["hits"]]
    paged: list[str] = []
    for page in range(pages):
        ids = [h["_id"] for h in index.search(query, search_method=method, limit=limit, offset=page * limit)["hits"]]
        assert not set(ids) & set(paged)
        paged += ids
    assert paged == whole


@SETTINGS
@given(unique=token, doc=document)
def test_a_deleted_document_never_appears(index, unique, doc):
    doc_id = uuid.uuid4().hex
    unique += doc_id[:6]
    index.add_documents([{"_id": doc_id, **doc, "title": f"{doc['title']} {unique}"}], tensor_fields=["title"])
    assert index.search(unique, search_method="LEXICAL")["hits"][0]["_id"] == doc_id  # warm the response cache
    index.delete_documents([doc_id])
    for method in ("LEXICAL", "TENSOR", "HYBRID"):
        assert doc_id not in [h["_id"] for h in index.search(unique, search_method=method, limit=20)["hits"]]
    with pytest.raises(marqo.errors.MarqoWebError):
        index.get_document(doc_id)
