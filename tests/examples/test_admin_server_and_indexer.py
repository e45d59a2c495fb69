"""admin_server + ecom_indexer: Cognito onboarding, import → SQS → indexer → search_proxy, 401/422/502."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
import requests

from conftest import Stack, assert_json_error, dead_url


def login(stack: Stack, username: str = "alice@example.com", password: str = "Hippodrome-1!",
          kind: str = "IdToken") -> str:
    env = stack.env("admin_server")
    cognito = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    result = cognito.initiate_auth(ClientId=env["COGNITO_CLIENT_ID"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": password})
    return result["AuthenticationResult"][kind]


@pytest.fixture(scope="module")
def admin(stack: Stack) -> str:
    stack.ensure("controller", "global_worker", "search_proxy", "admin_server", "ecom_indexer")
    return stack.url("admin_server")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_onboard_import_and_search(stack: Stack, admin: str) -> None:
    token = login(stack)
    me = requests.get(admin + "/api/me", headers=bearer(token), timeout=10).json()
    assert me["user"] == "alice@example.com" and "admins" in me["groups"]
    assert me["account"]["accountId"] == stack.demo_account  # alice owns the seeded demo account

    index = "shop-" + uuid.uuid4().hex[:6]
    r = requests.post(admin + "/api/onboard", json={"indexName": index}, headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["accountId"] == stack.demo_account and "apiKey" not in r.json()
    assert_json_error(requests.post(admin + "/api/onboard", json={"indexName": index}, headers=bearer(token),
                                    timeout=10), 409)
    listed = requests.get(admin + "/api/indexes", headers=bearer(login(stack, kind="AccessToken")), timeout=10)
    assert index in [i["indexName"] for i in listed.json()["results"]]

    docs = [{"_id": f"p{i}", "title": f"blue widget {i}"} for i in range(250)]
    r = requests.post(f"{admin}/api/indexes/{index}/import", json={"documents": docs, "tensorFields": []},
                      headers=bearer(token), timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["batches"] == 3 and r.json()["eventPublished"] is True

    proxy = stack.url("search_proxy")
    deadline = time.monotonic() + 20
    count = 0
    while time.monotonic() < deadline:
        count = requests.get(f"{proxy}/indexes/{index}/stats", headers={"x-api-key": stack.demo_key},
                             timeout=5).json().get("numberOfDocuments", 0)
        if count == 250:
            break
        time.sleep(0.2)
    assert count == 250
    stats = requests.get(stack.url("ecom_indexer") + "/stats", timeout=5).json()
    assert stats["processed"] >= 3 and stats["documents"] >= 250

    # the event went to SNS -> the index-events queue
    env = stack.env("admin_server")
    sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    events_queue = env["INGEST_QUEUE_URL"].rsplit("/", 1)[0] + "/index-events"
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=events_queue, MaxNumberOfMessages=10,
                                                       WaitTimeSeconds=1).get("Messages", [])]
    assert any(index in b for b in bodies), bodies


def test_a_new_user_gets_a_new_account(stack: Stack, admin: str) -> None:
    env = stack.env("admin_server")
    cognito = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    user = f"u{uuid.uuid4().hex[:6]}@example.com"
    cognito.admin_create_user(UserPoolId=env["COGNITO_USER_POOL_ID"], Username=user,
                              UserAttributes=[{"Name": "email", "Value": user}], MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=env["COGNITO_USER_POOL_ID"], Username=user,
                                    Password="Passw0rd-long!", Permanent=True)
    token = login(stack, user, "Passw0rd-long!")
    assert_json_error(requests.get(admin + "/api/indexes", headers=bearer(token), timeout=10), 404)
    r = requests.post(admin + "/api/onboard", json={"indexName": "first"}, headers=bearer(token), timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["accountId"] != stack.demo_account and r.json()["apiKey"].startswith("hk_")
    # the new key works on the data plane, for this account only
    stats = requests.get(stack.url("search_proxy") + "/indexes/first/stats",
                         headers={"x-api-key": r.json()["apiKey"]}, timeout=5)
    assert stats.status_code == 200, stats.text


def test_auth_and_validation_errors(stack: Stack, admin: str) -> None:
    assert_json_error(requests.post(admin + "/api/onboard", json={"indexName": "x"}, timeout=5), 401)
    assert_json_error(requests.post(admin + "/api/onboard", json={"indexName": "x"},
                                    headers=bearer("not.a.jwt"), timeout=5), 401)
    token = login(stack)
    assert_json_error(requests.post(admin + "/api/onboard", json={}, headers=bearer(token), timeout=5), 422,
                      "indexName")
    assert_json_error(requests.post(admin + "/api/onboard", data="[", headers=bearer(token), timeout=5), 400)
    assert_json_error(requests.post(admin + "/api/indexes/x/import", json={"documents": [1]},
                                    headers=bearer(token), timeout=5), 422, "documents[0]")
    assert_json_error(requests.post(admin + "/api/indexes/no-such-index/import", json={"documents": [{"a": 1}]},
                                    headers=bearer(token), timeout=10), 404)
    assert_json_error(requests.get(admin + "/api/onboard", headers=bearer(token), timeout=5), 405)
    assert_json_error(requests.get(admin + "/nope", timeout=5), 404)


def test_controller_down_is_502(stack: Stack, admin: str) -> None:
    broken = stack.start_extra("admin_server", CONTROLLER_URL=dead_url())
    assert_json_error(requests.post(broken.url + "/api/onboard", json={"indexName": "x"},
                                    headers=bearer(login(stack)), timeout=10), 502)
    broken.stop()
    no_jwks = stack.start_extra("admin_server", healthy=False, COGNITO_JWKS_URL=dead_url() + "/jwks.json")
    assert requests.get(no_jwks.url + "/healthz", timeout=10).status_code == 503
    assert_json_error(requests.get(no_jwks.url + "/api/indexes", headers=bearer(login(stack)), timeout=15), 502)
    no_jwks.stop()


def test_indexer_retries_while_search_proxy_is_down(stack: Stack, admin: str) -> None:
    """A batch that met a dead search_proxy stays queued (retried, not dropped); a working indexer then writes it.

    Deterministic: the shared indexer is stopped while the broken one holds the queue, so the broken
    one surely meets the message; only then does a working indexer come back.
    """
    index = "retry-" + uuid.uuid4().hex[:6]
    token = login(stack)
    assert requests.post(admin + "/api/onboard", json={"indexName": index}, headers=bearer(token),
                         timeout=10).status_code == 201
    stack.running["ecom_indexer"].stop()
    broken = stack.start_extra("ecom_indexer", SEARCH_PROXY_URL=dead_url())
    try:
        r = requests.post(f"{admin}/api/indexes/{index}/import", json={"documents": [{"_id": "r1", "t": "x"}]},
                          headers=bearer(token), timeout=10)
        assert r.status_code == 202
        deadline = time.monotonic() + 30
        stats = requests.get(broken.url + "/stats", timeout=5).json()
        while stats["retried"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = requests.get(broken.url + "/stats", timeout=5).json()
        assert stats["retried"] >= 1 and stats["failed"] == 0, stats  # met the dead upstream, kept the message
        assert "will retry message" in (stats["lastError"] or ""), stats
    finally:
        broken.stop()
    stack.ensure("ecom_indexer")  # a working indexer again: it gets the message once it is visible
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = requests.get(f"{stack.url('search_proxy')}/indexes/{index}/documents/r1",
                           headers={"x-api-key": stack.demo_key}, timeout=5)
        if got.status_code == 200:
            break
        time.sleep(0.2)
    running = requests.get(stack.url("ecom_indexer") + "/stats", timeout=5).json()
    assert got.status_code == 200, (got.text, running)
    assert running["processed"] >= 1 and running["failed"] == 0, running
