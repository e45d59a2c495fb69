"""LEXICAL search is Marqo's weakAnd (Vespa's default targetHits, 100): when a term matches more documents than
that, bm25 ranks candidates only - the first documents matching every term, then the first matching each term -
so a search costs the same whatever the index's size. Below that, every match is ranked (the other tests)."""

from __future__ import annotations

import uuid

import marqo
import pytest

from fakes.fake_cell.store import TARGET_HITS, weak_and_tiers
from fakes.fake_cell.search import or_terms


@pytest.mark.parametrize("q, expected", [
    ("red shoe", ["red", "shoe"]),
    ("red red shoe", ["red", "shoe"]),
    ('red "running shoe"', None),  # a required phrase: every match of it is ranked
    ("", None),
    ("!!", None),
])
def test_the_terms_of_an_or_query(q, expected):
    assert or_terms(q) == expected


def test_candidates_come_from_tiers_that_each_hold_every_term_of_the_query():
    assert weak_and_tiers(["shoe", "shoe"]) == ['"shoe"']
    assert weak_and_tiers(["red", "shoe"]) == ['"red" AND "shoe"', '"red" AND ("shoe")', '"red" NOT ("shoe")',
                                               '"shoe" AND ("red")', '"shoe" NOT ("red")']
    assert weak_and_tiers(["a", "b", "c"])[:3] == ['"a" AND "b" AND "c"', '"a" AND ("b" OR "c")', '"a" NOT ("b" OR "c")']


def test_below_target_hits_the_answer_is_every_match_scored(cell):
    """The same hits and the same scores as bm25 over every match, on a mixed query (covered tier by tier)."""
    client = marqo.Client(url=cell.url)
    name = f"exact-{uuid.uuid4().hex[:8]}"
    client.create_index(name, type="structured",
                        all_fields=[{"name": "title", "type": "text", "features": ["lexical_search"]},
                                    {"name": "body", "type": "text", "features": ["lexical_search"]},
                                    {"name": "n", "type": "int", "features": ["filter"]}],
                        tensor_fields=[])
    index = client.index(name)
    words = ["red", "shoe", "blue", "hat", "zebra"]
    docs = [{"_id": f"d{i}", "title": " ".join(words[(i * k) % 5] for k in (1, 2)),
             "body": " ".join(words[(i * k + 1) % 5] for k in range(i % 4)), "n": i} for i in range(60)]
    assert index.add_documents(docs)["errors"] is False
    try:
        weak = index.search("red shoe zebra", search_method="LEXICAL", limit=60)["hits"]
        # a filter that every document passes: every match is scored, without tiers
        every = index.search("red shoe zebra", search_method="LEXICAL", limit=60, filter_string="n:[0 TO 1000]")["hits"]
        assert len(weak) > 30
        assert {h["_id"]: round(h["_score"], 9) for h in weak} == {h["_id"]: round(h["_score"], 9) for h in every}
    finally:
        client.delete_index(name)


@pytest.fixture
def crowded(cell):
    """An index where "shoe" matches 3 × TARGET_HITS documents; the best of them by bm25 alone comes last."""
    client = marqo.Client(url=cell.url)
    name = f"weak-{uuid.uuid4().hex[:8]}"
    client.create_index(name, type="structured",
                        all_fields=[{"name": "title", "type": "text", "features": ["lexical_search"]}],
                        tensor_fields=[])
    index = client.index(name)
    docs = [{"_id": f"d{i:04d}", "title": f"shoe with a long description of the shoe number {i} in the catalogue"}
            for i in range(3 * TARGET_HITS)]
    docs.append({"_id": "late-best", "title": "shoe"})  # short: the best bm25 for "shoe", after all the others
    docs.append({"_id": "late-rare", "title": "shoe zebra"})
    for start in range(0, len(docs), 100):
        assert index.add_documents(docs[start:start + 100])["errors"] is False
    yield index
    client.delete_index(name)


def ids(result):
    return [hit["_id"] for hit in result["hits"]]


def test_a_term_matching_more_than_target_hits_ranks_the_earliest_candidates_only(crowded):
    found = ids(crowded.search("shoe", search_method="LEXICAL", limit=10))
    assert len(found) == 10
    assert "late-best" not in found and "late-rare" not in found  # past the first TARGET_HITS matches
    assert all(int(i[1:]) < TARGET_HITS for i in found)


def test_a_document_with_a_rare_term_is_always_a_candidate(crowded):
    found = ids(crowded.search("shoe zebra", search_method="LEXICAL", limit=10))
    assert found[0] == "late-rare"  # matches every term: the first tier


def test_a_filter_or_a_phrase_ranks_every_match(crowded):
    by_filter = ids(crowded.search("shoe", search_method="LEXICAL", limit=3, filter_string="_id:(late-best)"))
    assert by_filter == ["late-best"]
    by_phrase = ids(crowded.search('"shoe"', search_method="LEXICAL", limit=1))
    assert by_phrase == ["late-best"]  # a required phrase: every match ranked, the shortest first


def test_a_deep_page_gets_as_many_candidates_as_it_needs(crowded):
    page = ids(crowded.search("shoe", search_method="LEXICAL", limit=50, offset=150))
    assert len(page) == 50
    everything = ids(crowded.search("shoe", search_method="LEXICAL", limit=200))
    assert len(set(everything)) == 200
