"""search_proxy + global_worker: the data-plane path, rules, cache invalidation, isolation, 502s."""

from __future__ import annotations

import uuid

import pytest
import requests

from conftest import Stack, assert_json_error, dead_url

DOCS = [{"_id": f"d{i}", "title": f"red shoe number {i}", "colour": "red" if i % 2 else "blue"} for i in range(6)]


@pytest.fixture(scope="module")
def index(stack: Stack) -> str:
    stack.ensure("controller", "global_worker", "search_proxy")
    name = "sp-" + uuid.uuid4().hex[:8]
    r = requests.post(f"{stack.url('controller')}/api/v2/indexes/{name}", headers={"x-api-key": stack.demo_key},
                      timeout=10)
    assert r.status_code == 200, r.text
    return name


def proxy(stack: Stack) -> str:
    return stack.url("search_proxy")


def h(stack: Stack) -> dict[str, str]:
    return {"x-api-key": stack.demo_key}


def search(stack: Stack, index: str, **body) -> requests.Response:
    return requests.post(f"{proxy(stack)}/indexes/{index}/search", json={"searchMethod": "LEXICAL", **body},
                         headers=h(stack), timeout=10)


def test_documents_search_and_cache_invalidation(stack: Stack, index: str) -> None:
    base = f"{proxy(stack)}/indexes/{index}"
    r = requests.post(base + "/documents", json={"documents": DOCS, "tensorFields": ["title"]}, headers=h(stack),
                      timeout=10)
    assert r.status_code == 200 and r.json()["errors"] is False, r.text
    assert r.json()["index_name"] == index  # the cell name is never shown
    assert requests.get(base + "/documents/d1", headers=h(stack), timeout=5).json()["title"] == "red shoe number 1"
    assert requests.get(base + "/stats", headers=h(stack), timeout=5).json()["numberOfDocuments"] == 6

    first = search(stack, index, q="shoe", limit=10)
    assert {hit["_id"] for hit in first.json()["hits"]} == {d["_id"] for d in DOCS}
    hits_before = requests.get(stack.url("global_worker") + "/stats", timeout=5).json()["hits"]
    assert len(search(stack, index, q="shoe", limit=10).json()["hits"]) == 6
    assert requests.get(stack.url("global_worker") + "/stats", timeout=5).json()["hits"] == hits_before + 1
    r = requests.post(base + "/documents/delete-batch", json=["d0"], headers=h(stack), timeout=10)
    assert r.status_code == 200, r.text
    assert "d0" not in {hit["_id"] for hit in search(stack, index, q="shoe", limit=10).json()["hits"]}


def test_pinned_results_come_first(stack: Stack, index: str) -> None:
    base = f"{proxy(stack)}/indexes/{index}"
    requests.post(base + "/documents", json={"documents": DOCS, "tensorFields": []}, headers=h(stack), timeout=10)
    r = requests.put(base + "/rules", json={"pins": [{"query": "Shoe", "ids": ["d5", "d3"]}]}, headers=h(stack),
                     timeout=5)
    assert r.status_code == 200, r.text
    hits = search(stack, index, q="shoe", limit=3).json()["hits"]
    assert [hit["_id"] for hit in hits[:2]] == ["d5", "d3"] and hits[0]["_pinned"] is True
    assert len(hits) == 3
    assert requests.get(base + "/rules", headers=h(stack), timeout=5).json()["pins"][0]["ids"] == ["d5", "d3"]
    assert_json_error(requests.put(base + "/rules", json={"pins": [{"query": "x", "ids": "d1"}]}, headers=h(stack),
                                   timeout=5), 422, "pins[0].ids")
    assert requests.delete(base + "/rules", headers=h(stack), timeout=5).status_code == 200
    assert not any(hit.get("_pinned") for hit in search(stack, index, q="shoe", limit=3).json()["hits"])


def test_other_accounts_cannot_reach_the_index(stack: Stack, index: str) -> None:
    r = requests.post(f"{stack.url('controller')}/api/v2/accounts", json={"name": "other-" + uuid.uuid4().hex[:6]},
                      headers={"x-api-key": stack.system_key}, timeout=10)
    other = {"x-api-key": r.json()["apiKey"]}
    r = requests.post(f"{proxy(stack)}/indexes/{index}/search", json={"q": "shoe"}, headers=other, timeout=10)
    assert_json_error(r, 404)
    assert stack.demo_account not in r.text  # the cell's name for the index is not leaked
    listed = requests.get(f"{proxy(stack)}/indexes", headers=h(stack), timeout=5).json()["results"]
    assert {"indexName": index} in listed
    assert requests.get(f"{proxy(stack)}/indexes", headers=other, timeout=5).json() == {"results": []}


def test_system_key_acts_for_an_account(stack: Stack, index: str) -> None:
    r = requests.get(f"{proxy(stack)}/indexes/{index}/stats", headers=stack.system_headers(), timeout=5)
    assert r.status_code == 200, r.text
    assert_json_error(requests.get(f"{proxy(stack)}/indexes/{index}/stats", headers={"x-api-key": stack.system_key},
                                   timeout=5), 400, "x-hippodrome-account")
    assert_json_error(requests.get(f"{proxy(stack)}/indexes/{index}/stats", timeout=5,
                                   headers={**stack.system_headers(), "x-hippodrome-account": "a-b"}),
                      400, "x-hippodrome-account")


def test_errors_are_json(stack: Stack, index: str) -> None:
    base = f"{proxy(stack)}/indexes/{index}"
    assert requests.get(proxy(stack) + "/", timeout=5).json()["version"]
    assert_json_error(requests.post(base + "/search", json={"q": "x"}, timeout=5), 401)
    assert_json_error(requests.post(base + "/search", data="{", headers=h(stack), timeout=5), 400)
    assert_json_error(requests.post(base + "/search", json={"q": "x", "limit": -1}, headers=h(stack), timeout=5), 400)
    assert_json_error(requests.post(f"{proxy(stack)}/indexes/no.such!/search", json={"q": "x"}, headers=h(stack),
                                    timeout=5), 422, "index")
    assert_json_error(requests.post(base, headers=h(stack), timeout=5), 405)
    assert_json_error(requests.delete(base + "/documents", headers=h(stack), timeout=5), 405)
    assert_json_error(requests.get(proxy(stack) + "/nothing/here", timeout=5), 404)


def test_marqo_client_end_to_end(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    import marqo

    controller = stack.url("controller")
    monkeypatch.setenv("MARQO_CLOUD_URL", controller)
    client = marqo.Client(controller, api_key=stack.demo_key)
    name = "mq-" + uuid.uuid4().hex[:8]
    client.create_index(name)
    client.index(name).add_documents([{"_id": "a", "title": "green apple"}, {"_id": "b", "title": "red car"}],
                                     tensor_fields=["title"])
    hits = client.index(name).search("apple", search_method="LEXICAL")["hits"]
    assert hits[0]["_id"] == "a"
    assert client.index(name).get_document("b")["title"] == "red car"
    client.index(name).delete_documents(["a"])
    assert [hit["_id"] for hit in client.index(name).search("apple", search_method="LEXICAL")["hits"]] == []
    client.delete_index(name)


def test_upstreams_down_are_502(stack: Stack, index: str) -> None:
    no_cell = stack.start_extra("search_proxy", CELL_URL=dead_url())
    r = requests.get(f"{no_cell.url}/indexes/{index}/stats", headers=h(stack), timeout=10)
    assert_json_error(r, 502)
    no_gw = stack.start_extra("search_proxy", GLOBAL_WORKER_URL=dead_url())
    assert_json_error(requests.post(f"{no_gw.url}/indexes/{index}/search", json={"q": "shoe"}, headers=h(stack),
                                    timeout=10), 502)
    gw_no_cell = stack.start_extra("global_worker", CELL_URL=dead_url())
    via_gw = stack.start_extra("search_proxy", GLOBAL_WORKER_URL=gw_no_cell.url)
    assert_json_error(requests.post(f"{via_gw.url}/indexes/{index}/search", json={"q": "zzz"}, headers=h(stack),
                                    timeout=10), 502)
    for proc in (no_cell, no_gw, gw_no_cell, via_gw):
        proc.stop()
