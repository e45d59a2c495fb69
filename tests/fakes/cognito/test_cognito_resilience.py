"""The seed's resilience principles: JSON errors always, fields named, caches capped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fakes.fake_cognito import auth as auth_module
from fakes.fake_cognito.auth import Auth
from fakes.fake_cognito.backend import Backend
from fakes.fake_cognito.cache import BoundedCache
from fakes.fake_cognito.errors import CognitoError
from fakes.fake_cognito.keys import KeyRing
from fakes.fake_cognito.store import Store

TARGET = "AWSCognitoIdentityProviderService."
ROOT = Path(__file__).resolve().parents[3]


def _post(fake, action: str | None, body: bytes | str) -> requests.Response:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if action is not None:
        headers["X-Amz-Target"] = TARGET + action
    return requests.post(fake.url + "/", data=body, headers=headers, timeout=5)


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/no/such/path", 404), ("PUT", "/", 405), ("DELETE", "/healthz", 405),
    ("GET", "/us-east-1_Nope12345/.well-known/jwks.json", 404),
    ("GET", "/us-east-1_Nope12345/.well-known/openid-configuration", 404),
])
def test_http_errors_are_json(fake, method, path, status):
    response = requests.request(method, fake.url + path, timeout=5)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/")
    assert response.json()["__type"]


@pytest.mark.parametrize("action,body,type_,needle", [
    ("ListUsers", b"{not json", "SerializationException", "body"),
    ("ListUsers", b"[1, 2]", "SerializationException", "body"),
    ("ListUsers", b"\xff\xfe", "SerializationException", "body"),
    ("ListUsers", b"{}", "InvalidParameterException", "userPoolId"),
    ("AdminCreateUser", json.dumps({"UserPoolId": 5, "Username": "x"}), "InvalidParameterException", "userPoolId"),
    ("ListUsers", json.dumps({"UserPoolId": "us-east-1_AbCdEfGhI", "Limit": "ten"}), "InvalidParameterException", "limit"),
    ("InitiateAuth", json.dumps({"AuthFlow": "MAGIC", "ClientId": "x"}), "InvalidParameterException", "authFlow"),
    ("NoSuchAction", b"{}", "UnknownOperationException", "NoSuchAction"),
    (None, b"{}", "UnknownOperationException", "X-Amz-Target"),
])
def test_bad_requests_are_400_json_naming_the_field(fake, action, body, type_, needle):
    response = _post(fake, action, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["__type"] == type_ and needle in payload["message"]


def test_oversized_body_is_json_413(fake):
    response = _post(fake, "ListUsers", b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}')
    assert response.status_code == 413 and response.json()["__type"]


def test_describe_reports_capped_caches(fake):
    doc = requests.get(fake.url + "/", timeout=5).json()
    assert doc["service"] == "fake_cognito"
    sessions = doc["caches"]["sessions"]
    assert sessions["max"] == auth_module.SESSION_CACHE_MAX and 0 <= sessions["size"] <= sessions["max"]


def test_bounded_cache_evicts_least_recently_used():
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2


def test_challenge_sessions_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(auth_module, "SESSION_CACHE_MAX", 3)
    store = Store(tmp_path / "fake_cognito.sqlite3")
    backend = Backend(store, KeyRing("1", "s", store), "1", "us-east-1")
    auth = Auth(backend)
    pool = backend.CreateUserPool({"PoolName": "p"})["UserPool"]["Id"]
    client = backend.CreateUserPoolClient({"UserPoolId": pool, "ClientName": "c"})["UserPoolClient"]["ClientId"]
    sessions = []
    for i in range(5):
        backend.AdminCreateUser({"UserPoolId": pool, "Username": f"u{i}", "TemporaryPassword": "Temp0rary!"})
        sessions.append(auth.InitiateAuth({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {
            "USERNAME": f"u{i}", "PASSWORD": "Temp0rary!"}})["Session"])
    assert len(auth.sessions) == 3

    def respond(i: int) -> dict:
        return auth.RespondToAuthChallenge({"ClientId": client, "ChallengeName": "NEW_PASSWORD_REQUIRED",
                                            "Session": sessions[i], "ChallengeResponses": {
                                                "USERNAME": f"u{i}", "NEW_PASSWORD": "Brand-new1"}})
    with pytest.raises(CognitoError) as exc:
        respond(0)  # evicted
    assert exc.value.type == "NotAuthorizedException"
    assert "AuthenticationResult" in respond(4)
    store.close()


@pytest.mark.parametrize("config,needle", [
    ("{nope", "not JSON"),
    ('{"userPools":[{"name":"x","id":"bad id"}]}', "userPools[0].id"),
    ('{"userPools":[{"name":"x","id":"us-east-1_Abc","users":[{"username":"u","groups":["ghost"]}]}]}', "ghost"),
])
def test_bad_declared_config_exits_2_naming_the_field(tmp_path, config, needle):
    env = {"PATH": os.environ.get("PATH", ""), "PORT": "0", "HIPPODROME_STATE_DIR": str(tmp_path),
           "HIPPODROME_RANDOM_SEED": "1", "HIPPODROME_ENCRYPTION_SECRET": "s", "HIPPODROME_COGNITO_CONFIG": config}
    done = subprocess.run([sys.executable, "-m", "fakes.fake_cognito"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Error: " in done.stderr and needle in done.stderr
