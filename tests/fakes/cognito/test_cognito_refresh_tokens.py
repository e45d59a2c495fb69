"""Refresh tokens are opaque like Cognito's (compact JWE sealed per pool), not JWTs a JWKS verifies;
tampered or foreign ones are refused, and RS256 refresh tokens issued before the change still work."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from fakes.fake_cognito import tokens
from fakes.fake_cognito.auth import Auth
from fakes.fake_cognito.backend import Backend
from fakes.fake_cognito.errors import CognitoError
from fakes.fake_cognito.keys import KeyRing
from fakes.fake_cognito.store import Store


def _refresh(cognito, client_id: str, token: str) -> dict:
    return cognito.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": token})


def test_refresh_tokens_are_opaque_and_sealed(cognito, fake):
    signed_in = cognito.initiate_auth(ClientId=fake.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice@example.com", "PASSWORD": "Passw0rd!"})["AuthenticationResult"]
    token = signed_in["RefreshToken"]
    parts = token.split(".")
    assert len(parts) == 5 and parts[1] == ""  # compact JWE, direct key agreement
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    assert header == {"cty": "JWT", "enc": "A256GCM", "alg": "dir"}
    jwks = jwt.PyJWKClient(f"{fake.url}/{fake.pool_id}/.well-known/jwks.json")
    with pytest.raises(jwt.PyJWTError):  # nothing can take a refresh token for an id or access token
        jwt.decode(token, jwks.get_jwk_set().keys[0].key, algorithms=["RS256"])
    assert _refresh(cognito, fake.client_id, token)["AuthenticationResult"]["AccessToken"]
    tampered = ".".join(parts[:3] + [parts[3][:-2] + ("AA" if not parts[3].endswith("AA") else "BB"), parts[4]])
    for bad in (tampered, token[:-4], "a.b.c.d.e", signed_in["AccessToken"]):
        with pytest.raises(ClientError) as exc:
            _refresh(cognito, fake.client_id, bad)
        assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"
    other = cognito.create_user_pool(PoolName="sealed-elsewhere")["UserPool"]["Id"]
    other_client = cognito.create_user_pool_client(UserPoolId=other, ClientName="c")["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as exc:  # another pool's key does not open it
        _refresh(cognito, other_client, token)
    assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert requests.get(fake.url + "/healthz", timeout=5).status_code == 200


def test_rs256_refresh_tokens_from_before_still_refresh(tmp_path):
    store = Store(tmp_path / "fake_cognito.sqlite3")
    backend = Backend(store, KeyRing("1", "s", store), "1", "us-east-1")
    auth = Auth(backend)
    pool = backend.CreateUserPool({"PoolName": "p"})["UserPool"]["Id"]
    client = backend.CreateUserPoolClient({"UserPoolId": pool, "ClientName": "c"})["UserPoolClient"]["ClientId"]
    backend.AdminCreateUser({"UserPoolId": pool, "Username": "old", "MessageAction": "SUPPRESS"})
    backend.AdminSetUserPassword({"UserPoolId": pool, "Username": "old", "Password": "Passw0rd!", "Permanent": True})
    now = int(time.time())
    key, kid = backend.keyring.get(pool)
    legacy = jwt.encode({  # what fake_cognito issued as a refresh token before they were sealed
        "sub": "s", "iss": tokens.issuer("us-east-1", pool), "client_id": client, "cognito:username": "old",
        "token_use": "refresh", "origin_jti": "j-1", "jti": "j-1", "auth_time": now, "iat": now, "exp": now + 600,
    }, key, algorithm="RS256", headers={"kid": kid})
    store.add_refresh("j-1", pool, "old", client, now, now + 600)
    result = auth.InitiateAuth({"ClientId": client, "AuthFlow": "REFRESH_TOKEN_AUTH",
                                "AuthParameters": {"REFRESH_TOKEN": legacy}})
    assert jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})["origin_jti"] == "j-1"
    auth.RevokeToken({"ClientId": client, "Token": legacy})
    with pytest.raises(CognitoError) as exc:
        auth.InitiateAuth({"ClientId": client, "AuthFlow": "REFRESH_TOKEN_AUTH",
                           "AuthParameters": {"REFRESH_TOKEN": legacy}})
    assert exc.value.type == "NotAuthorizedException"
    store.close()
