"""Schema-driven fuzzing (schemathesis) of fake_cell's published OpenAPI document.

For every operation, positive and negative cases are sent to a real process, both against a
random index name and against an existing index with documents: the answer must be JSON and
never a 5xx. The budget per operation is small so the whole run takes seconds.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis

from hd_testing import fuzz_operations

EXAMPLES = 12
CELL_ENV = {"FAKE_CELL_ENABLE_BATCH_APIS": "true"}  # fuzz the internal batch APIs too


def check(response, case) -> None:
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-cased, lists
    assert content_type.startswith("application/json"), where
    body = json.loads(response.content)
    assert body is not None or response.status_code >= 400, where
    if response.status_code >= 400:
        assert {"message", "code", "type", "link"} <= set(body), where


@pytest.fixture(scope="module")
def seeded(cell):
    requests.post(cell.url + "/indexes/fuzz", timeout=5)
    requests.post(cell.url + "/indexes/fuzz/documents", timeout=5, json={
        "documents": [{"_id": str(n), "title": f"doc {n} about shoes", "n": n} for n in range(20)],
        "tensorFields": ["title"]})
    return cell


def test_no_5xx_and_always_json(seeded):
    cell = seeded
    schema = schemathesis.openapi.from_url(cell.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18

    def prepare(case, sent):
        if "x-hippodrome-admin-secret" in (case.headers or {}) and sent % 2:
            case.headers["x-hippodrome-admin-secret"] = cell.secret

    sent = fuzz_operations(
        schema, cell.url, EXAMPLES, check, prepare=prepare,
        path_parameters=lambda op: [{"indexName": "fuzz"}] if any(p.name == "indexName" for p in op.path_parameters) else [])
    assert sent > 100
    assert requests.get(cell.url + "/healthz", timeout=5).status_code == 200
