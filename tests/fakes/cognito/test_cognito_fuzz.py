"""Schema-driven fuzzing (schemathesis) of the published OpenAPI document.

Every generated request, valid or not, must get a JSON answer and never a 5xx.
Examples are limited so the whole run stays within a few seconds.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from hypothesis import HealthCheck, settings

MAX_EXAMPLES = 60
SEEN: dict[int, int] = {}


@pytest.fixture(scope="module")
def api_schema(fake):
    document = requests.get(fake.url + "/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    # "all": valid requests and deliberately invalid ones (wrong types, missing headers, bad paths)
    return schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict({"generation": {"mode": "all"}}))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_every_response_is_json_and_never_5xx(case, fake):
    response = case.call(base_url=fake.url, timeout=10)
    SEEN[response.status_code] = SEEN.get(response.status_code, 0) + 1
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if case.method.upper() == "HEAD":
        return
    headers = {k.lower(): v for k, v in response.headers.items()}
    content_type = headers.get("content-type", "")
    content_type = content_type[0] if isinstance(content_type, list) and content_type else str(content_type)
    assert "json" in content_type, (response.status_code, content_type, response.text[:200])
    json.loads(response.text)


def test_fuzzing_reached_the_server(fake):
    """Guards against a silently empty fuzz run (runs after the parametrized test in file order)."""
    assert sum(SEEN.values()) >= 20 and any(400 <= status < 500 for status in SEEN), SEEN
