"""The official `marqo` client, unchanged, against a real fake_cell process."""

from __future__ import annotations

import uuid

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

DOCS = [
    {"_id": "shoe-red", "title": "Red running shoes", "description": "Light shoes for the marathon",
     "genre": "sport", "price": 80, "active": True, "tags": ["red", "sale"]},
    {"_id": "sky", "title": "Blue sky over the mountains", "description": "A nature documentary",
     "genre": "nature documentary", "price": 15, "active": False, "tags": ["blue"]},
    {"_id": "cake", "title": "Chocolate cake recipe", "description": "Bake it in forty minutes",
     "genre": "cooking", "price": 5, "active": True},
    {"_id": "boots", "title": "Hiking boots", "description": "Waterproof leather for the mountains",
     "genre": "sport", "price": 120, "active": True, "tags": ["brown"]},
]


@pytest.fixture
def client(cell) -> marqo.Client:
    return marqo.Client(url=cell.url)


@pytest.fixture
def index(client):
    name = f"idx-{uuid.uuid4().hex[:10]}"
    client.create_index(name)
    res = client.index(name).add_documents(DOCS, tensor_fields=["title", "description"])
    assert res["errors"] is False, res
    yield client.index(name)
    client.delete_index(name)


def ids(result):
    return [hit["_id"] for hit in result["hits"]]


def test_index_lifecycle(client):
    name = f"life-{uuid.uuid4().hex[:8]}"
    assert client.create_index(name, model="hf/e5-base-v2", treat_urls_and_pointers_as_images=False)[
        "acknowledged"]
    with pytest.raises(MarqoWebError) as dup:
        client.create_index(name)
    assert (dup.value.status_code, dup.value.code) == (409, "index_already_exists")
    assert {"indexName": name} in client.get_indexes()["results"]
    settings = client.index(name).get_settings()
    assert settings["type"] == "unstructured" and settings["model"] == "hf/e5-base-v2"
    assert settings["treatUrlsAndPointersAsImages"] is False
    assert client.index(name).get_stats()["numberOfDocuments"] == 0
    assert client.index(name).health()["status"] == "green"
    assert client.get_index(name).index_name == name
    client.delete_index(name)
    assert {"indexName": name} not in client.get_indexes()["results"]
    with pytest.raises(MarqoWebError) as missing:
        client.http.delete(path=f"indexes/{name}")
    assert (missing.value.status_code, missing.value.code) == (404, "index_not_found")
    with pytest.raises(MarqoWebError) as missing:
        client.index(name).get_stats()
    assert missing.value.code == "index_not_found"


def test_structured_index_settings_and_schema(client):
    name = f"struct-{uuid.uuid4().hex[:8]}"
    client.create_index(name, type="structured", all_fields=[
        {"name": "title", "type": "text", "features": ["lexical_search"]},
        {"name": "price", "type": "float", "features": ["filter"]}], tensor_fields=["title"])
    idx = client.index(name)
    assert idx.get_settings()["tensorFields"] == ["title"]
    res = idx.add_documents([{"_id": "a", "title": "green apple", "price": 1.5},
                             {"_id": "b", "title": "x", "nope": 1},
                             {"_id": "c", "title": 3}])
    assert [i["status"] for i in res["items"]] == [200, 400, 400] and res["errors"] is True
    assert ids(idx.search("apple", filter_string="price:[1 TO 2]")) == ["a"]
    assert ids(idx.search("apple", search_method="LEXICAL")) == ["a"]
    with pytest.raises(MarqoWebError) as bad:
        client.create_index(f"bad-{uuid.uuid4().hex[:6]}", settings_dict={
            "type": "structured", "allFields": [{"name": "t", "type": "nonsense"}]})
    assert bad.value.status_code == 400 and "allFields[0].type" in str(bad.value.message)
    client.delete_index(name)


def test_add_documents_reports_per_item_errors(client, index):
    res = index.add_documents([
        {"_id": "ok", "title": "fine"},
        {"title": "generated id"},
        {"_id": 5, "title": "numeric id"},
        {"_id": "nested", "meta": {"a": "b"}},
        {"_id": "null", "title": None},
    ], tensor_fields=["title"])
    statuses = [item["status"] for item in res["items"]]
    assert statuses == [200, 200, 400, 400, 400]
    assert res["errors"] is True and "processingTimeMs" in res and res["index_name"] == index.index_name
    assert all("message" in item and "code" in item for item in res["items"] if item["status"] == 400)
    generated = res["items"][1]["_id"]
    assert index.get_document(generated)["title"] == "generated id"
    stats = index.get_stats()
    assert stats["numberOfDocuments"] == len(DOCS) + 2
    assert stats["numberOfVectors"] == 2 * len(DOCS) + 2


def test_unstructured_add_requires_tensor_fields(index):
    with pytest.raises(MarqoWebError) as info:
        index.add_documents([{"_id": "x", "title": "y"}])
    assert info.value.status_code == 400 and "tensorFields" in str(info.value.message)


def test_get_one_and_several(index):
    doc = index.get_document("sky")
    assert doc == {"_id": "sky", **{k: v for k, v in DOCS[1].items() if k != "_id"}}
    facets = index.get_document("sky", expose_facets=True)["_tensor_facets"]
    assert {next(iter(f)) for f in facets} == {"title", "description"}
    assert all(len(f["_embedding"]) == 768 for f in facets)
    with pytest.raises(MarqoWebError) as info:
        index.get_document("nope")
    assert (info.value.status_code, info.value.code) == (404, "document_not_found")
    results = index.get_documents(["cake", "nope", "sky"])["results"]
    assert [(r["_id"], r["_found"]) for r in results] == [("cake", True), ("nope", False), ("sky", True)]
    assert results[0]["title"] == "Chocolate cake recipe"


def test_update_documents(index):
    res = index.update_documents([{"_id": "cake", "price": 7, "title": "Lemon cake recipe"},
                                  {"_id": "ghost", "price": 1}])
    assert [i["status"] for i in res["items"]] == [200, 404] and res["errors"] is True
    doc = index.get_document("cake")
    assert doc["price"] == 7 and doc["genre"] == "cooking" and doc["title"] == "Lemon cake recipe"
    assert ids(index.search("lemon", search_method="LEXICAL")) == ["cake"]
    assert ids(index.search("cake", filter_string="price:7")) == ["cake"]
    assert index.search("lemon")["hits"][0]["_id"] == "cake"


def test_delete_batch(index):
    res = index.delete_documents(["sky", "nope"])
    assert [(i["_id"], i["status"]) for i in res["items"]] == [("sky", 200), ("nope", 404)]
    assert res["details"]["deletedDocuments"] == 1
    assert "sky" not in ids(index.search("sky mountains", limit=10))
    assert "sky" not in ids(index.search("sky", search_method="LEXICAL"))
    assert index.get_stats()["numberOfDocuments"] == len(DOCS) - 1


@pytest.mark.parametrize("method", ["TENSOR", "LEXICAL", "HYBRID"])
def test_each_method_ranks_matching_documents_first(index, method):
    res = index.search("chocolate cake", search_method=method)
    assert res["hits"][0]["_id"] == "cake"
    assert {"query", "limit", "offset", "processingTimeMs"} <= set(res)
    assert all("_score" in hit for hit in res["hits"])
    scores = [hit["_score"] for hit in res["hits"]]
    assert scores == sorted(scores, reverse=True)
    res = index.search("mountains", search_method=method)
    assert set(ids(res)[:2]) == {"sky", "boots"}


def test_tensor_ranks_doc_with_query_words_above_others(index):
    res = index.search("waterproof leather")
    assert res["hits"][0]["_id"] == "boots"
    assert res["hits"][0]["_score"] > res["hits"][1]["_score"]
    assert res["hits"][0]["_highlights"] == [{"description": "Waterproof leather for the mountains"}]


def test_lexical_matches_only_documents_with_the_words(index):
    assert ids(index.search("marathon", search_method="LEXICAL")) == ["shoe-red"]
    assert ids(index.search("zebra", search_method="LEXICAL")) == []
    assert ids(index.search('"chocolate cake"', search_method="LEXICAL")) == ["cake"]
    only_titles = index.search("mountains", search_method="LEXICAL", searchable_attributes=["title"])
    assert ids(only_titles) == ["sky"]


@pytest.mark.parametrize("method", ["TENSOR", "LEXICAL", "HYBRID"])
@pytest.mark.parametrize("filter_string, expected", [
    ("genre:sport", {"shoe-red", "boots"}),
    ("genre:(nature documentary)", {"sky"}),
    ("price:[10 TO 100]", {"shoe-red", "sky"}),
    ("genre:sport AND NOT tags:red", {"boots"}),
    ("active:false OR price:[100 TO *]", {"sky", "boots"}),
    ("(genre:cooking OR genre:sport) AND price:[* TO 90]", {"cake", "shoe-red"}),
])
def test_filters(index, method, filter_string, expected):
    q = "shoes mountains cake documentary boots" if method != "TENSOR" else "anything"
    res = index.search(q, search_method=method, filter_string=filter_string, limit=10)
    assert set(ids(res)) == expected


def test_bad_filter_is_a_400_naming_the_problem(index):
    with pytest.raises(MarqoWebError) as info:
        index.search("x", filter_string="genre:sport AND")
    assert info.value.status_code == 400 and info.value.code == "invalid_argument"
    assert "filter" in str(info.value.message)


def test_limit_offset_and_attributes(index):
    everything = ids(index.search("shoes", limit=4))
    assert len(everything) == 4
    assert ids(index.search("shoes", limit=2)) == everything[:2]
    assert ids(index.search("shoes", limit=2, offset=2)) == everything[2:4]
    lexical = ids(index.search("mountains", search_method="LEXICAL", limit=1, offset=1))
    assert len(lexical) == 1
    hit = index.search("cake", attributes_to_retrieve=["genre"])["hits"][0]
    assert set(hit) == {"_id", "genre", "_highlights", "_score"}
    with pytest.raises(MarqoWebError) as info:
        index.search("x", limit=0)
    assert (info.value.status_code, info.value.code) == (400, "illegal_requested_doc_count")
    assert info.value.message["message"] == "result_count must be an integer greater than 0! Received 0"


def test_highlights(index):
    hit = index.search("chocolate")["hits"][0]
    assert hit["_highlights"] == [{"title": "Chocolate cake recipe"}]
    assert "_highlights" not in index.search("chocolate", show_highlights=False)["hits"][0]
    hybrid = index.search("chocolate", search_method="HYBRID")["hits"][0]
    assert hybrid["_highlights"] and "_lexical_score" in hybrid and "_tensor_score" in hybrid


def test_recommend_and_embed(index):
    res = index.recommend(["boots"], limit=2)
    assert "boots" not in ids(res) and ids(res)[0] == "sky"
    embedded = index.embed(["hello world", "chocolate cake"])
    assert len(embedded["embeddings"]) == 2 and len(embedded["embeddings"][0]) == 768
    again = index.embed("hello world")["embeddings"][0]
    assert again == embedded["embeddings"][0]


def test_custom_vectors_and_multimodal_mappings(client):
    name = f"map-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model_properties={"dimensions": 4}, model="custom")
    idx = client.index(name)
    res = idx.add_documents([
        {"_id": "v", "vec": {"content": "a vector", "vector": [1, 0, 0, 0]}, "title": "t"},
        {"_id": "w", "vec": {"content": "b vector", "vector": [0, 1, 0, 0]}, "title": "u"},
    ], tensor_fields=["vec", "combo"], mappings={
        "vec": {"type": "custom_vector"},
        "combo": {"type": "multimodal_combination", "weights": {"title": 1.0}}})
    assert res["errors"] is False, res
    hits = idx.search(context={"tensor": [{"vector": [0, 1, 0, 0], "weight": 1}]},
                      searchable_attributes=["vec"])["hits"]
    assert hits[0]["_id"] == "w" and hits[0]["vec"] == "b vector"
    idx.update_documents([{"_id": "w", "title": "new"}])
    hits = idx.search(context={"tensor": [{"vector": [0, 1, 0, 0], "weight": 1}]},
                      searchable_attributes=["vec"])["hits"]
    assert hits[0]["_id"] == "w"
    client.delete_index(name)


def test_root_and_health(cell):
    root = requests.get(cell.url + "/", timeout=5).json()
    assert root["message"] == "Welcome to Marqo" and root["version"].startswith("2.")
    assert requests.get(cell.url + "/health", timeout=5).json()["status"] == "green"
    assert requests.get(cell.url + "/healthz", timeout=5).status_code == 200


def test_the_text_of_a_custom_vector_field_is_filterable(cell):
    """Marqo stores a custom vector's `content` as a string field: filterable like any short string,
    also after a partial update that leaves the vector untouched."""
    client = marqo.Client(url=cell.url)
    name = f"cv-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model="my-vectors", model_properties={"dimensions": 3})
    index = client.index(name)
    index.add_documents([
        {"_id": "rose", "vec": {"content": "rose petal", "vector": [1, 0, 0]}, "n": 1},
        {"_id": "oak", "vec": {"content": "oak leaf", "vector": [0, 1, 0]}, "n": 2},
    ], tensor_fields=["vec"], mappings={"vec": {"type": "custom_vector"}})

    def ids(filter_string):
        return sorted(h["_id"] for h in index.search("*", search_method="LEXICAL", filter_string=filter_string)["hits"])

    assert ids("vec:(rose petal)") == ["rose"]
    assert ids("NOT vec:(rose petal)") == ["oak"]
    assert ids("vec:(oak leaf) OR n:1") == ["oak", "rose"]
    index.update_documents([{"_id": "rose", "n": 5}])
    assert ids("vec:(rose petal) AND n:5") == ["rose"]
    assert [h["_id"] for h in index.search(q={"x": 0}, context={"tensor": [{"vector": [1, 0, 0], "weight": 1}]},
                                           filter_string="vec:(rose petal)")["hits"]] == ["rose"]
