"""Table tests of the pure decisions behind search: body validation (query.py) and score modifiers
(scoring.py). Expected statuses, codes and messages are Marqo 2's (`SearchQuery`,
`tensor_search.search`, `ScoreModifierLists`); modifier scores are worked by hand from Marqo's
rank expression  score' = prod(w*v, multiply_score_by) * score + sum(w*v, add_to_score).
"""

from __future__ import annotations

import pytest

from fakes.fake_cell import query, scoring
from fakes.fake_cell.errors import CellError
from fakes.fake_cell.scoring import Modifier

REFUSED = [
    # (body, status, code, text in the message)
    ({"q": "x", "efSearch": -100}, 400, "invalid_argument", "efSearch must be a positive integer"),
    ({"q": "x", "efSearch": 0}, 400, "invalid_argument", "efSearch must be a positive integer"),
    ({"q": "x", "efSearch": 10, "searchMethod": "LEXICAL"}, 400, "invalid_argument",
     "efSearch is not a valid argument for lexical search"),
    ({"q": "x", "approximate": True, "searchMethod": "LEXICAL"}, 400, "invalid_argument",
     "approximate is not a valid argument for lexical search"),
    ({"q": "x", "approximate": False, "approximateThreshold": 0.5}, 422, "unprocessable_entity",
     "'approximateThreshold' cannot be set when 'approximate' is False"),
    ({"q": "x", "approximateThreshold": 2}, 422, "unprocessable_entity", "must be between 0 and 1"),
    ({"q": "x", "rerankDepth": -1}, 422, "unprocessable_entity", "rerankDepth cannot be negative."),
    ({"q": "x", "rerankDepth": 5, "searchMethod": "LEXICAL"}, 422, "unprocessable_entity",
     "'rerankDepth' is currently not supported for 'LEXICAL' search method."),
    ({"q": "red", "context": {"tensor": [{"vector": [1, 0], "weight": 1}]}}, 400, "invalid_argument",
     "Cannot use 'context' for a search with a string 'q' (or queryTensor): 'red'."),
    ({"q": "red", "searchMethod": "HYBRID", "context": {"tensor": [{"vector": [1], "weight": 1}]}}, 400,
     "invalid_argument", "Cannot use 'context' for a search with a string 'q'"),
    ({"q": "x", "boost": {"title": [2, 1]}}, 400, "invalid_argument", "Boosting is not currently supported"),
    ({"q": "x", "reRanker": "owl/ViT-B/32"}, 400, "invalid_argument", "Reranker is no longer supported"),
    ({"q": "x", "searchMethod": "HYBRID", "facets": {"fields": {}}}, 400, "invalid_argument",
     "'facets' is not implemented by fake_cell"),
    ({"q": "x", "boosting": 2}, 422, "unprocessable_entity", "boosting: extra fields not permitted"),
    ({"q": "x", "hybridParameters": {"alpha": 0.3}}, 422, "unprocessable_entity",
     "Hybrid parameters can only be provided for 'HYBRID' search. Search method is TENSOR."),
    ({"searchMethod": "LEXICAL"}, 422, "unprocessable_entity", "Query(q) is required for lexical search"),
    ({"limit": 3}, 422, "unprocessable_entity",
     "One of Query(q) or context is required for TENSOR search but both are missing"),
    ({"q": "x", "limit": 0}, 400, "illegal_requested_doc_count", "result_count must be an integer greater than 0!"),
    ({"q": "x", "limit": 1001}, 400, "illegal_requested_doc_count",
     "less than or equal to the MARQO_MAX_SEARCH_LIMIT limit of [1000]"),
    ({"q": "x", "offset": 10_001}, 400, "illegal_requested_doc_count", "MARQO_MAX_RETRIEVABLE_DOCS"),
    ({"q": "x", "interpolationMethod": "cubic"}, 422, "unprocessable_entity", "interpolationMethod"),
    ({"q": "x", "scoreModifiers": {}}, 400, "invalid_argument",
     "At least one of multiply_score_by or add_to_score must be provided"),
]


@pytest.mark.parametrize("body, status, code, text", REFUSED)
def test_refused_search_bodies(body, status, code, text):
    with pytest.raises(CellError) as info:
        query.parse_search(body)
    assert (info.value.status, info.value.code) == (status, code)
    assert text in info.value.message


@pytest.mark.parametrize("body", [
    {"q": "x", "efSearch": 200, "approximate": False},
    {"q": "x", "approximate": True, "approximateThreshold": 0.3, "rerankDepth": 50},
    {"q": {"red": 1.0}, "context": {"tensor": [{"vector": [1, 0], "weight": 0.5}]}},
    {"context": {"tensor": [{"vector": [1, 0], "weight": 1}]}},
    {"q": {"customVector": {"content": "a", "vector": [1, 0]}}},
    {"q": "x", "searchMethod": "hybrid", "hybridParameters": {"alpha": 0.3}},
    # what the marqo client sends besides: headers and auth it has, null parameters it leaves out
    {"q": "x", "image_download_headers": {}, "mediaDownloadHeaders": {}, "modelAuth": None, "boost": None,
     "textQueryPrefix": "query: ", "interpolationMethod": "slerp"},
])
def test_accepted_search_bodies(body):
    query.parse_search(body)


def test_a_custom_vector_query_is_a_context_vector():
    req = query.parse_search({"q": {"customVector": {"vector": [0, 2]}}})
    assert (req.q, req.context) == (None, [([0.0, 2.0], 1.0)])


@pytest.mark.parametrize("modifiers, reason", [
    ({"multiply_score_by": []}, "At least one ScoreModifierOperator is required in multiply_score_by"),
    ({"add_to_score": [{"field_name": "a"}], "divide_by": []}, "extra fields not permitted"),
    ({"add_to_score": [{"field_name": "a", "weight": "heavy"}]}, "'weight' of 'a' must be a number"),
    ({"add_to_score": [{"field_name": "a", "bias": 1}]}, "extra fields not permitted"),
    ({"add_to_score": [{"weight": 1}]}, "needs a string 'field_name'"),
    ({"add_to_score": {"field_name": "a"}}, "must be a list"),
    ({"add_to_score": [{"field_name": "_id"}]}, "_id is not allowed as a field_name"),
])
def test_bad_score_modifiers_are_refused(modifiers, reason):
    with pytest.raises(CellError) as info:
        scoring.parse(modifiers)
    assert (info.value.status, info.value.code) == (400, "invalid_argument")
    assert reason in info.value.message


def test_score_modifiers_parse_with_default_weight():
    assert scoring.parse({"multiply_score_by": [{"field_name": "pop"}], "add_to_score": [{"field_name": "s", "weight": -2}]}) == (
        Modifier("pop", 1.0, "multiply_score_by"), Modifier("s", -2.0, "add_to_score"))


MUL, ADD = "multiply_score_by", "add_to_score"
DOC = {"pop": 3, "rating": 0.5, "zero": 0, "name": "x", "flag": True, "stats": {"likes": 4}}


@pytest.mark.parametrize("score, modifiers, expected", [
    (0.8, [("pop", 1, MUL)], 2.4),                                 # 0.8 * (1*3)
    (0.8, [("pop", 2, MUL), ("rating", 1, MUL)], 2.4),             # 0.8 * (2*3) * (1*0.5)
    (0.8, [("pop", 0.1, ADD)], 1.1),                               # 0.8 + 0.1*3
    (0.8, [("pop", -0.1, ADD), ("rating", 2, MUL)], 0.5),          # 0.8 * (2*0.5) + (-0.1*3)
    (0.8, [("zero", 1, MUL)], 0.0),                                # multiplied by a field holding 0
    (0.8, [("missing", 5, MUL), ("missing", 5, ADD)], 0.8),        # absent: empty product 1, empty sum 0
    (0.8, [("name", 5, MUL), ("flag", 5, ADD)], 0.8),              # text and booleans are not numbers
    (0.8, [("stats.likes", 0.5, ADD)], 2.8),                       # a map's number as map.key
    (0.0, [("pop", 10, MUL), ("pop", 1, ADD)], 3.0),               # 0 * 30 + 3
])
def test_modified_scores(score, modifiers, expected):
    parsed = tuple(Modifier(field, float(weight), kind) for field, weight, kind in modifiers)
    assert scoring.apply(score, DOC, parsed) == pytest.approx(expected)


def test_a_structured_index_accepts_only_score_modifier_fields():
    fields = {"price": {"name": "price", "type": "float", "features": ["score_modifier"]},
              "title": {"name": "title", "type": "text", "features": ["lexical_search"]},
              "stats": {"name": "stats", "type": "map<text, int>", "features": ["score_modifier"]}}
    scoring.check_structured((Modifier("price", 1, MUL), Modifier("stats.likes", 1, ADD)), "shop", fields)
    with pytest.raises(CellError) as info:
        scoring.check_structured((Modifier("title", 1, MUL),), "shop", fields)
    assert (info.value.status, info.value.code) == (400, "invalid_field_name")
    assert info.value.message == ("Index shop has no score modifier field title. "
                                  "Available score modifier fields are: price, stats")
