"""A client with a secret: every flow that names a user checks SECRET_HASH (SecretHash on the
self-service calls, ClientSecret on RevokeToken). Missing or wrong is refused; right works."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import requests
from botocore.exceptions import ClientError

from fakes.fake_cognito import srp

MISSING, WRONG, RIGHT = "missing", "wrong", "right"


def secret_hash(secret: str, username: str, client_id: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()).decode()


class App:
    def __init__(self, cognito, fake) -> None:
        self.c, self.fake = cognito, fake
        self.pool = cognito.create_user_pool(PoolName=f"secret-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(UserPoolId=self.pool, ClientName="confidential",
                                                 GenerateSecret=True)["UserPoolClient"]
        self.id, self.secret = client["ClientId"], client["ClientSecret"]
        self.user("sue", "Passw0rd!", email="sue@example.com")

    def user(self, name: str, password: str, permanent: bool = True, email: str | None = None) -> None:
        attrs = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}] if email else []
        self.c.admin_create_user(UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS", UserAttributes=attrs)
        self.c.admin_set_user_password(UserPoolId=self.pool, Username=name, Password=password, Permanent=permanent)

    def hash(self, how: str, username: str) -> dict[str, str]:
        """The SECRET_HASH entry as the case wants it: absent, computed with a wrong secret, or right."""
        if how == MISSING:
            return {}
        return {"SECRET_HASH": secret_hash(self.secret if how == RIGHT else self.secret[::-1], username, self.id)}

    def secret_hash_param(self, how: str, username: str) -> dict[str, str]:
        return {"SecretHash": v for v in self.hash(how, username).values()}

    def tokens(self) -> dict[str, str]:
        return self.c.initiate_auth(ClientId=self.id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "sue", "PASSWORD": "Passw0rd!", **self.hash(RIGHT, "sue")})["AuthenticationResult"]

    def code(self, username: str, purpose: str) -> str:
        codes = requests.get(f"{self.fake.url}/local/codes", params={"userPoolId": self.pool, "username": username},
                             timeout=5).json()["codes"]
        return next(c["code"] for c in codes if c["purpose"] == purpose)

    # one function per flow: run it with the SECRET_HASH as `how` says ----------------------
    def user_password_auth(self, how: str) -> Any:
        return self.c.initiate_auth(ClientId=self.id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "sue", "PASSWORD": "Passw0rd!", **self.hash(how, "sue")})

    def admin_user_password_auth(self, how: str) -> Any:
        return self.c.admin_initiate_auth(UserPoolId=self.pool, ClientId=self.id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": "sue", "PASSWORD": "Passw0rd!",
                                                          **self.hash(how, "sue")})

    def _srp_start(self, how: str, a: int) -> dict[str, Any]:
        return self.c.initiate_auth(ClientId=self.id, AuthFlow="USER_SRP_AUTH", AuthParameters={
            "USERNAME": "sue", "SRP_A": format(pow(srp.G, a, srp.N), "x"), **self.hash(how, "sue")})

    def user_srp_auth(self, how: str) -> Any:
        return self._srp_start(how, 12345)

    def password_verifier(self, how: str) -> Any:
        a = int.from_bytes(os.urandom(32), "big")
        params = self._srp_start(RIGHT, a)["ChallengeParameters"]
        user, ts = params["USER_ID_FOR_SRP"], srp.format_timestamp(datetime.now(timezone.utc))
        key = srp.client_key(self.pool, user, "Passw0rd!", int(params["SALT"], 16), a, int(params["SRP_B"], 16))
        return self.c.respond_to_auth_challenge(ClientId=self.id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses={
            "USERNAME": user, "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"], "TIMESTAMP": ts,
            "PASSWORD_CLAIM_SIGNATURE": srp.claim_signature(key, self.pool, user, params["SECRET_BLOCK"], ts),
            **self.hash(how, user)})

    def new_password_required(self, how: str) -> Any:
        name = f"tmp-{uuid.uuid4().hex[:6]}"
        self.user(name, "Temp0rary!", permanent=False)
        challenge = self.c.initiate_auth(ClientId=self.id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": name, "PASSWORD": "Temp0rary!", **self.hash(RIGHT, name)})
        return self.c.respond_to_auth_challenge(
            ClientId=self.id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
            ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": "Brand-new1", **self.hash(how, name)})

    def refresh_token_auth(self, how: str) -> Any:
        return self.c.initiate_auth(ClientId=self.id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
            "REFRESH_TOKEN": self.tokens()["RefreshToken"], **self.hash(how, "sue")})

    def sign_up(self, how: str) -> Any:
        name = f"new-{uuid.uuid4().hex[:6]}"
        return self.c.sign_up(ClientId=self.id, Username=name, Password="Passw0rd!",
                              **self.secret_hash_param(how, name))

    def confirm_sign_up(self, how: str) -> Any:
        name = f"new-{uuid.uuid4().hex[:6]}"
        self.c.sign_up(ClientId=self.id, Username=name, Password="Passw0rd!", **self.secret_hash_param(RIGHT, name))
        return self.c.confirm_sign_up(ClientId=self.id, Username=name, ConfirmationCode=self.code(name, "SignUp"),
                                      **self.secret_hash_param(how, name))

    def resend_confirmation_code(self, how: str) -> Any:
        name = f"new-{uuid.uuid4().hex[:6]}"
        self.c.sign_up(ClientId=self.id, Username=name, Password="Passw0rd!", **self.secret_hash_param(RIGHT, name))
        return self.c.resend_confirmation_code(ClientId=self.id, Username=name, **self.secret_hash_param(how, name))

    def forgot_password(self, how: str) -> Any:
        return self.c.forgot_password(ClientId=self.id, Username="sue", **self.secret_hash_param(how, "sue"))

    def confirm_forgot_password(self, how: str) -> Any:
        self.c.forgot_password(ClientId=self.id, Username="sue", **self.secret_hash_param(RIGHT, "sue"))
        return self.c.confirm_forgot_password(ClientId=self.id, Username="sue", Password="Passw0rd!",
                                              ConfirmationCode=self.code("sue", "ForgotPassword"),
                                              **self.secret_hash_param(how, "sue"))

    def revoke_token(self, how: str) -> Any:
        secret = {MISSING: {}, WRONG: {"ClientSecret": self.secret[::-1]}, RIGHT: {"ClientSecret": self.secret}}[how]
        return self.c.revoke_token(Token=self.tokens()["RefreshToken"], ClientId=self.id, **secret)


FLOWS: dict[str, str] = {  # flow -> the error Cognito answers without the right secret
    "user_password_auth": "NotAuthorizedException", "admin_user_password_auth": "NotAuthorizedException",
    "user_srp_auth": "NotAuthorizedException", "password_verifier": "NotAuthorizedException",
    "new_password_required": "NotAuthorizedException", "refresh_token_auth": "NotAuthorizedException",
    "sign_up": "NotAuthorizedException", "confirm_sign_up": "NotAuthorizedException",
    "resend_confirmation_code": "NotAuthorizedException", "forgot_password": "NotAuthorizedException",
    "confirm_forgot_password": "NotAuthorizedException", "revoke_token": "UnauthorizedException",
}


@pytest.fixture(scope="module")
def app(fake) -> App:
    return App(fake.client(), fake)


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_missing_or_wrong_secret_is_refused_right_one_works(app: App, flow: str) -> None:
    run: Callable[[str], Any] = getattr(app, flow)
    for how in (MISSING, WRONG):
        with pytest.raises(ClientError) as exc:
            run(how)
        assert exc.value.response["Error"]["Code"] == FLOWS[flow], (flow, how)
    assert run(RIGHT)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_hash_may_name_the_user_by_an_alias_or_by_its_username(app: App, cognito) -> None:
    """Front ends hash what the user typed (an email alias); after SRP's first step they send the stored name."""
    email_pool = cognito.create_user_pool(PoolName="secret-alias", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=email_pool, ClientName="c", GenerateSecret=True)["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=email_pool, Username="al@example.com", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=email_pool, Username="al@example.com", Password="Passw0rd!",
                                    Permanent=True)
    sub = cognito.admin_get_user(UserPoolId=email_pool, Username="al@example.com")["Username"]
    for name in ("al@example.com", sub):
        result = cognito.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "al@example.com", "PASSWORD": "Passw0rd!",
            "SECRET_HASH": secret_hash(client["ClientSecret"], name, client["ClientId"])})
        assert result["AuthenticationResult"]["AccessToken"]
    with pytest.raises(ClientError) as exc:  # a hash over somebody else's name is no good
        cognito.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "al@example.com", "PASSWORD": "Passw0rd!",
            "SECRET_HASH": secret_hash(client["ClientSecret"], "bo@example.com", client["ClientId"])})
    assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"
