"""controller: the Marqo Cloud index API, accounts, per-account isolation, JSON errors, 502."""

from __future__ import annotations

import uuid

import pytest
import requests

from conftest import Stack, assert_json_error, dead_url


@pytest.fixture(scope="module")
def controller(stack: Stack) -> str:
    stack.ensure("controller")
    return stack.url("controller")


def name() -> str:
    return "ix-" + uuid.uuid4().hex[:8]


def test_healthz_reports_tables(controller: str) -> None:
    body = requests.get(controller + "/healthz", timeout=5).json()
    assert body["status"] == "ok" and body["checks"]["tables"] == "ok"


def test_index_lifecycle_with_the_customer_key(stack: Stack, controller: str) -> None:
    h = {"x-api-key": stack.demo_key}
    index = name()
    r = requests.post(f"{controller}/api/v2/indexes/{index}", json={"type": "unstructured", "numberOfShards": 1},
                      headers=h, timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(f"{controller}/api/v2/indexes/{index}/status", headers=h, timeout=5).json() == {
        "indexStatus": "READY"}
    listed = requests.get(f"{controller}/api/v2/indexes", headers=h, timeout=5).json()["results"]
    entry = next(i for i in listed if i["indexName"] == index)
    assert entry["indexStatus"] == "READY" and entry["marqoEndpoint"] == stack.url("search_proxy")
    # the cell has it under the per-account name
    cell = requests.get(stack.url("fake_cell") + "/indexes", headers={"x-api-key": stack.system_key}, timeout=5)
    assert f"{stack.demo_account}-{index}" in [i["indexName"] for i in cell.json()["results"]]
    # duplicate -> 409
    assert_json_error(requests.post(f"{controller}/api/v2/indexes/{index}", headers=h, timeout=10), 409)
    # delete, then status is DELETED (the marqo client polls for it) and a second delete is 404
    assert requests.delete(f"{controller}/api/v2/indexes/{index}", headers=h, timeout=10).status_code == 200
    assert requests.get(f"{controller}/api/v2/indexes/{index}/status", headers=h, timeout=5).json() == {
        "indexStatus": "DELETED"}
    assert_json_error(requests.delete(f"{controller}/api/v2/indexes/{index}", headers=h, timeout=10), 404)


def test_accounts_are_isolated(stack: Stack, controller: str) -> None:
    sys_h = {"x-api-key": stack.system_key}
    account_name = "acme-" + uuid.uuid4().hex[:6]
    r = requests.post(f"{controller}/api/v2/accounts", json={"name": account_name, "owner": "bob@example.com"},
                      headers=sys_h, timeout=10)
    assert r.status_code == 201, r.text
    acme = r.json()
    assert acme["apiKey"].startswith("hk_") and len(acme["accountId"]) == 12
    assert_json_error(requests.post(f"{controller}/api/v2/accounts", json={"name": account_name}, headers=sys_h,
                                    timeout=10), 409)
    found = requests.get(f"{controller}/api/v2/accounts", params={"owner": "bob@example.com"}, headers=sys_h,
                         timeout=5).json()["results"]
    assert acme["accountId"] in [a["accountId"] for a in found]

    index = name()
    for key in (stack.demo_key, acme["apiKey"]):  # the same customer name in two accounts
        assert requests.post(f"{controller}/api/v2/indexes/{index}", headers={"x-api-key": key},
                             timeout=10).status_code == 200
    acme_view = requests.get(f"{controller}/api/v2/accounts/{acme['accountId']}",
                             headers={"x-api-key": acme["apiKey"]}, timeout=5).json()
    assert [i["indexName"] for i in acme_view["indexes"]] == [index]
    # one account cannot see another
    assert_json_error(requests.get(f"{controller}/api/v2/accounts/{stack.demo_account}",
                                   headers={"x-api-key": acme["apiKey"]}, timeout=5), 404)
    # customers cannot create accounts
    assert_json_error(requests.post(f"{controller}/api/v2/accounts", json={"name": "x"},
                                    headers={"x-api-key": acme["apiKey"]}, timeout=5), 403)
    for key in (stack.demo_key, acme["apiKey"]):
        requests.delete(f"{controller}/api/v2/indexes/{index}", headers={"x-api-key": key}, timeout=10)


def test_auth_and_input_errors_are_json(stack: Stack, controller: str) -> None:
    h = {"x-api-key": stack.demo_key}
    assert_json_error(requests.get(f"{controller}/api/v2/indexes", timeout=5), 401)
    assert_json_error(requests.get(f"{controller}/api/v2/indexes", headers={"x-api-key": "nope"}, timeout=5), 401)
    assert_json_error(requests.post(f"{controller}/api/v2/indexes/bad.name!", headers=h, timeout=5), 422, "indexName")
    assert_json_error(requests.post(f"{controller}/api/v2/indexes/{name()}", data="{nope", headers=h, timeout=5), 400)
    assert_json_error(requests.post(f"{controller}/api/v2/indexes/{name()}", json={"type": "sideways"}, headers=h,
                                    timeout=5), 400)
    assert_json_error(requests.post(f"{controller}/api/v2/accounts", json={"owner": "x"},
                                    headers={"x-api-key": stack.system_key}, timeout=5), 422, "name")
    assert_json_error(requests.get(f"{controller}/api/v2/indexes",
                                   headers={"x-api-key": stack.system_key}, timeout=5), 400, "x-hippodrome-account")
    assert_json_error(requests.get(f"{controller}/nowhere", timeout=5), 404)
    assert_json_error(requests.put(f"{controller}/api/v2/indexes", headers=h, timeout=5), 405)


def test_cell_down_is_a_502_and_leaves_no_record(stack: Stack) -> None:
    broken = stack.start_extra("controller", CELL_URL=dead_url())
    h = {"x-api-key": stack.demo_key}
    index = name()
    assert_json_error(requests.post(f"{broken.url}/api/v2/indexes/{index}", headers=h, timeout=10), 502)
    assert requests.get(f"{broken.url}/api/v2/indexes/{index}/status", headers=h, timeout=5).json() == {
        "indexStatus": "DELETED"}
    broken.stop()


def test_moto_down_is_a_502_and_unhealthy(stack: Stack) -> None:
    broken = stack.start_extra("controller", healthy=False, AWS_ENDPOINT_URL=dead_url())
    assert requests.get(broken.url + "/healthz", timeout=10).status_code == 503
    assert_json_error(requests.get(f"{broken.url}/api/v2/indexes", headers={"x-api-key": stack.demo_key},
                                   timeout=20), 502)
    broken.stop()


def test_marqo_client_in_cloud_mode(stack: Stack, controller: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import marqo

    monkeypatch.setenv("MARQO_CLOUD_URL", controller)
    client = marqo.Client(controller, api_key=stack.demo_key)
    index = name()
    client.create_index(index)
    assert index in [i["indexName"] for i in client.get_indexes()["results"]]
    client.delete_index(index)
    assert index not in [i["indexName"] for i in client.get_indexes()["results"]]
