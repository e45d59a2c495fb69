"""console: the Node.js page, its JSON API in front of the controller (API key or Cognito sign-in), and
`npm ci` installing its one dependency (amazon-cognito-identity-js, whose browser bundle it serves)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from conftest import ROOT, Proc, Stack, assert_json_error, dead_url
from hd_testing import free_ports

CONSOLE_DIR = ROOT / "examples" / "console"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def ensure_node_modules() -> None:
    """`npm ci` in examples/console when node_modules is missing, as the local engine does before starting it."""
    if not (CONSOLE_DIR / "node_modules" / "amazon-cognito-identity-js").is_dir():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONSOLE_DIR, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]


def seeded_user(stack: Stack) -> dict[str, Any]:
    """The first user the stack file declares (alice, the demo account's owner), password included."""
    config = json.loads(stack.env("fake_cognito")["HIPPODROME_COGNITO_CONFIG"])
    return config["userPools"][0]["users"][0]


def id_token(stack: Stack, username: str, password: str, client_id: str | None = None) -> str:
    env = stack.env("console")
    idp = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return idp.initiate_auth(ClientId=client_id or env["COGNITO_CLIENT_ID"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]["IdToken"]


@pytest.fixture(scope="module")
def console(stack: Stack) -> str:
    ensure_node_modules()
    stack.ensure("controller", "console")
    return stack.url("console")


def test_page_and_healthz(stack: Stack, console: str) -> None:
    assert requests.get(console + "/healthz", timeout=5).json()["status"] == "ok"
    page = requests.get(console + "/", timeout=5)
    assert page.status_code == 200 and "Hippodrome console" in page.text
    assert '<script src="/vendor/amazon-cognito-identity.min.js">' in page.text
    app = requests.get(console + "/app.js", timeout=5).text
    assert "fetch('/api/indexes'" in app and "authenticateUser" in app
    bundle = requests.get(console + "/vendor/amazon-cognito-identity.min.js", timeout=5)
    assert bundle.status_code == 200 and bundle.headers["Content-Type"].startswith("text/javascript")
    assert "AmazonCognitoIdentity" in bundle.text
    env = stack.env("console")
    assert requests.get(console + "/api/config", timeout=5).json()["cognito"] == {
        "endpoint": env["COGNITO_ENDPOINT_URL"], "userPoolId": env["COGNITO_USER_POOL_ID"],
        "clientId": env["COGNITO_CLIENT_ID"]}


def test_signed_in_user_sees_their_accounts_indexes(stack: Stack, console: str) -> None:
    alice = seeded_user(stack)
    requests.post(f"{stack.url('controller')}/api/v2/indexes/signed-in-ix", headers={"x-api-key": stack.demo_key},
                  timeout=10)
    bearer = {"Authorization": "Bearer " + id_token(stack, alice["username"], alice["password"])}
    keyless = stack.start_extra("console", CONSOLE_API_KEY="")  # nothing but the token can list
    try:
        me = requests.get(keyless.url + "/api/me", headers=bearer, timeout=10)
        assert me.status_code == 200, me.text
        assert me.json()["user"] == alice["username"] and me.json()["account"]["accountId"] == stack.demo_account
        listed = requests.get(keyless.url + "/api/indexes", headers=bearer, timeout=10)
        assert listed.status_code == 200, listed.text
        assert "signed-in-ix" in [i["indexName"] for i in listed.json()["results"]]
        header, payload, signature = bearer["Authorization"].split(".")
        forged = ".".join((header, payload, signature[::-1]))  # the signature no longer matches
        for headers in ({"Authorization": forged}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic x"}):
            assert_json_error(requests.get(keyless.url + "/api/indexes", headers=headers, timeout=10), 401)
        assert_json_error(requests.get(keyless.url + "/api/me", timeout=10), 401)
    finally:
        keyless.stop()


def test_a_user_without_an_account_gets_a_json_404(stack: Stack, console: str) -> None:
    env = stack.env("console")
    idp = boto3.client("cognito-idp", endpoint_url=env["COGNITO_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = env["COGNITO_USER_POOL_ID"]
    try:
        idp.admin_create_user(UserPoolId=pool, Username="nobody-owns@example.com", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "nobody-owns@example.com"}])
    except idp.exceptions.UsernameExistsException:
        pass
    idp.admin_set_user_password(UserPoolId=pool, Username="nobody-owns@example.com", Password="Passw0rd!",
                                Permanent=True)
    token = id_token(stack, "nobody-owns@example.com", "Passw0rd!")
    body = assert_json_error(requests.get(console + "/api/indexes", headers={"Authorization": f"Bearer {token}"},
                                          timeout=10), 404)
    assert body["code"] == "account_not_found"
    other_client = idp.create_user_pool_client(UserPoolId=pool, ClientName="elsewhere")["UserPoolClient"]["ClientId"]
    foreign = id_token(stack, "nobody-owns@example.com", "Passw0rd!", client_id=other_client)
    assert_json_error(requests.get(console + "/api/indexes", headers={"Authorization": f"Bearer {foreign}"},
                                   timeout=10), 401)


def test_lists_the_accounts_indexes(stack: Stack, console: str) -> None:
    requests.post(f"{stack.url('controller')}/api/v2/indexes/console-ix", headers={"x-api-key": stack.demo_key},
                  timeout=10)
    r = requests.get(console + "/api/indexes", headers={"x-api-key": stack.demo_key}, timeout=10)
    assert r.status_code == 200, r.text
    assert "console-ix" in [i["indexName"] for i in r.json()["results"]]
    assert_json_error(requests.get(console + "/api/indexes", headers={"x-api-key": "wrong"}, timeout=10), 401)


def test_default_key_from_env(stack: Stack) -> None:
    proc = stack.start_extra("console", CONSOLE_API_KEY=stack.demo_key)
    assert requests.get(proc.url + "/api/config", timeout=5).json()["hasDefaultKey"] is True
    assert requests.get(proc.url + "/api/indexes", timeout=10).status_code == 200
    proc.stop()


def test_errors_are_json(stack: Stack, console: str) -> None:
    assert_json_error(requests.get(console + "/nope", timeout=5), 404)
    assert_json_error(requests.post(console + "/api/indexes", timeout=5), 405)
    keyless = stack.start_extra("console", CONSOLE_API_KEY="")  # the stack file gives the console the demo key
    assert_json_error(requests.get(keyless.url + "/api/indexes", timeout=5), 401)
    keyless.stop()
    broken = stack.start_extra("console", CONTROLLER_URL=dead_url())
    assert_json_error(requests.get(broken.url + "/api/indexes", headers={"x-api-key": stack.demo_key}, timeout=10),
                      502)
    broken.stop()


def test_without_its_dependency_the_console_says_so_and_api_keys_still_work(stack: Stack, console: str,
                                                                           tmp_path: Path) -> None:
    """A node_modules/ left from before the console had a dependency: the engine does not rerun npm ci."""
    for name in ("server.js", "cognito.js", "origins.js", "package.json"):
        shutil.copy(CONSOLE_DIR / name, tmp_path / name)
    shutil.copytree(CONSOLE_DIR / "public", tmp_path / "public")
    (tmp_path / "node_modules").mkdir()
    port = free_ports(1)[0]
    proc = Proc("console-bare", ["node", "server.js"], tmp_path, stack.env("console", PORT=str(port)), port,
                tmp_path / "console.log").wait_healthy()
    try:
        body = assert_json_error(requests.get(proc.url + "/vendor/amazon-cognito-identity.min.js", timeout=5), 503)
        assert "npm ci" in body["message"]
        assert "npm ci" in proc.log()
        assert requests.get(proc.url + "/api/indexes", headers={"x-api-key": stack.demo_key}, timeout=10).ok
    finally:
        proc.stop()


def test_npm_ci_installs_the_browser_bundle(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(CONSOLE_DIR / name, tmp_path / name)
    done = subprocess.run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    package = json.loads((tmp_path / "node_modules" / "amazon-cognito-identity-js" / "package.json").read_text())
    assert package["version"].startswith("6.")
    assert (tmp_path / "node_modules" / "amazon-cognito-identity-js" / "dist" / "amazon-cognito-identity.min.js").is_file()


# --- issue 14: a web page the developer visits cannot drive the console ---------------------------------


def test_a_rebound_dns_name_cannot_read_the_demo_accounts_indexes(stack: Stack, console: str) -> None:
    response = requests.get(console + "/api/indexes", headers={"Host": "evil.example:9008"}, timeout=5)
    body = assert_json_error(response, 403)
    assert "evil.example" in body["message"] and "results" not in body
    assert requests.get(console + "/api/indexes", timeout=5).status_code == 200  # loopback, no Origin: the page's call


def test_a_foreign_origin_is_refused_and_the_stacks_own_is_answered(stack: Stack, console: str) -> None:
    refused = requests.get(console + "/api/indexes", headers={"Origin": "http://evil.example"}, timeout=5)
    assert_json_error(refused, 403)
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = requests.options(console + "/api/indexes", timeout=5, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert_json_error(preflight, 403)
    admin = stack.url("admin_server").replace("127.0.0.1", "localhost")  # another port of the stack
    allowed = requests.get(console + "/api/indexes", headers={"Origin": admin}, timeout=5)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == admin
    own = requests.get(console + "/api/config", headers={"Origin": console}, timeout=5)  # same origin
    assert own.status_code == 200 and own.headers["Access-Control-Allow-Origin"] == console


def test_healthz_answers_the_kubelets_probe_by_the_pods_address(stack: Stack, console: str) -> None:
    assert requests.get(console + "/healthz", headers={"Host": "10.244.0.9:9008"}, timeout=5).status_code == 200


def raw_request(url: str, request: bytes) -> tuple[bytes, dict]:
    """Send bytes no HTTP client would; the answer's status line and JSON body."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head, head
    return head.split(b"\r\n", 1)[0], json.loads(body)


def test_what_nodes_parser_refuses_is_json_with_its_status(stack: Stack, console: str) -> None:
    long_url = requests.get(console + "/" + "a" * 100_000, timeout=10)
    assert long_url.status_code == 431 and long_url.json()["code"] == "headers_too_large"
    status, body = raw_request(console, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 ") and body["code"] == "bad_request"
    status, body = raw_request(console, b"GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 ") and body["code"] == "bad_request"  # not a 500
