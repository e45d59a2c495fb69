"""Tokens verify through the JWKS URL with PyJWT, with audience and issuer checks."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

ISS = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"


@pytest.fixture
def tokens(cognito, fake):
    return cognito.initiate_auth(ClientId=fake.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice@example.com", "PASSWORD": "Passw0rd!"})["AuthenticationResult"]


def test_openid_configuration_points_at_this_server(fake):
    doc = requests.get(f"{fake.url}/{fake.pool_id}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == ISS
    assert doc["jwks_uri"] == f"{fake.url}/{fake.pool_id}/.well-known/jwks.json"
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"


def test_pyjwkclient_verifies_id_and_access_tokens(fake, tokens):
    jwks = jwt.PyJWKClient(f"{fake.url}/{fake.pool_id}/.well-known/jwks.json")
    id_token, access = tokens["IdToken"], tokens["AccessToken"]
    key = jwks.get_signing_key_from_jwt(id_token).key
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=fake.client_id, issuer=ISS)
    now = time.time()
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == "alice@example.com"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["custom:tenant"] == "t1"
    assert claims["cognito:groups"] == ["admins"]
    assert now - 60 < claims["iat"] <= claims["auth_time"] + 1 and claims["exp"] == claims["iat"] + 3600
    for name in ("sub", "jti", "origin_jti", "event_id"):
        assert claims[name]
    acc = jwt.decode(access, jwks.get_signing_key_from_jwt(access).key, algorithms=["RS256"], issuer=ISS,
                     options={"verify_aud": False})
    assert acc["token_use"] == "access" and acc["client_id"] == fake.client_id
    assert acc["scope"] == "aws.cognito.signin.user.admin" and acc["username"] == "alice@example.com"
    assert acc["sub"] == claims["sub"] and acc["origin_jti"] == claims["origin_jti"]
    assert acc["cognito:groups"] == ["admins"] and "aud" not in acc
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(id_token, key, algorithms=["RS256"], audience="someone-else", issuer=ISS)
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(id_token, key, algorithms=["RS256"], audience=fake.client_id, issuer=ISS + "x")


def test_sub_is_stable_per_user(cognito, fake, tokens):
    again = cognito.initiate_auth(ClientId=fake.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice@example.com", "PASSWORD": "Passw0rd!"})["AuthenticationResult"]
    first, second = (jwt.decode(t["IdToken"], options={"verify_signature": False}) for t in (tokens, again))
    assert first["sub"] == second["sub"] and first["origin_jti"] != second["origin_jti"]
    attrs = {a["Name"]: a["Value"] for a in cognito.admin_get_user(UserPoolId=fake.pool_id,
                                                                     Username="alice@example.com")["UserAttributes"]}
    assert attrs["sub"] == first["sub"]


def test_pools_have_distinct_keys(cognito, fake):
    other = cognito.create_user_pool(PoolName="keys-differ")["UserPool"]["Id"]
    ours = requests.get(f"{fake.url}/{fake.pool_id}/.well-known/jwks.json", timeout=5).json()["keys"][0]
    theirs = requests.get(f"{fake.url}/{other}/.well-known/jwks.json", timeout=5).json()["keys"][0]
    assert ours["n"] != theirs["n"] and ours["kid"] != theirs["kid"]
