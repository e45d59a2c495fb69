"""`?telemetry=True` adds Marqo's `telemetry` object (timing keys) to JSON responses.

Marqo's TelemetryMiddleware (tensor_search/telemetry.py): the parameter counts when it is "true" in
any case (py-marqo's `Client(return_telemetry=True)` sends `telemetry=True`); the object holds
`timesMs` (key -> milliseconds) when something was timed and is `{}` otherwise; the keys are the
route (`POST /indexes/{name}/search`, also for recommend) and the steps of the work.
"""

from __future__ import annotations

import uuid

import marqo
import pytest
import requests


@pytest.fixture(scope="module")
def index_name(cell):
    name = f"tel-{uuid.uuid4().hex[:8]}"
    client = marqo.Client(url=cell.url)
    client.create_index(name)
    client.index(name).add_documents([{"_id": "1", "title": "red shoes"}, {"_id": "2", "title": "blue hat"}],
                                     tensor_fields=["title"])
    return name


def times(response: dict) -> dict:
    times_ms = response["telemetry"]["timesMs"]
    assert all(isinstance(v, float) and v >= 0 for v in times_ms.values()), times_ms
    return times_ms


@pytest.mark.parametrize("method, steps", [
    ("TENSOR", {"search.vector_inference_full_pipeline", "search.vector.processing_before_vespa",
                "search.vector.vespa", "search.vector.postprocess"}),
    ("LEXICAL", {"search.lexical.vespa", "search.lexical.postprocess"}),
    ("HYBRID", {"search.hybrid.vector_inference_full_pipeline", "search.hybrid.vespa"}),
])
def test_search_with_telemetry_reports_the_route_and_its_steps(cell, index_name, method, steps):
    index = marqo.Client(url=cell.url, return_telemetry=True).index(index_name)
    res = index.search("red", search_method=method)
    assert res["hits"][0]["_id"] == "1"
    assert {f"POST /indexes/{index_name}/search", *steps} <= set(times(res))


def test_add_documents_embed_and_recommend_report_their_routes(cell, index_name):
    index = marqo.Client(url=cell.url, return_telemetry=True).index(index_name)
    added = index.add_documents([{"_id": "3", "title": "green scarf"}], tensor_fields=["title"])
    assert {f"POST /indexes/{index_name}/documents", "add_documents.processing_before_vespa",
            "add_documents.vespa._bulk"} <= set(times(added))
    assert f"POST /indexes/{index_name}/embed" in times(index.embed("red"))
    assert f"POST /indexes/{index_name}/search" in times(index.recommend(["1"]))


def test_what_times_nothing_gets_an_empty_object(cell, index_name):
    doc = requests.get(f"{cell.url}/indexes/{index_name}/documents/1?telemetry=TRUE", timeout=5).json()
    assert doc["telemetry"] == {} and doc["title"] == "red shoes"
    missing = requests.get(f"{cell.url}/indexes/{index_name}/documents/nope?telemetry=true", timeout=5)
    assert missing.status_code == 404 and missing.json()["telemetry"] == {}


def test_without_the_parameter_there_is_no_telemetry(cell, index_name):
    for url in (f"{cell.url}/indexes/{index_name}/documents/1", f"{cell.url}/indexes/{index_name}/documents/1?telemetry=false"):
        assert "telemetry" not in requests.get(url, timeout=5).json()
    assert "telemetry" not in marqo.Client(url=cell.url).index(index_name).search("red")
