"""Search validation and score modifiers through the official client, as Marqo 2 answers them.

Score modifier cases are worked by hand from Marqo's rank expression
    score' = prod(weight * value over multiply_score_by fields present) * score
             + sum(weight * value over add_to_score fields present)
on an index of 2-d custom vectors, so each document's plain TENSOR score is a known cosine:
a = 1.0, b = 0.8, c = 0.6, d = 0.0 against the query vector [1, 0].
"""

from __future__ import annotations

import uuid

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

QUERY = {"customVector": {"content": "east", "vector": [1, 0]}}
DOCS = [
    {"_id": "a", "v": {"content": "east", "vector": [1, 0]}, "popularity": 2, "boost": 0.5},
    {"_id": "b", "v": {"content": "east north east", "vector": [0.8, 0.6]}, "popularity": 3, "stats": {"likes": 5}},
    {"_id": "c", "v": {"content": "north east", "vector": [0.6, 0.8]}, "popularity": 10, "boost": 1},
    {"_id": "d", "v": {"content": "north", "vector": [0, 1]}},
]


@pytest.fixture(scope="module")
def index(cell):
    client = marqo.Client(url=cell.url)
    name = f"mod-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model="my-vectors", model_properties={"dimensions": 2})
    res = client.index(name).add_documents(DOCS, tensor_fields=["v"], mappings={"v": {"type": "custom_vector"}})
    assert res["errors"] is False, res
    return client.index(name)


def scores(result) -> list[tuple[str, float]]:
    return [(hit["_id"], hit["_score"]) for hit in result["hits"]]


def expect(result, expected: list[tuple[str, float]]) -> None:
    got = scores(result)
    assert [doc for doc, _ in got] == [doc for doc, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], rel=1e-6, abs=1e-7)


def test_plain_tensor_scores_are_the_cosines(index):
    expect(index.search(q=QUERY), [("a", 1.0), ("b", 0.8), ("c", 0.6), ("d", 0.0)])


@pytest.mark.parametrize("modifiers, expected", [
    # 1.0*2, 0.8*3, 0.6*10, d has no popularity: x1
    ({"multiply_score_by": [{"field_name": "popularity"}]}, [("c", 6.0), ("b", 2.4), ("a", 2.0), ("d", 0.0)]),
    # 1.0+0.2, 0.8+0.3, 0.6+1.0, 0.0
    ({"add_to_score": [{"field_name": "popularity", "weight": 0.1}]}, [("c", 1.6), ("a", 1.2), ("b", 1.1), ("d", 0.0)]),
    # (2*0.5)*1.0 - 0.2, 0.8 - 0.3 (no boost: x1), (2*1)*0.6 - 1.0, 0.0
    ({"multiply_score_by": [{"field_name": "boost", "weight": 2}],
      "add_to_score": [{"field_name": "popularity", "weight": -0.1}]},
     [("a", 0.8), ("b", 0.5), ("c", 0.2), ("d", 0.0)]),
    # a map's number as map.key: 0.8 + 5
    ({"add_to_score": [{"field_name": "stats.likes"}]}, [("b", 5.8), ("a", 1.0), ("c", 0.6), ("d", 0.0)]),
    # a field no document has changes nothing
    ({"multiply_score_by": [{"field_name": "absent", "weight": 3}], "add_to_score": [{"field_name": "absent"}]},
     [("a", 1.0), ("b", 0.8), ("c", 0.6), ("d", 0.0)]),
])
def test_tensor_scores_and_order_follow_the_modifiers(index, modifiers, expected):
    expect(index.search(q=QUERY, score_modifiers=modifiers), expected)


def test_modifiers_rerank_only_the_retrieved_candidates(index):
    """Marqo applies them to the `limit` nearest documents (its score modifier best practices)."""
    mult = {"multiply_score_by": [{"field_name": "popularity"}]}
    expect(index.search(q=QUERY, score_modifiers=mult, limit=1), [("a", 2.0)])
    expect(index.search(q=QUERY, score_modifiers=mult, limit=2), [("b", 2.4), ("a", 2.0)])
    # offset 1, limit 2: the 3 nearest (a, b, c) re-ranked to c, b, a; the page starts at b
    expect(index.search(q=QUERY, score_modifiers=mult, limit=2, offset=1), [("b", 2.4), ("a", 2.0)])


def test_lexical_match_all_scores_follow_the_modifiers(index):
    """q="*" gives every document the score 1.0; modifiers rank every match: 1+2, 1+3, 1+10, 1."""
    expect(index.search("*", search_method="LEXICAL", score_modifiers={"add_to_score": [{"field_name": "popularity"}]}),
           [("c", 11.0), ("b", 4.0), ("a", 3.0), ("d", 1.0)])


def test_hybrid_scores_follow_the_modifiers(index):
    """Tensor ranking only: the fused score is 1/(60 + rank); add 0.001 * popularity:
    c 1/63 + 0.010 = 0.02587, b 1/62 + 0.003 = 0.01913, a 1/61 + 0.002 = 0.01839, d 1/64 = 0.01563."""
    result = index.search(q=QUERY, search_method="HYBRID",
                          hybrid_parameters={"retrievalMethod": "tensor", "rankingMethod": "tensor"},
                          score_modifiers={"add_to_score": [{"field_name": "popularity", "weight": 0.001}]})
    expect(result, [("c", 1 / 63 + 0.010), ("b", 1 / 62 + 0.003), ("a", 1 / 61 + 0.002), ("d", 1 / 64)])


@pytest.mark.parametrize("modifiers, text", [
    ({"multiply_score_by": []}, "At least one ScoreModifierOperator is required in multiply_score_by"),
    ({"add_to_score": [{"field_name": "popularity", "weight": "heavy"}]}, "must be a number"),
    ({"divide_by": [{"field_name": "popularity"}]}, "extra fields not permitted"),
    ({"add_to_score": [{"field_name": "_id"}]}, "_id is not allowed as a field_name"),
])
def test_bad_modifiers_are_refused(index, modifiers, text):
    with pytest.raises(MarqoWebError) as info:
        index.search(q=QUERY, score_modifiers=modifiers)
    assert (info.value.status_code, info.value.code) == (400, "invalid_argument")
    assert text in info.value.message["message"]


def test_structured_modifier_fields_must_be_declared(cell):
    client = marqo.Client(url=cell.url)
    name = f"smod-{uuid.uuid4().hex[:8]}"
    client.create_index(name, type="structured", tensor_fields=["title"], all_fields=[
        {"name": "title", "type": "text", "features": ["lexical_search"]},
        {"name": "price", "type": "float", "features": ["score_modifier"]},
        {"name": "stock", "type": "int", "features": ["filter"]}])
    index = client.index(name)
    index.add_documents([{"_id": "cheap", "title": "red shoes", "price": 1.0, "stock": 5},
                         {"_id": "dear", "title": "red shoes", "price": 100.0, "stock": 5}])
    assert index.search("red shoes", score_modifiers={"add_to_score": [{"field_name": "price"}]})["hits"][0]["_id"] == "dear"
    with pytest.raises(MarqoWebError) as info:
        index.search("red shoes", score_modifiers={"add_to_score": [{"field_name": "stock"}]})
    assert (info.value.status_code, info.value.code) == (400, "invalid_field_name")
    assert info.value.message["message"] == f"Index {name} has no score modifier field stock. Available score modifier fields are: price"


def test_search_parameters_marqo_refuses(index):
    for kwargs, text in [
        ({"q": "east", "ef_search": -100}, "efSearch must be a positive integer"),
        ({"q": "east", "search_method": "LEXICAL", "ef_search": 1000}, "efSearch is not a valid argument for lexical search"),
        ({"q": "east", "search_method": "LEXICAL", "approximate": True}, "approximate is not a valid argument for lexical search"),
        ({"q": "east", "context": {"tensor": [{"vector": [1, 0], "weight": 1}]}},
         "Cannot use 'context' for a search with a string 'q' (or queryTensor): 'east'."),
        ({"q": "east", "boost": {"v": [2, 0]}}, "Boosting is not currently supported with Vespa"),
    ]:
        with pytest.raises(MarqoWebError) as info:
            index.search(**kwargs)
        assert (info.value.status_code, info.value.code) == (400, "invalid_argument"), kwargs
        assert text in info.value.message["message"], kwargs
    assert index.search("east", ef_search=100, approximate=False)["hits"]  # accepted where Marqo accepts them


def test_an_unknown_search_parameter_is_marqos_422(cell, index):
    response = requests.post(f"{cell.url}/indexes/{index.index_name}/search", json={"q": "east", "boosting": 2}, timeout=5)
    assert (response.status_code, response.json()["code"]) == (422, "unprocessable_entity")
    assert response.json()["detail"] == [{"loc": ["body", "boosting"], "msg": "extra fields not permitted",
                                          "type": "value_error.extra"}]


def test_empty_document_lists_are_marqos_errors(index):
    for call in (lambda: index.add_documents([], tensor_fields=[]), lambda: index.update_documents([])):
        with pytest.raises(MarqoWebError) as info:
            call()
        assert (info.value.status_code, info.value.code) == (400, "bad_request")
        assert info.value.message["message"] == "Received empty add documents request"
    with pytest.raises(MarqoWebError) as info:
        index.delete_documents([])
    assert (info.value.status_code, info.value.code) == (400, "invalid_document_id")
    assert info.value.message["message"] == "doc_ids can't be empty!"
    assert index.get_stats()["numberOfDocuments"] == len(DOCS)
