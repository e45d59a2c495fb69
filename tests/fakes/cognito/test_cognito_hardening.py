"""Issue 14 against a running fake_cognito: bad input is a 4xx in JSON, and a web page cannot drive it.

Every request carries real ``Origin`` and ``Host`` headers, as a browser would send them.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

TARGET = "AWSCognitoIdentityProviderService."
ALICE = "alice@example.com"


def call(fake, action: str, body: dict | bytes | str, **headers: str) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(fake.url + "/", data=data, timeout=10, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + action, **headers})


def assert_cognito_error(response: requests.Response, status: int, kind: str, needle: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    body = response.json()
    assert body["__type"] == kind and needle in body["message"], body


def can_sign_in(fake, password: str) -> bool:
    return call(fake, "AdminInitiateAuth", {"UserPoolId": fake.pool_id, "ClientId": fake.client_id,
                                            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                                            "AuthParameters": {"USERNAME": ALICE, "PASSWORD": password}}).ok


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [900, 1_000, 5_000])
def test_json_nested_too_deep_is_a_400_not_a_recursion_error(fake, depth):
    body = '{"UserPoolId": ' + "[" * depth + "]" * depth + "}"
    assert_cognito_error(call(fake, "ListUsers", body), 400, "SerializationException", "deeper than 64")


def test_a_lone_surrogate_in_username_is_a_400_naming_the_field(fake):
    body = '{"UserPoolId": "%s", "Username": "\\ud800", "Password": "Passw0rd!x", "Permanent": true}' % fake.pool_id
    assert_cognito_error(call(fake, "AdminSetUserPassword", body), 400, "InvalidParameterException", "'Username'")
    assert_cognito_error(call(fake, "AdminCreateUser", body), 400, "InvalidParameterException", "'Username'")


@pytest.mark.parametrize("path", ["/" + "a" * 100_000, "/" + "a" * 9_000])
def test_the_http_servers_own_refusal_of_a_long_url_is_json_with_its_status(fake, path):
    response = requests.get(fake.url + path, timeout=10)
    assert_cognito_error(response, 400, "InvalidRequestException", "8190 bytes")


def test_an_unknown_http_method_is_refused_in_json(fake):
    assert_cognito_error(requests.request("BREW", fake.url + "/", timeout=10), 400, "InvalidRequestException",
                         "method")


# --- a web page the developer visits ------------------------------------------------------------------


def test_a_foreign_origin_cannot_set_alices_password(fake):
    body = {"UserPoolId": fake.pool_id, "Username": ALICE, "Password": "Evil-Passw0rd!", "Permanent": True}
    response = call(fake, "AdminSetUserPassword", body, Origin="http://evil.example")
    assert_cognito_error(response, 403, "AccessDeniedException", "http://evil.example")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert not can_sign_in(fake, "Evil-Passw0rd!") and can_sign_in(fake, "Passw0rd!")


def test_a_foreign_origins_preflight_is_refused(fake):
    response = requests.options(fake.url + "/", timeout=10, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target"})
    assert_cognito_error(response, 403, "AccessDeniedException")
    assert not any(k.lower().startswith("access-control") for k in response.headers)


def test_the_stacks_console_may_sign_in_from_its_page(fake):
    preflight = requests.options(fake.url + "/", timeout=10, headers={
        "Origin": fake.console_origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == fake.console_origin
    assert "x-amz-target" in preflight.headers["Access-Control-Allow-Headers"]
    signed_in = call(fake, "InitiateAuth", {"ClientId": fake.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                            "AuthParameters": {"USERNAME": ALICE, "PASSWORD": "Passw0rd!"}},
                     Origin=fake.console_origin)
    assert signed_in.status_code == 200 and signed_in.json()["AuthenticationResult"]["IdToken"]
    assert signed_in.headers["Access-Control-Allow-Origin"] == fake.console_origin


def test_no_answer_carries_a_wildcard_origin(fake):
    for response in (requests.get(fake.url + "/", timeout=10), call(fake, "ListUserPools", {"MaxResults": 5}),
                     requests.get(f"{fake.url}/{fake.pool_id}/.well-known/jwks.json", timeout=10)):
        assert response.headers.get("Access-Control-Allow-Origin") != "*"


def test_a_foreign_host_is_refused_but_healthz_answers_probes(fake):
    response = requests.get(fake.url + "/", headers={"Host": "evil.example:9012"}, timeout=10)
    assert_cognito_error(response, 403, "AccessDeniedException", "evil.example")
    assert call(fake, "ListUserPools", {"MaxResults": 5}, Host="evil.example:9012").status_code == 403
    assert requests.get(fake.url + "/healthz", headers={"Host": "10.244.0.9:9012"}, timeout=10).status_code == 200


def test_requests_without_origin_pass(fake):
    assert call(fake, "ListUserPools", {"MaxResults": 5}).status_code == 200
    assert call(fake, "ListUserPools", {"MaxResults": 5}, Host=f"localhost:{fake.port}").status_code == 200


def test_a_header_that_is_not_utf8_is_a_400_naming_it(fake):
    """aiohttp hands such bytes on as lone surrogates, which fail wherever they are encoded."""
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
               b"X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools\r\nX-Amz-User-Agent: \xff\xfe\r\n"
               b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    with socket.create_connection(("127.0.0.1", fake.port), timeout=10) as raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/x-amz-json-1.1" in head
    error = json.loads(body)
    assert error["__type"] == "InvalidRequestException" and "X-Amz-User-Agent" in error["message"]
