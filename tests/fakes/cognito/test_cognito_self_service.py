"""A front end's whole journey through pycognito's ``Cognito`` class (SRP sign-in), configured the way
a developer points it at fake_cognito (boto3's service endpoint variable): sign up, read the code
from the local outbox, confirm, sign in, refresh, change and reset the password, sign out, revoke.
Once with a public client, once with a client that has a secret (pycognito sends SECRET_HASH)."""

from __future__ import annotations

import json
import uuid

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def latest_code(fake, pool_id: str, username: str, purpose: str) -> str:
    codes = requests.get(f"{fake.url}/local/codes", params={"userPoolId": pool_id, "username": username},
                         timeout=5).json()["codes"]
    return next(c["code"] for c in codes if c["purpose"] == purpose and not c["expired"])


@pytest.fixture
def as_developer(monkeypatch, fake):
    """pycognito builds its own boto3 client: point it here as one would on a laptop."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", fake.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(params=["public", "secret"])
def app(request, cognito, fake, as_developer, monkeypatch):
    pool = cognito.create_user_pool(PoolName=f"journey-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"])
    pool_id = pool["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web",
                                             GenerateSecret=request.param == "secret")["UserPoolClient"]
    # pycognito verifies tokens with the keys in COGNITO_JWKS (else it fetches them from AWS itself)
    jwks = requests.get(f"{fake.url}/{pool_id}/.well-known/jwks.json", timeout=5).json()
    monkeypatch.setenv("COGNITO_JWKS", json.dumps(jwks))

    def user(username: str) -> Cognito:
        return Cognito(pool_id, client["ClientId"], user_pool_region="us-east-1", username=username,
                       client_secret=client.get("ClientSecret"))

    return {"pool_id": pool_id, "client": client, "user": user}


def test_sign_up_confirm_sign_in_refresh(app, fake, cognito):
    pool_id, client_id = app["pool_id"], app["client"]["ClientId"]
    u = app["user"]("uma")
    u.set_base_attributes(email="uma@example.com")
    signed_up = u.register("uma", "Passw0rd!")
    assert signed_up["UserConfirmed"] is False
    assert signed_up["CodeDeliveryDetails"] == {"Destination": "u***@e***", "DeliveryMedium": "EMAIL",
                                                "AttributeName": "email"}
    with pytest.raises(ClientError) as exc:  # not confirmed yet: the right password is not enough
        app["user"]("uma").authenticate("Passw0rd!")
    assert _code(exc) == "UserNotConfirmedException"
    with pytest.raises(ClientError) as exc:
        u.confirm_sign_up("000000" if latest_code(fake, pool_id, "uma", "SignUp") != "000000" else "111111")
    assert _code(exc) == "CodeMismatchException"
    u.resend_confirmation_code("uma")
    u.confirm_sign_up(latest_code(fake, pool_id, "uma@example.com", "SignUp"))
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="uma")
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    with pytest.raises(ClientError) as exc:
        u.confirm_sign_up("123456")
    assert _code(exc) == "NotAuthorizedException"

    with pytest.raises(ClientError) as exc:
        app["user"]("uma").authenticate("Passw0rd?")
    assert _code(exc) == "NotAuthorizedException"
    u = app["user"]("uma")
    u.authenticate("Passw0rd!")  # SRP; pycognito verifies both tokens against the pool's JWKS
    assert u.id_claims["cognito:username"] == "uma" and u.access_claims["client_id"] == client_id
    jwks = jwt.PyJWKClient(f"{fake.url}/{pool_id}/.well-known/jwks.json")
    claims = jwt.decode(u.id_token, jwks.get_signing_key_from_jwt(u.id_token).key, algorithms=["RS256"],
                        audience=client_id, issuer=ISSUER + pool_id)
    assert claims["email"] == "uma@example.com" and claims["email_verified"] is True
    first_access = u.access_token
    u.renew_access_token()  # REFRESH_TOKEN_AUTH after SRP (with SECRET_HASH where the client has a secret)
    assert u.access_token != first_access
    assert u.get_user().email == "uma@example.com"


def test_change_reset_sign_out_revoke(app, fake, cognito):
    pool_id, client = app["pool_id"], app["client"]
    u = app["user"]("val")
    u.set_base_attributes(email="val@example.com")
    u.register("val", "Passw0rd!")
    u.confirm_sign_up(latest_code(fake, pool_id, "val", "SignUp"))
    u.authenticate("Passw0rd!")

    with pytest.raises(ClientError) as exc:
        u.change_password("Wrong-passw0rd", "Changed-1!")
    assert _code(exc) == "NotAuthorizedException"
    u.change_password("Passw0rd!", "Changed-1!")
    with pytest.raises(ClientError) as exc:
        app["user"]("val").authenticate("Passw0rd!")
    assert _code(exc) == "NotAuthorizedException"
    app["user"]("val").authenticate("Changed-1!")

    u.initiate_forgot_password()
    code = latest_code(fake, pool_id, "val", "ForgotPassword")
    with pytest.raises(ClientError) as exc:
        u.confirm_forgot_password(code, "weak")
    assert _code(exc) == "InvalidPasswordException"
    with pytest.raises(ClientError) as exc:
        u.confirm_forgot_password(str((int(code) + 1) % 10**6).zfill(6), "Reset-passw0rd")
    assert _code(exc) == "CodeMismatchException"
    u.confirm_forgot_password(code, "Reset-passw0rd")
    with pytest.raises(ClientError) as exc:  # a code is single-use
        u.confirm_forgot_password(code, "Again-passw0rd1")
    assert _code(exc) == "CodeMismatchException"
    for old in ("Passw0rd!", "Changed-1!"):
        with pytest.raises(ClientError) as exc:
            app["user"]("val").authenticate(old)
        assert _code(exc) == "NotAuthorizedException"

    signed_in = app["user"]("val")
    signed_in.authenticate("Reset-passw0rd")
    access = signed_in.access_token
    signed_in.logout()  # GlobalSignOut
    with pytest.raises(ClientError) as exc:
        cognito.get_user(AccessToken=access)
    assert _code(exc) == "NotAuthorizedException"

    tokens = AWSSRP("val", "Reset-passw0rd", pool_id, client["ClientId"], client=cognito,
                    client_secret=client.get("ClientSecret")).authenticate_user()["AuthenticationResult"]
    secret = {"ClientSecret": client["ClientSecret"]} if client.get("ClientSecret") else {}
    if secret:
        with pytest.raises(ClientError) as exc:
            cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=client["ClientId"], ClientSecret="wrong-secret-" + "x" * 24)
        assert _code(exc) == "UnauthorizedException"
    cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=client["ClientId"], **secret)
    with pytest.raises(ClientError) as exc:  # the access tokens issued with it go too
        cognito.get_user(AccessToken=tokens["AccessToken"])
    assert _code(exc) == "NotAuthorizedException"


def test_self_service_errors(cognito, fake):
    pool_id = cognito.create_user_pool(PoolName="ss-errors")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]["ClientId"]
    cognito.sign_up(ClientId=client_id, Username="wes", Password="Passw0rd!")  # no email: confirmed by code anyway
    codes = requests.get(f"{fake.url}/local/codes", params={"userPoolId": pool_id}, timeout=5).json()["codes"]
    assert [(c["username"], c["purpose"], c["deliveredTo"]) for c in codes] == [("wes", "SignUp", None)]
    cases = [
        (lambda: cognito.sign_up(ClientId=client_id, Username="wes", Password="Passw0rd!"), "UsernameExistsException"),
        (lambda: cognito.sign_up(ClientId=client_id, Username="xan", Password="short"), "InvalidPasswordException"),
        (lambda: cognito.sign_up(ClientId="nope", Username="xan", Password="Passw0rd!"), "ResourceNotFoundException"),
        (lambda: cognito.confirm_sign_up(ClientId=client_id, Username="ghost", ConfirmationCode="123456"),
         "UserNotFoundException"),
        (lambda: cognito.forgot_password(ClientId=client_id, Username="ghost"), "UserNotFoundException"),
        # no verified email or phone: Cognito has nowhere to send a reset code
        (lambda: cognito.forgot_password(ClientId=client_id, Username="wes"), "InvalidParameterException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == code
    cognito.confirm_sign_up(ClientId=client_id, Username="wes", ConfirmationCode=codes[0]["code"])
    with pytest.raises(ClientError) as exc:
        cognito.resend_confirmation_code(ClientId=client_id, Username="wes")
    assert _code(exc) == "InvalidParameterException"
    email_pool = cognito.create_user_pool(PoolName="ss-email", UsernameAttributes=["email"])["UserPool"]["Id"]
    email_client = cognito.create_user_pool_client(UserPoolId=email_pool, ClientName="web")["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as exc:
        cognito.sign_up(ClientId=email_client, Username="not-an-email", Password="Passw0rd!")
    assert _code(exc) == "InvalidParameterException"
    signed = cognito.sign_up(ClientId=email_client, Username="yara@example.com", Password="Passw0rd!")
    assert cognito.admin_get_user(UserPoolId=email_pool, Username="yara@example.com")["Username"] == signed["UserSub"]


def test_codes_are_logged_and_survive_a_restart(make_fake):
    server = make_fake().start()
    cognito = server.client()
    cognito.sign_up(ClientId=server.client_id, Username="zed", Password="Passw0rd!",
                    UserAttributes=[{"Name": "email", "Value": "zed@example.com"}])
    code = latest_code(server, server.pool_id, "zed", "SignUp")
    assert f"code {code} for user zed" in server.log.read_text()
    server.stop()
    server.start()
    cognito = server.client()
    cognito.confirm_sign_up(ClientId=server.client_id, Username="zed", ConfirmationCode=code)
    assert cognito.admin_get_user(UserPoolId=server.pool_id, Username="zed")["UserStatus"] == "CONFIRMED"
