"""Issue 14 against the running example services: bad input is a 4xx in JSON naming the field, and a web page
the developer visits cannot drive them (real ``Origin`` and ``Host`` headers, as a browser sends them)."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
import requests

from conftest import Stack, assert_json_error

PYTHON_SERVICES = ("controller", "global_worker", "search_proxy", "admin_server", "ecom_indexer", "exporters",
                   "admin_worker")
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def index(stack: Stack) -> str:
    stack.ensure(*PYTHON_SERVICES)
    name = "hard-" + uuid.uuid4().hex[:8]
    created = requests.post(f"{stack.url('controller')}/api/v2/indexes/{name}", headers={"x-api-key": stack.demo_key},
                            timeout=10)
    assert created.status_code == 200, created.text
    return name


def key(stack: Stack, **headers: str) -> dict[str, str]:
    return {"x-api-key": stack.demo_key, "Content-Type": "application/json", **headers}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [900, 1_000, 5_000])
def test_json_nested_too_deep_is_a_400_at_the_controller_and_search_proxy(stack: Stack, index: str, depth: int):
    settings = f'{{"model": {nested(depth)}}}'
    assert_json_error(requests.post(f"{stack.url('controller')}/api/v2/indexes/deep-{depth}", data=settings,
                                    headers=key(stack), timeout=10), 400, "settings.model")
    search = f'{{"q": "x", "filter": {nested(depth)}}}'
    assert_json_error(requests.post(f"{stack.url('search_proxy')}/indexes/{index}/search", data=search,
                                    headers=key(stack), timeout=10), 400, "filter")


def test_a_lone_surrogate_in_a_document_id_is_a_400_naming_it_not_a_502(stack: Stack, index: str):
    body = '{"documents": [{"_id": "\\ud800", "title": "x"}], "tensorFields": []}'
    response = requests.post(f"{stack.url('search_proxy')}/indexes/{index}/documents", data=body,
                             headers=key(stack), timeout=10)
    assert assert_json_error(response, 400, "documents[0]._id")["field"] == "documents[0]._id"


def test_a_lone_surrogate_in_a_filter_is_a_400_naming_it(stack: Stack, index: str):
    body = '{"q": "x", "filter": "title:(\\udc00)"}'
    response = requests.post(f"{stack.url('search_proxy')}/indexes/{index}/search", data=body, headers=key(stack),
                             timeout=10)
    assert assert_json_error(response, 400, "filter")["field"] == "filter"


def test_ten_megabytes_of_settings_are_refused_before_they_reach_aws(stack: Stack, index: str):
    settings = json.dumps({"treatUrlsAndPointersAsImages": False, "padding": "x" * (10 * 1024 * 1024)})
    name = "big-" + uuid.uuid4().hex[:6]
    response = requests.post(f"{stack.url('controller')}/api/v2/indexes/{name}", data=settings, headers=key(stack),
                             timeout=30)
    assert assert_json_error(response, 413, "settings")["field"] == "settings"
    missing = requests.get(f"{stack.url('controller')}/api/v2/indexes/{name}", headers=key(stack), timeout=10)
    assert missing.status_code == 404  # nothing was written


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_the_http_servers_own_refusals_are_json_with_their_status(stack: Stack, index: str, service: str):
    long_url = requests.get(f"{stack.url(service)}/{'a' * 100_000}", timeout=10)
    assert "8190 bytes" in assert_json_error(long_url, 400)["message"]
    assert_json_error(requests.request("BREW", stack.url(service) + "/", timeout=10), 400)


def raw_get(url: str, path: str, header: bytes) -> tuple[int, dict]:
    """A GET with a header no HTTP client would send: its status and JSON body."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head, head
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize("service,path,header", [
    ("controller", "/api/v2/indexes", b"x-api-key: \xff\xfe"),  # was a 500: the key is hashed
    ("admin_server", "/api/me", b"Authorization: Bearer \xff"),  # was a 500: the token is decoded
])
def test_a_header_that_is_not_utf8_is_a_400_naming_it(stack: Stack, index: str, service: str, path: str,
                                                       header: bytes):
    status, body = raw_get(stack.url(service), path, header)
    assert status == 400 and body["field"].lower() == header.split(b":")[0].decode().lower(), body


# --- a web page the developer visits ------------------------------------------------------------------


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_a_foreign_origin_is_refused(stack: Stack, index: str, service: str):
    response = requests.get(f"{stack.url(service)}/healthz", headers={"Origin": EVIL}, timeout=10)
    assert EVIL in assert_json_error(response, 403)["message"]
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_a_foreign_host_is_refused_but_healthz_answers_probes(stack: Stack, index: str, service: str):
    assert_json_error(requests.get(f"{stack.url(service)}/nothing", headers={"Host": "evil.example:9002"},
                                   timeout=10), 403)
    assert requests.get(f"{stack.url(service)}/healthz", headers={"Host": "10.244.0.8:9002"},
                        timeout=10).status_code == 200


def test_a_page_cannot_list_or_create_indexes_with_a_key_it_guessed(stack: Stack, index: str):
    listed = requests.get(f"{stack.url('controller')}/api/v2/indexes", headers=key(stack, Origin=EVIL), timeout=10)
    assert_json_error(listed, 403)
    created = requests.post(f"{stack.url('controller')}/api/v2/indexes/evil-ix", headers=key(stack, Origin=EVIL),
                            data="{}", timeout=10)
    assert_json_error(created, 403)
    preflight = requests.options(f"{stack.url('search_proxy')}/indexes/{index}/search", timeout=10, headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"})
    assert_json_error(preflight, 403)


def test_the_stacks_own_origins_are_answered_with_that_origin(stack: Stack, index: str):
    console = stack.url("console")  # a front end on another port of the stack
    for origin in (console, console.replace("127.0.0.1", "localhost")):
        listed = requests.get(f"{stack.url('controller')}/api/v2/indexes", headers=key(stack, Origin=origin), timeout=10)
        assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == origin
        preflight = requests.options(f"{stack.url('search_proxy')}/indexes/{index}/search", timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"})
        assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == origin
        assert preflight.headers["Access-Control-Allow-Headers"] == "x-api-key"


# --- the encryption secret -------------------------------------------------------------------------------


def forged_admin_token(stack: Stack, secret: str) -> str:
    """What anyone who knows the seed can sign, given the secret fake_cognito derives its keys from."""
    import time

    import jwt

    from fakes.fake_cognito.keys import derive_private_key, key_id

    env = stack.env("admin_server")
    pool_id = env["COGNITO_USER_POOL_ID"]
    key = derive_private_key(stack.plan.seed, secret, pool_id)
    now = int(time.time())
    claims = {"sub": "mallory", "email": "mallory@example.com", "cognito:username": "mallory@example.com",
              "cognito:groups": ["admins"], "iss": env["COGNITO_ISSUER"], "aud": env["COGNITO_CLIENT_ID"],
              "token_use": "id", "auth_time": now, "iat": now, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key)})


def test_a_token_forged_from_the_seed_and_the_published_default_secret_is_refused(stack: Stack, index: str):
    """Issue 14: with the published default secret, anyone who knew the seed signed mallory in as an admin. The
    stack's fakes now derive their keys from the project's own secret (here the plan's), so the forgery fails."""
    me = f"{stack.url('admin_server')}/api/me"
    forged = forged_admin_token(stack, "1234567890ABCDEF")
    assert_json_error(requests.get(me, headers={"Authorization": f"Bearer {forged}"}, timeout=10), 401)
    # the same forgery with the secret the stack really uses is accepted: the secret is what stands in the way
    real = forged_admin_token(stack, stack.plan.encryption_secret)
    accepted = requests.get(me, headers={"Authorization": f"Bearer {real}"}, timeout=10)
    assert accepted.status_code == 200 and accepted.json()["groups"] == ["admins"], accepted.text


def test_a_queue_message_nested_too_deep_is_dropped_and_the_indexer_keeps_consuming(stack: Stack, index: str):
    """The consumer parsed SQS bodies with json.loads: a RecursionError ended its loop for good (and /healthz
    still said ok). Now such a message is dropped as malformed and the next one is processed."""
    import boto3

    env = stack.env("ecom_indexer")
    sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    stats_url = stack.url("ecom_indexer") + "/stats"
    before = requests.get(stats_url, timeout=5).json()
    sqs.send_message(QueueUrl=env["INGEST_QUEUE_URL"], MessageBody='{"documents": ' + nested(5_000) + "}")
    good = {"importId": "deep-then-good", "accountId": stack.demo_account, "indexName": index,
            "documents": [{"_id": "after-deep", "title": "still consuming"}], "tensorFields": []}
    sqs.send_message(QueueUrl=env["INGEST_QUEUE_URL"], MessageBody=json.dumps(good))
    deadline = time.monotonic() + 30
    found = None
    while time.monotonic() < deadline:
        found = requests.get(f"{stack.url('search_proxy')}/indexes/{index}/documents/after-deep",
                             headers={"x-api-key": stack.demo_key}, timeout=5)
        if found.status_code == 200:
            break
        time.sleep(0.2)
    assert found is not None and found.status_code == 200, found.text if found else None
    after = requests.get(stats_url, timeout=5).json()
    assert after["failed"] == before["failed"] + 1 and "deeper than 64" in after["lastError"], after
