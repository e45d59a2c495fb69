"""API keys: admin endpoints, enforcement on x-api-key, encryption at rest, a changed secret."""

from __future__ import annotations

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

KEY = "sk-hippodrome-plaintext-7c2f0e9a51"


def test_admin_endpoints_need_the_admin_secret(cell_factory):
    cell = cell_factory()
    for headers in ({}, {"x-hippodrome-admin-secret": "wrong"}):
        response = requests.get(cell.url + "/_hippodrome/api-keys", headers=headers, timeout=5)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    body = {"name": "svc", "key": KEY, "accountId": "acct-1"}
    created = cell.admin("post", json=body)
    assert created.status_code == 201 and created.json() == {"name": "svc", "accountId": "acct-1"}
    assert cell.admin("post", json=body).status_code == 200  # idempotent seeding
    conflict = cell.admin("post", json={**body, "key": KEY + "-other"})
    assert conflict.status_code == 409 and {"message", "code", "type", "link"} <= set(conflict.json())
    assert cell.admin("post", json={"name": "svc2", "key": KEY, "accountId": "a"}).status_code == 409
    bad = cell.admin("post", json={"name": "", "key": KEY, "accountId": "a"})
    assert bad.status_code == 400 and "name" in bad.json()["message"]
    listed = cell.admin("get").json()
    assert listed == {"results": [{"name": "svc", "accountId": "acct-1"}]}
    assert KEY not in cell.admin("get").text
    assert cell.admin("delete", "/svc").status_code == 200
    assert cell.admin("delete", "/svc").status_code == 404
    assert cell.admin("get").json() == {"results": []}


def test_keys_are_required_when_the_stack_asks(cell_factory):
    cell = cell_factory(FAKE_CELL_REQUIRE_API_KEY="true")
    assert cell.admin("post", json={"name": "svc", "key": KEY, "accountId": "acct"}).status_code == 201
    assert requests.get(cell.url + "/healthz", timeout=5).status_code == 200
    for client in (marqo.Client(url=cell.url), marqo.Client(url=cell.url, api_key="wrong-key")):
        with pytest.raises(MarqoWebError) as info:
            client.create_index("locked")
        assert (info.value.status_code, info.value.code) == (401, "unauthorized")
    client = marqo.Client(url=cell.url, api_key=KEY)
    client.create_index("locked")
    index = client.index("locked")
    assert index.add_documents([{"_id": "1", "t": "hello"}], tensor_fields=["t"])["errors"] is False
    assert index.search("hello")["hits"][0]["_id"] == "1"
    assert requests.get(cell.url + "/indexes", timeout=5).status_code == 401
    cell.admin("delete", "/svc")
    with pytest.raises(MarqoWebError):
        index.search("hello")


def test_keys_are_encrypted_at_rest(cell_factory):
    cell = cell_factory()
    assert cell.admin("post", json={"name": "svc", "key": KEY, "accountId": "acct"}).status_code == 201
    cell.stop()
    files = list(cell.state_dir.glob("fake_cell*"))
    assert any(f.name == "fake_cell.sqlite3" for f in files)
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data, path
        assert KEY.encode("utf-16-le") not in data, path


def test_another_secret_cannot_decrypt_and_does_not_crash(cell_factory, tmp_path):
    state = tmp_path / "shared-state"
    first = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true")
    assert first.admin("post", json={"name": "svc", "key": KEY, "accountId": "acct"}).status_code == 201
    assert requests.get(first.url + "/indexes", headers={"x-api-key": KEY}, timeout=5).status_code == 200
    first.stop()
    second = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true",
                          HIPPODROME_ENCRYPTION_SECRET="another-secret-entirely")
    assert "Failed to decrypt" in second.log()
    assert requests.get(second.url + "/indexes", headers={"x-api-key": KEY}, timeout=5).status_code == 401
    # seeding again under the new secret replaces the unreadable key
    assert second.admin("post", json={"name": "svc", "key": KEY, "accountId": "acct"}).status_code == 201
    assert requests.get(second.url + "/indexes", headers={"x-api-key": KEY}, timeout=5).status_code == 200


def test_default_secret_prints_a_warning(cell_factory):
    cell = cell_factory(HIPPODROME_ENCRYPTION_SECRET="")
    assert "HIPPODROME_ENCRYPTION_SECRET is not set" in cell.log()
