"""fake_cell against hostile input and a hostile web page (issue 14): bad input is a 4xx in Marqo's JSON
error shape, never a 5xx; a request from an Origin or to a Host the stack does not allow is a 403.
fake_cell runs as a process with the env the stack gives it (HIPPODROME_ALLOWED_ORIGINS/HOSTS)."""

from __future__ import annotations

import pytest
import requests

CONSOLE = "http://127.0.0.1:9008"  # the stack's own console: an allowed origin


@pytest.fixture
def cell(cell_factory):
    proc = cell_factory(HIPPODROME_ALLOWED_ORIGINS=f"{CONSOLE},http://localhost:9008",
                        HIPPODROME_ALLOWED_HOSTS="127.0.0.1,localhost,::1")
    requests.post(proc.url + "/indexes/shoes", json={}, timeout=10)
    requests.post(proc.url + "/indexes/shoes/documents", timeout=10,
                  json={"documents": [{"_id": "1", "title": "red shoes", "n": 1}], "tensorFields": ["title"]})
    return proc


def assert_marqo_error(response: requests.Response, status: int, needle: str = "") -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert {"message", "code", "type", "link"} <= set(body) and needle in body["message"], body
    return body


@pytest.mark.parametrize("depth", [900, 1_000, 5_000])
def test_json_nested_too_deep_is_a_400_not_a_recursion_error(cell, depth):
    body = '{"q": "shoes", "filter": ' + "[" * depth + "]" * depth + "}"
    assert_marqo_error(requests.post(cell.url + "/indexes/shoes/search", data=body, timeout=10,
                                     headers={"Content-Type": "application/json"}), 400, "deeper than 64")


def test_a_lone_surrogate_in_a_document_id_is_a_400_naming_it(cell):
    body = '{"documents": [{"_id": "\\ud800", "title": "x"}], "tensorFields": []}'
    found = assert_marqo_error(requests.post(cell.url + "/indexes/shoes/documents", data=body, timeout=10,
                                             headers={"Content-Type": "application/json"}), 400)
    assert found.get("field") == "documents[0]._id", found


def test_a_lone_surrogate_in_a_filter_is_a_400_naming_it(cell):
    body = '{"q": "shoes", "filter": "title:\\ud800"}'
    found = assert_marqo_error(requests.post(cell.url + "/indexes/shoes/search", data=body, timeout=10,
                                             headers={"Content-Type": "application/json"}), 400)
    assert found.get("field") == "filter", found


def test_a_filter_of_a_thousand_conditions_is_refused_before_sqlite(cell):
    """Regression: 1,249 AND terms (under the length limit) were a 500 'Expression tree is too large'."""
    text = " AND ".join(f"n:{i % 10}" for i in range(1249))
    assert len(text) < 10_000
    body = assert_marqo_error(requests.post(cell.url + "/indexes/shoes/search", timeout=10,
                                            json={"q": "shoes", "filter": text}), 400, "more than 500 conditions")
    assert body["code"] == "invalid_argument"
    ok = requests.post(cell.url + "/indexes/shoes/search", timeout=10,
                       json={"q": "shoes", "filter": " OR ".join(f"n:{i}" for i in range(400))})
    assert ok.status_code == 200 and [h["_id"] for h in ok.json()["hits"]] == ["1"]


@pytest.mark.parametrize("path", ["/indexes/" + "a" * 100_000, "/" + "a" * 9_000])
def test_the_http_servers_own_refusal_of_a_long_url_is_json_with_its_status(cell, path):
    assert_marqo_error(requests.get(cell.url + path, timeout=10), 400, "8190 bytes")


def test_a_header_that_is_not_utf8_is_a_400_not_a_500(cell):
    response = requests.get(cell.url + "/indexes", headers={"x-api-key": "k\xe9y".encode("latin-1")}, timeout=10)
    assert_marqo_error(response, 400)


# --- a web page the developer visits ----------------------------------------------------------------


def test_a_foreign_origin_is_refused_and_the_stacks_own_is_answered_with_its_origin(cell):
    refused = requests.post(cell.url + "/indexes/evil", timeout=10, json={}, headers={"Origin": "http://evil.example"})
    assert_marqo_error(refused, 403, "evil.example")
    assert requests.get(cell.url + "/indexes/evil/settings", timeout=10).status_code == 404  # nothing was created
    mine = requests.get(cell.url + "/indexes", timeout=10, headers={"Origin": CONSOLE})
    assert mine.status_code == 200 and mine.headers["Access-Control-Allow-Origin"] == CONSOLE


def test_a_foreign_origins_preflight_is_refused(cell):
    preflight = requests.options(cell.url + "/indexes/shoes/documents", timeout=10, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers


def test_a_foreign_host_is_refused_but_healthz_answers_probes(cell):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    assert_marqo_error(requests.get(cell.url + "/indexes", timeout=10, headers={"Host": "evil.example:9001"}), 403)
    assert requests.get(cell.url + "/healthz", timeout=10, headers={"Host": "evil.example:9001"}).status_code == 200


def test_no_answer_carries_a_wildcard_origin(cell):
    for path in ("/", "/indexes", "/healthz", "/openapi.json"):
        response = requests.get(cell.url + path, timeout=10, headers={"Origin": CONSOLE})
        assert response.headers.get("Access-Control-Allow-Origin") in (CONSOLE, None), (path, response.headers)

