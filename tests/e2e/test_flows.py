"""End-to-end flows through the public request path only (never straight to the cell or a table).

Onboarding with a Cognito login; import through admin_server → SQS → ecom_indexer → searchable
through search_proxy; the official marqo client in cloud mode against the controller; export to
S3; an index fork run by the Step Functions workflow; a pinned-result rule changing the order.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import marqo
import pytest
import requests

DOCS = [
    {"_id": "d1", "title": "red running shoes", "description": "light shoes for running", "price": 80},
    {"_id": "d2", "title": "blue running shoes", "description": "shoes for trail running", "price": 120},
    {"_id": "d3", "title": "green rain jacket", "description": "a jacket for the rain, also good with shoes", "price": 150},
    {"_id": "d4", "title": "wool socks", "description": "warm socks", "price": 15},
]


def wait_for(predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {last!r}")


@pytest.fixture(scope="module")
def urls(stack):
    return {name: info["url"] for name, info in stack["status"].items()}


@pytest.fixture(scope="module")
def demo_key(stack):
    return stack["env"]["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]


@pytest.fixture(scope="module")
def id_token(stack):
    env = stack["env"]
    cognito = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    auth = cognito.initiate_auth(ClientId=env["COGNITO_CLIENT_ID"], AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": "Hippodrome-1!"})
    return auth["AuthenticationResult"]["IdToken"]


@pytest.fixture(scope="module")
def catalog(urls, id_token, demo_key):
    """An index onboarded through admin_server (Cognito login), filled by an import through SQS."""
    name = f"catalog-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {id_token}"}
    onboard = requests.post(f"{urls['admin_server']}/api/onboard", json={"indexName": name}, headers=headers, timeout=30)
    assert onboard.status_code == 201, onboard.text
    assert onboard.json()["indexName"] == name
    listed = requests.get(f"{urls['admin_server']}/api/indexes", headers=headers, timeout=10).json()["results"]
    mine = next(i for i in listed if i["indexName"] == name)
    assert mine["marqoEndpoint"].rstrip("/") == urls["search_proxy"]  # data-plane traffic goes through the gateway

    imported = requests.post(f"{urls['admin_server']}/api/indexes/{name}/import",
                             json={"documents": DOCS, "tensorFields": ["title", "description"]}, headers=headers, timeout=30)
    assert imported.status_code == 202, imported.text
    index = marqo.Client(url=urls["search_proxy"], api_key=demo_key).index(name)
    wait_for(lambda: index.get_stats()["numberOfDocuments"] == len(DOCS), what="imported documents to be searchable")
    yield name
    requests.delete(f"{urls['controller']}/api/v2/indexes/{name}", headers={"x-api-key": demo_key}, timeout=30)


def test_onboarding_requires_a_valid_cognito_token(urls):
    r = requests.post(f"{urls['admin_server']}/api/onboard", json={"indexName": "x"},
                      headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/json")


def test_imported_documents_are_searchable_through_search_proxy(urls, demo_key, catalog):
    index = marqo.Client(url=urls["search_proxy"], api_key=demo_key).index(catalog)
    for method in ("LEXICAL", "TENSOR", "HYBRID"):
        hits = index.search("running shoes", search_method=method, limit=4)["hits"]
        assert {h["_id"] for h in hits[:2]} == {"d1", "d2"}, (method, hits)
    filtered = index.search("shoes", search_method="LEXICAL", filter_string="price:[100 TO 200]")["hits"]
    assert {h["_id"] for h in filtered} <= {"d2", "d3"} and filtered


def test_search_proxy_rejects_unknown_keys(urls, catalog):
    r = requests.post(f"{urls['search_proxy']}/indexes/{catalog}/search", json={"q": "shoes"},
                      headers={"x-api-key": "wrong"}, timeout=10)
    assert r.status_code == 401 and "message" in r.json()


def test_marqo_client_in_cloud_mode_against_the_controller(urls, demo_key, monkeypatch):
    monkeypatch.setenv("MARQO_CLOUD_URL", urls["controller"])
    client = marqo.Client(url=urls["controller"], api_key=demo_key)
    name = f"cloud-{uuid.uuid4().hex[:8]}"
    client.create_index(name)
    try:
        assert name in [i["indexName"] for i in client.get_indexes()["results"]]
        index = client.index(name)
        added = index.add_documents([{"_id": "a", "title": "a kettle for tea"}, {"_id": "b", "title": "a pan"}],
                                    tensor_fields=["title"])
        assert added["errors"] is False
        hits = index.search("tea kettle")["hits"]
        assert hits[0]["_id"] == "a"
        assert index.get_document("b")["title"] == "a pan"
    finally:
        client.index(name).delete()
    statuses = requests.get(f"{urls['controller']}/api/v2/indexes/{name}/status", headers={"x-api-key": demo_key}, timeout=10)
    assert statuses.status_code == 404 or statuses.json().get("indexStatus") == "DELETED"


def test_export_to_s3_as_json_lines(stack, urls, demo_key, catalog):
    r = requests.post(f"{urls['exporters']}/exports", json={"index": catalog, "apiKey": demo_key}, timeout=60)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["documents"] == len(DOCS)
    env = stack["env"]
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    body = s3.get_object(Bucket=export["bucket"], Key=export["key"])["Body"].read().decode()
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert {d["_id"] for d in lines} == {d["_id"] for d in DOCS}
    again = requests.get(f"{urls['exporters']}/exports/{export['exportId']}", timeout=10).json()
    assert again["documents"] == len(DOCS)


def test_index_fork_by_the_step_functions_workflow(stack, urls, demo_key, catalog):
    if "admin_worker" not in urls:
        pytest.skip("admin_worker runs only in the full profile")
    target = f"{catalog}-fork"
    r = requests.post(f"{urls['admin_worker']}/forks", json={"sourceIndex": catalog, "targetIndex": target},
                      headers={"x-api-key": demo_key}, timeout=30)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["executionArn"].startswith("arn:aws:states:")
    done = wait_for(lambda: (j := requests.get(f"{urls['admin_worker']}/forks/{job['jobId']}", headers={"x-api-key": demo_key},
                                                timeout=10).json())["status"] in ("DONE", "FAILED") and j, what="the fork job")
    assert done["status"] == "DONE", done
    try:
        forked = marqo.Client(url=urls["search_proxy"], api_key=demo_key).index(target)
        assert forked.get_stats()["numberOfDocuments"] == len(DOCS)
        assert forked.search("wool socks", search_method="LEXICAL")["hits"][0]["_id"] == "d4"
    finally:
        requests.delete(f"{urls['controller']}/api/v2/indexes/{target}", headers={"x-api-key": demo_key}, timeout=30)


def test_a_pinned_result_rule_changes_the_order_of_hits(urls, demo_key, catalog):
    index = marqo.Client(url=urls["search_proxy"], api_key=demo_key).index(catalog)
    before = [h["_id"] for h in index.search("shoes", search_method="LEXICAL")["hits"]]
    assert before[0] != "d4"
    r = requests.put(f"{urls['search_proxy']}/indexes/{catalog}/rules", json={"pins": [{"query": "shoes", "ids": ["d4"]}]},
                     headers={"x-api-key": demo_key}, timeout=10)
    assert r.status_code == 200, r.text
    try:
        after = index.search("shoes", search_method="LEXICAL")["hits"]
        assert after[0]["_id"] == "d4" and after[0].get("_pinned") is True
        assert [h["_id"] for h in after[1:]] == [i for i in before if i != "d4"][: len(after) - 1]
    finally:
        requests.delete(f"{urls['search_proxy']}/indexes/{catalog}/rules", headers={"x-api-key": demo_key}, timeout=10)
    assert [h["_id"] for h in index.search("shoes", search_method="LEXICAL")["hits"]] == before
