"""USER_SRP_AUTH through the real client libraries (pycognito's AWSSRP, boto3), tokens checked
with PyJWT against the JWKS URL; a wrong password is refused on every path."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import ForceChangePasswordException

from fakes.fake_cognito import srp

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def verify(fake, pool_id: str, client_id: str, result: dict) -> dict:
    """Both tokens verify against the pool's JWKS URL; returns the id token's claims."""
    jwks = jwt.PyJWKClient(f"{fake.url}/{pool_id}/.well-known/jwks.json")
    id_token, access = result["IdToken"], result["AccessToken"]
    claims = jwt.decode(id_token, jwks.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                        audience=client_id, issuer=ISSUER + pool_id)
    acc = jwt.decode(access, jwks.get_signing_key_from_jwt(access).key, algorithms=["RS256"], issuer=ISSUER + pool_id,
                     options={"verify_aud": False})
    assert claims["token_use"] == "id" and acc["token_use"] == "access" and acc["client_id"] == client_id
    return claims


def srp_challenge(cognito, client_id: str, username: str, a: int, **extra) -> dict:
    return cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters={
        "USERNAME": username, "SRP_A": format(pow(srp.G, a, srp.N), "x"), **extra})


def srp_claim(pool_id: str, password: str, a: int, params: dict, timestamp: str | None = None) -> dict:
    """The PASSWORD_VERIFIER answer, computed with srp.py's client half (for the cases the libraries
    cannot be made to send: odd timestamps, replays)."""
    user = params["USER_ID_FOR_SRP"]
    key = srp.client_key(pool_id, user, password, int(params["SALT"], 16), a, int(params["SRP_B"], 16))
    timestamp = timestamp or srp.format_timestamp(datetime.now(timezone.utc))
    return {"USERNAME": user, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"], "TIMESTAMP": timestamp,
            "PASSWORD_CLAIM_SIGNATURE": srp.claim_signature(key, pool_id, user, params["SECRET_BLOCK"], timestamp)}


@pytest.fixture
def pool(cognito):
    pool = cognito.create_user_pool(PoolName=f"srp-{uuid.uuid4().hex[:8]}")["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="spa",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool["Id"], Username="sam", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "sam@example.com"}])
    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username="sam", Password="Passw0rd!", Permanent=True)
    return {"id": pool["Id"], "client_id": client["ClientId"]}


def test_pycognito_signs_in_with_the_right_password_only(cognito, fake, pool):
    tokens = AWSSRP("sam", "Passw0rd!", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    claims = verify(fake, pool["id"], pool["client_id"], tokens["AuthenticationResult"])
    assert claims["cognito:username"] == "sam" and claims["email"] == "sam@example.com"
    with pytest.raises(ClientError) as exc:
        AWSSRP("sam", "Passw0rd?", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        AWSSRP("nobody", "Passw0rd!", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    assert _code(exc) == "UserNotFoundException"


def test_the_challenge_names_the_stored_user_and_the_declared_email_works(cognito, fake):
    challenge = srp_challenge(cognito, fake.client_id, "alice@example.com", 12345)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    params = challenge["ChallengeParameters"]
    assert set(params) == {"SALT", "SECRET_BLOCK", "SRP_B", "USERNAME", "USER_ID_FOR_SRP"}
    assert params["USER_ID_FOR_SRP"] == params["USERNAME"] == "alice@example.com"
    tokens = AWSSRP("alice@example.com", "Passw0rd!", fake.pool_id, fake.client_id, client=cognito).authenticate_user()
    assert verify(fake, fake.pool_id, fake.client_id, tokens["AuthenticationResult"])["cognito:groups"] == ["admins"]


def test_email_as_username_pool_uses_the_sub_for_srp(cognito, fake):
    pool = cognito.create_user_pool(PoolName="srp-email", UsernameAttributes=["email"])["UserPool"]
    client = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName="spa")["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool["Id"], Username="eve@example.com", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username="eve@example.com", Password="Passw0rd!",
                                    Permanent=True)
    params = srp_challenge(cognito, client, "eve@example.com", 999)["ChallengeParameters"]
    sub = cognito.admin_get_user(UserPoolId=pool["Id"], Username="eve@example.com")["Username"]
    assert params["USER_ID_FOR_SRP"] == sub != "eve@example.com"
    tokens = AWSSRP("eve@example.com", "Passw0rd!", pool["Id"], client, client=cognito).authenticate_user()
    assert verify(fake, pool["Id"], client, tokens["AuthenticationResult"])["email"] == "eve@example.com"
    with pytest.raises(ClientError) as exc:
        AWSSRP("eve@example.com", "Passw0rd", pool["Id"], client, client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"


def test_new_password_required_after_srp(cognito, fake, pool):
    cognito.admin_create_user(UserPoolId=pool["id"], Username="tina", TemporaryPassword="Temp0rary!",
                              MessageAction="SUPPRESS")
    with pytest.raises(ClientError) as exc:  # the temporary password is checked like any other
        AWSSRP("tina", "Temp0rary?", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"
    with pytest.raises(ForceChangePasswordException):
        AWSSRP("tina", "Temp0rary!", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    tokens = AWSSRP("tina", "Temp0rary!", pool["id"], pool["client_id"],
                    client=cognito).set_new_password_challenge("Brand-new1")
    verify(fake, pool["id"], pool["client_id"], tokens["AuthenticationResult"])
    assert cognito.admin_get_user(UserPoolId=pool["id"], Username="tina")["UserStatus"] == "CONFIRMED"
    assert AWSSRP("tina", "Brand-new1", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    with pytest.raises(ClientError) as exc:
        AWSSRP("tina", "Temp0rary!", pool["id"], pool["client_id"], client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"


def test_password_flows_keep_working_beside_srp(cognito, pool):
    for flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH"):
        call = cognito.initiate_auth if flow == "USER_PASSWORD_AUTH" else (
            lambda **kw: cognito.admin_initiate_auth(UserPoolId=pool["id"], **kw))
        assert "AuthenticationResult" in call(ClientId=pool["client_id"], AuthFlow=flow,
                                              AuthParameters={"USERNAME": "sam", "PASSWORD": "Passw0rd!"})
        with pytest.raises(ClientError) as exc:
            call(ClientId=pool["client_id"], AuthFlow=flow, AuthParameters={"USERNAME": "sam", "PASSWORD": "nope"})
        assert _code(exc) == "NotAuthorizedException"


def test_admin_srp_flow(cognito, pool):
    a = int.from_bytes(os.urandom(32), "big")
    challenge = cognito.admin_initiate_auth(
        UserPoolId=pool["id"], ClientId=pool["client_id"], AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "sam", "SRP_A": format(pow(srp.G, a, srp.N), "x")})
    params = challenge["ChallengeParameters"]
    result = cognito.admin_respond_to_auth_challenge(
        UserPoolId=pool["id"], ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp_claim(pool["id"], "Passw0rd!", a, params))
    assert result["AuthenticationResult"]["IdToken"]
    challenge = cognito.admin_initiate_auth(
        UserPoolId=pool["id"], ClientId=pool["client_id"], AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "sam", "SRP_A": format(pow(srp.G, a, srp.N), "x")})
    with pytest.raises(ClientError) as exc:
        cognito.admin_respond_to_auth_challenge(
            UserPoolId=pool["id"], ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses=srp_claim(pool["id"], "Passw0rd", a, challenge["ChallengeParameters"]))
    assert _code(exc) == "NotAuthorizedException"


def test_a_secret_block_is_single_use_and_bound_to_its_timestamp(cognito, pool):
    a = int.from_bytes(os.urandom(32), "big")
    params = srp_challenge(cognito, pool["client_id"], "sam", a)["ChallengeParameters"]
    now = datetime(2026, 12, 2, 1, 10, 9, tzinfo=timezone.utc)
    padded = srp_claim(pool["id"], "Passw0rd!", a, params, timestamp="Wed Dec 02 01:10:09 UTC 2026")
    with pytest.raises(ClientError) as exc:  # Cognito reads the day without its zero: the signature cannot match
        cognito.respond_to_auth_challenge(ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
                                          ChallengeResponses=padded)
    assert _code(exc) == "NotAuthorizedException"
    params = srp_challenge(cognito, pool["client_id"], "sam", a)["ChallengeParameters"]
    good = srp_claim(pool["id"], "Passw0rd!", a, params, timestamp=srp.format_timestamp(now))
    swapped = {**good, "TIMESTAMP": srp.format_timestamp(now + timedelta(seconds=1))}
    with pytest.raises(ClientError) as exc:
        cognito.respond_to_auth_challenge(ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
                                          ChallengeResponses=swapped)
    assert _code(exc) == "NotAuthorizedException"
    params = srp_challenge(cognito, pool["client_id"], "sam", a)["ChallengeParameters"]
    good = srp_claim(pool["id"], "Passw0rd!", a, params)
    cognito.respond_to_auth_challenge(ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=good)
    with pytest.raises(ClientError) as exc:  # replaying the same answer
        cognito.respond_to_auth_challenge(ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
                                          ChallengeResponses=good)
    assert _code(exc) == "NotAuthorizedException"


def test_bad_srp_input_is_refused(cognito, pool):
    for srp_a in ("0", format(srp.N, "x"), "not-hex"):
        with pytest.raises(ClientError) as exc:
            cognito.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_SRP_AUTH",
                                  AuthParameters={"USERNAME": "sam", "SRP_A": srp_a})
        assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        cognito.respond_to_auth_challenge(ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER",
                                          ChallengeResponses={"USERNAME": "sam", "TIMESTAMP": "x",
                                                              "PASSWORD_CLAIM_SECRET_BLOCK": "bm9wZQ==",
                                                              "PASSWORD_CLAIM_SIGNATURE": "bm9wZQ=="})
    assert _code(exc) == "NotAuthorizedException"


def test_srp_flow_must_be_enabled_on_the_client(cognito, pool):
    only_password = cognito.create_user_pool_client(UserPoolId=pool["id"], ClientName="pw-only",
                                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    with pytest.raises(ClientError) as exc:
        AWSSRP("sam", "Passw0rd!", pool["id"], only_password["ClientId"], client=cognito).authenticate_user()
    assert _code(exc) == "InvalidParameterException"


def test_prevent_user_existence_errors_hides_unknown_users(cognito, pool):
    client = cognito.create_user_pool_client(UserPoolId=pool["id"], ClientName="quiet",
                                             PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    challenge = srp_challenge(cognito, client, "nobody", 42)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"  # indistinguishable from a real user:
    again = srp_challenge(cognito, client, "nobody", 43)      # its salt does not change between asks
    assert again["ChallengeParameters"]["SALT"] == challenge["ChallengeParameters"]["SALT"]
    assert not challenge["ChallengeParameters"]["SALT"].startswith("0")
    with pytest.raises(ClientError) as exc:
        AWSSRP("nobody", "Passw0rd!", pool["id"], client, client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"


def test_the_state_holds_a_verifier_and_no_password(make_fake):
    server = make_fake().start()
    cognito = server.client()
    cognito.admin_create_user(UserPoolId=server.pool_id, Username="vic", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=server.pool_id, Username="vic", Password="Unique-Passw0rd-7!",
                                    Permanent=True)
    server.stop()
    db = server.state_dir / "fake_cognito.sqlite3"
    with sqlite3.connect(db) as conn:
        doc = json.loads(conn.execute("SELECT doc FROM objects WHERE kind='user' AND key=?",
                                      (f"{server.pool_id}/vic",)).fetchone()[0])
    salt, v = int(doc["SrpSalt"], 16), int(doc["SrpVerifier"], 16)
    assert v == srp.verifier(server.pool_id, "vic", "Unique-Passw0rd-7!", salt)
    for path in server.state_dir.iterdir():
        assert b"Unique-Passw0rd-7!" not in path.read_bytes(), path


def test_users_stored_before_verifiers_get_one_at_their_next_password_sign_in(make_fake):
    """Migration: a user with only a PBKDF2 hash (the old format) keeps signing in with its password;
    that sign-in adds the verifier, and from then on SRP works too."""
    server = make_fake().start()
    cognito = server.client()
    cognito.admin_create_user(UserPoolId=server.pool_id, Username="old", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=server.pool_id, Username="old", Password="Passw0rd!", Permanent=True)
    server.stop()
    with sqlite3.connect(server.state_dir / "fake_cognito.sqlite3") as conn:
        key = f"{server.pool_id}/old"
        doc = json.loads(conn.execute("SELECT doc FROM objects WHERE kind='user' AND key=?", (key,)).fetchone()[0])
        legacy = {k: v for k, v in doc.items() if k not in ("SrpSalt", "SrpVerifier")}
        conn.execute("UPDATE objects SET doc=? WHERE kind='user' AND key=?", (json.dumps(legacy), key))
    server.start()
    cognito = server.client()
    with pytest.raises(ClientError) as exc:
        AWSSRP("old", "Passw0rd!", server.pool_id, server.client_id, client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException" and "USER_PASSWORD_AUTH" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        cognito.initiate_auth(ClientId=server.client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "old", "PASSWORD": "wrong"})
    assert _code(exc) == "NotAuthorizedException"
    cognito.initiate_auth(ClientId=server.client_id, AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "old", "PASSWORD": "Passw0rd!"})
    assert AWSSRP("old", "Passw0rd!", server.pool_id, server.client_id, client=cognito).authenticate_user()
    with pytest.raises(ClientError) as exc:
        AWSSRP("old", "Passw0rd?", server.pool_id, server.client_id, client=cognito).authenticate_user()
    assert _code(exc) == "NotAuthorizedException"
