"""Marqo's internal batch APIs (served behind FAKE_CELL_ENABLE_BATCH_APIS, as Marqo serves them behind
MARQO_ENABLE_BATCH_APIS) and `delete-all`, which the `{id}` route used to shadow with a 405.

Marqo (src/marqo/tensor_search/api.py): `POST /batch/indexes/create` takes a list of index settings
with `indexName` and answers `{"acknowledged": true, "index_names": [...]}`; `POST
/batch/indexes/delete` takes a list of names, same answer; `DELETE /indexes/{n}/documents/delete-all`
answers `{"documentCount": n}`. With the switch off each answers 403 "This API endpoint is disabled".
The official client has no method for them: raw HTTP.
"""

from __future__ import annotations

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

CELL_ENV = {"FAKE_CELL_ENABLE_BATCH_APIS": "true"}
DISABLED = "This API endpoint is disabled. Please set MARQO_ENABLE_BATCH_API to true to enable it."


@pytest.fixture
def enabled(cell):
    return cell


def names(client: marqo.Client) -> set[str]:
    return {r["indexName"] for r in client.get_indexes()["results"]}


def test_batch_create_makes_every_index_with_its_settings(enabled):
    client = marqo.Client(url=enabled.url)
    response = requests.post(enabled.url + "/batch/indexes/create", timeout=10, json=[
        {"indexName": "batch-a"},
        {"indexName": "batch-b", "type": "structured", "model": "hf/all-MiniLM-L6-v2",
         "allFields": [{"name": "title", "type": "text"}], "tensorFields": ["title"]}])
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True, "index_names": ["batch-a", "batch-b"]}
    assert {"batch-a", "batch-b"} <= names(client)
    settings = client.index("batch-b").get_settings()
    assert settings["type"] == "structured" and settings["tensorFields"] == ["title"]


def test_batch_create_is_all_or_none(enabled):
    client = marqo.Client(url=enabled.url)
    client.create_index("batch-taken")
    response = requests.post(enabled.url + "/batch/indexes/create", timeout=10,
                             json=[{"indexName": "batch-new"}, {"indexName": "batch-taken"}])
    assert (response.status_code, response.json()["code"]) == (409, "index_already_exists")
    assert "batch-new" not in names(client)


def test_batch_delete_removes_every_index_or_none(enabled):
    client = marqo.Client(url=enabled.url)
    for name in ("batch-x", "batch-y"):
        client.create_index(name)
    missing = requests.post(enabled.url + "/batch/indexes/delete", json=["batch-x", "batch-nope"], timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (404, "index_not_found")
    assert {"batch-x", "batch-y"} <= names(client)
    response = requests.post(enabled.url + "/batch/indexes/delete", json=["batch-x", "batch-y"], timeout=10)
    assert response.json() == {"acknowledged": True, "index_names": ["batch-x", "batch-y"]}
    assert not {"batch-x", "batch-y"} & names(client)


def test_delete_all_empties_the_index_and_keeps_it(enabled):
    client = marqo.Client(url=enabled.url)
    client.create_index("batch-docs")
    index = client.index("batch-docs")
    index.add_documents([{"_id": str(n), "title": f"shoe number {n}"} for n in range(5)], tensor_fields=["title"])
    response = requests.delete(enabled.url + "/indexes/batch-docs/documents/delete-all", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"documentCount": 5}
    assert index.get_stats()["numberOfDocuments"] == 0
    assert index.search("shoe")["hits"] == []
    assert index.search("shoe", search_method="LEXICAL")["hits"] == []
    index.add_documents([{"_id": "again", "title": "a shoe again"}], tensor_fields=["title"])
    assert [h["_id"] for h in index.search("shoe")["hits"]] == ["again"]
    gone = requests.delete(enabled.url + "/indexes/batch-nope/documents/delete-all", timeout=10)
    assert (gone.status_code, gone.json()["code"]) == (404, "index_not_found")


def test_the_document_routes_still_answer_beside_delete_all(enabled):
    """Regression: DELETE .../documents/delete-all was matched by GET .../documents/{id} (405)."""
    client = marqo.Client(url=enabled.url)
    client.create_index("batch-route")
    client.index("batch-route").add_documents([{"_id": "delete-all", "t": "a document named like the route"}],
                                              tensor_fields=[])
    assert client.index("batch-route").get_document("delete-all")["t"] == "a document named like the route"


def test_switched_off_they_answer_marqos_403(cell_factory):
    off = cell_factory()
    client = marqo.Client(url=off.url)
    client.create_index("kept")
    client.index("kept").add_documents([{"_id": "1", "t": "still here"}], tensor_fields=[])
    for method, path, body in [("post", "/batch/indexes/create", [{"indexName": "never"}]),
                               ("post", "/batch/indexes/delete", ["kept"]),
                               ("delete", "/indexes/kept/documents/delete-all", None)]:
        response = requests.request(method, off.url + path, json=body, timeout=10)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["detail"] == DISABLED
        assert {"message", "code", "type", "link"} <= set(response.json())
    with pytest.raises(MarqoWebError) as info:
        client.get_index("never")
    assert info.value.code == "index_not_found"
    assert client.index("kept").get_document("1")["t"] == "still here"
