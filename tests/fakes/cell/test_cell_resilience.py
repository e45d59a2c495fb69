"""Every error is Marqo-shaped JSON: 404/405, garbage bodies, bad values, unexpected exceptions."""

from __future__ import annotations

import uuid

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fakes.fake_cell.server import envelope

ENVELOPE = {"message", "code", "type", "link"}


def error(response: requests.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert ENVELOPE <= set(body), body
    if code:
        assert body["code"] == code
    return body


@pytest.fixture(scope="module")
def index_url(cell):
    name = f"res-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{cell.url}/indexes/{name}", timeout=5).status_code == 200
    return f"{cell.url}/indexes/{name}"


def test_unknown_path_is_json_404(cell):
    body = error(requests.get(cell.url + "/no/such/path", timeout=5), 404, "not_found")
    assert "/no/such/path" in body["message"]


def test_wrong_method_is_json_405(cell, index_url):
    response = requests.put(index_url, timeout=5)
    error(response, 405, "method_not_allowed")
    assert "Allow" in response.headers
    error(requests.delete(cell.url + "/indexes", timeout=5), 405)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1,2", b"nul"])
def test_malformed_json_is_400_naming_the_problem(index_url, raw):
    for path in ("/search", "/documents"):
        body = error(requests.post(index_url + path, data=raw, timeout=5,
                                   headers={"Content-Type": "application/json"}), 400, "invalid_argument")
        assert "not valid JSON" in body["message"]


def test_empty_body_where_one_is_required(index_url):
    body = error(requests.post(index_url + "/search", timeout=5), 400, "invalid_argument")
    assert "empty" in body["message"]


@pytest.mark.parametrize("payload, status, code, field", [
    ({"q": "x", "limit": "ten"}, 422, "unprocessable_entity", "limit"),  # Marqo's request model
    ({"q": "x", "offset": -1}, 400, "illegal_requested_doc_count", "offset"),
    ({"q": "x", "searchMethod": "FUZZY"}, 422, "unprocessable_entity", "searchMethod"),
    ({"q": 3}, 400, "invalid_argument", "q"),
    ({"q": "x", "filter": 3}, 400, "invalid_argument", "filter"),
    ({"q": "x", "attributesToRetrieve": "title"}, 400, "invalid_argument", "attributesToRetrieve"),
    ({"q": "x", "showHighlights": "yes"}, 400, "invalid_argument", "showHighlights"),
    ([1, 2], 422, "unprocessable_entity", "dict"),
])
def test_invalid_search_values_name_the_field(index_url, payload, status, code, field):
    body = error(requests.post(index_url + "/search", json=payload, timeout=5), status, code)
    assert field in body["message"]


@pytest.mark.parametrize("payload, code, text", [
    ({"documents": "nope", "tensorFields": []}, "invalid_argument", "documents"),
    ({"documents": [], "tensorFields": []}, "bad_request", "Received empty add documents request"),
    ({"documents": [{}] * 129, "tensorFields": []}, "bad_request",
     "Number of docs in add documents request (129) exceeds limit of 128"),
    ({"documents": [{"a": "b"}], "tensorFields": "a"}, "invalid_argument", "tensorFields"),
    ({"documents": [{"a": "b"}], "tensorFields": [], "mappings": {"m": {"type": "x"}}}, "invalid_argument", "mappings"),
])
def test_invalid_add_documents_bodies(index_url, payload, code, text):
    body = error(requests.post(index_url + "/documents", json=payload, timeout=5), 400, code)
    assert text in body["message"]


def test_invalid_index_settings_and_names(cell):
    error(requests.post(cell.url + "/indexes/bad%20name", json={}, timeout=5), 400, "invalid_index_name")
    body = error(requests.post(cell.url + f"/indexes/x{uuid.uuid4().hex[:6]}",
                               json={"type": "graph"}, timeout=5), 400, "invalid_argument")
    assert "type" in body["message"]


def test_missing_index_everywhere_is_404(cell):
    base = f"{cell.url}/indexes/ghost-{uuid.uuid4().hex[:6]}"
    for method, path, payload in [("get", "/settings", None), ("get", "/stats", None),
                                  ("get", "/health", None), ("post", "/search", {"q": "x"}),
                                  ("post", "/documents", {"documents": [{"a": "b"}], "tensorFields": []}),
                                  ("get", "/documents/x", None), ("post", "/embed", {"content": "x"}),
                                  ("post", "/documents/delete-batch", ["x"])]:
        error(requests.request(method, base + path, json=payload, timeout=5), 404, "index_not_found")


async def test_unexpected_exception_is_json_500():
    async def boom(request):
        raise RuntimeError("kaboom")

    app = web.Application(middlewares=[envelope])
    app.router.add_get("/boom", boom)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/boom")
        assert response.status == 500
        body = await response.json()
        assert body["code"] == "internal" and ENVELOPE <= set(body)
        assert "kaboom" not in body["message"]
