"""Sign-in flows: InitiateAuth, challenges, GetUser, sign-out.

Separate from ``backend.py`` because this half is about sessions and tokens,
not records: password flows (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH,
ADMIN_NO_SRP_AUTH), REFRESH_TOKEN(_AUTH), the NEW_PASSWORD_REQUIRED challenge,
and the token-authenticated user calls.  Challenge sessions live only in a
bounded LRU (``SESSION_CACHE_MAX``; a restart forgets them, as their 3-minute
lifetime makes harmless); refresh-token records live in the store, so
revocation and refresh survive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

from . import params as P
from . import tokens
from .backend import Action, Backend, actions_of
from .cache import BoundedCache
from .errors import CognitoError, invalid, not_authorized, user_not_found
from .passwords import check_policy, verify_password

SESSION_CACHE_MAX = 10_000  # pending challenge sessions kept in memory (LRU)
SESSION_SECONDS = 180
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_ACTIONS: dict[str, str] = {}


def action(fn: Any) -> Any:
    _ACTIONS[fn.__name__] = fn.__name__
    return fn


class Auth:
    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.sessions: BoundedCache[str, dict[str, Any]] = BoundedCache(SESSION_CACHE_MAX)

    def actions(self) -> dict[str, Action]:
        return actions_of(self, _ACTIONS)

    # helpers -------------------------------------------------------------------
    def _validity(self, client: dict[str, Any], field: str, unit_key: str, default_seconds: int, default_unit: str) -> int:
        value = client.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return default_seconds
        unit = (client.get("TokenValidityUnits") or {}).get(unit_key, default_unit)
        return value * _UNITS.get(unit, _UNITS[default_unit])

    def _check_flow(self, client: dict[str, Any], flow: str) -> None:
        allowed = client.get("ExplicitAuthFlows")
        if not allowed:  # declared clients and clients created without the field allow every flow
            return
        names = {flow, f"ALLOW_{flow}"}
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            names |= {"ALLOW_REFRESH_TOKEN_AUTH"}
        if flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            names |= {"ADMIN_NO_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"}
        if not names & set(allowed):
            raise invalid(f"{flow} flow not enabled for this client")

    def _check_secret_hash(self, client: dict[str, Any], username: str, given: str | None) -> None:
        secret = client.get("ClientSecret")
        if not secret:
            return
        if not given:
            raise not_authorized(f"Client {client['ClientId']} is configured with secret but SECRET_HASH was not received")
        digest = hmac.new(secret.encode(), (username + client["ClientId"]).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), given):
            raise not_authorized(f"Unable to verify secret hash for client {client['ClientId']}")

    def _issue(self, pool_id: str, client: dict[str, Any], user: dict[str, Any],
               origin_jti: str | None = None, auth_time: int | None = None) -> dict[str, Any]:
        now = int(self.b.clock())
        new_session = origin_jti is None
        subject = tokens.Subject(
            pool_id=pool_id, client_id=client["ClientId"], username=user["Username"], sub=user["sub"],
            attributes=user["Attributes"], groups=self.b.user_groups(pool_id, user),
            origin_jti=origin_jti or str(uuid.uuid4()), auth_time=auth_time or now,
        )
        key, kid = self.b.keyring.get(pool_id)
        iss = tokens.issuer(self.b.region, pool_id)
        access_seconds = self._validity(client, "AccessTokenValidity", "AccessToken", tokens.DEFAULT_ACCESS_SECONDS, "hours")
        id_seconds = self._validity(client, "IdTokenValidity", "IdToken", tokens.DEFAULT_ID_SECONDS, "hours")
        id_token, access_token = tokens.id_and_access(subject, iss, key, kid, now, id_seconds, access_seconds)
        result = {"AccessToken": access_token, "ExpiresIn": access_seconds, "TokenType": "Bearer", "IdToken": id_token}
        if new_session:
            refresh_seconds = self._validity(client, "RefreshTokenValidity", "RefreshToken", tokens.DEFAULT_REFRESH_SECONDS, "days")
            result["RefreshToken"] = tokens.refresh(subject, iss, key, kid, now, refresh_seconds)
            self.b.store.add_refresh(subject.origin_jti, pool_id, user["Username"], client["ClientId"],
                                     subject.auth_time, now + refresh_seconds)
        return {"AuthenticationResult": result, "ChallengeParameters": {}}

    def _password_login(self, pool_id: str, client: dict[str, Any], auth_params: dict[str, str]) -> dict[str, Any]:
        username = auth_params.get("USERNAME")
        password = auth_params.get("PASSWORD")
        if not username:
            raise invalid("Missing required parameter USERNAME")
        if password is None:
            raise invalid("Missing required parameter PASSWORD")
        self._check_secret_hash(client, username, auth_params.get("SECRET_HASH"))
        user = self.b.find_user(pool_id, username)
        if user is None:
            if client.get("PreventUserExistenceErrors") == "ENABLED":
                raise not_authorized()
            raise user_not_found()
        if not verify_password(password, user.get("PasswordHash")):
            raise not_authorized()
        if not user["Enabled"]:
            raise not_authorized("User is disabled.")
        status = user["UserStatus"]
        if status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if status == "RESET_REQUIRED":
            raise CognitoError("PasswordResetRequiredException", "Password reset required for the user")
        if status == "FORCE_CHANGE_PASSWORD":
            session = secrets.token_urlsafe(96)
            self.sessions.put(session, {"pool_id": pool_id, "client_id": client["ClientId"],
                                        "username": user["Username"], "expires": self.b.clock() + SESSION_SECONDS})
            attrs = {k: v for k, v in user["Attributes"].items() if k not in ("sub", "email_verified")}
            return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session, "ChallengeParameters": {
                "USER_ID_FOR_SRP": user["Username"], "requiredAttributes": "[]", "userAttributes": json.dumps(attrs)}}
        return self._issue(pool_id, client, user)

    def _refresh(self, pool_id: str, client: dict[str, Any], auth_params: dict[str, str]) -> dict[str, Any]:
        token = auth_params.get("REFRESH_TOKEN")
        if not token:
            raise invalid("Missing required parameter REFRESH_TOKEN")
        key, _ = self.b.keyring.get(pool_id)
        try:
            claims = tokens.verify(token, key, tokens.issuer(self.b.region, pool_id), "refresh")
        except tokens.TokenInvalid:
            raise not_authorized("Invalid Refresh Token") from None
        record = self.b.store.get_refresh(str(claims.get("jti")))
        if record is None or record["expires"] < self.b.clock():
            raise not_authorized("Refresh Token has been revoked")
        if record["client_id"] != client["ClientId"]:
            raise not_authorized("Invalid Refresh Token")
        user = self.b.users.get(pool_id, {}).get(record["username"])
        if user is None:
            raise not_authorized("Refresh Token has been revoked")
        if not user["Enabled"]:
            raise not_authorized("User is disabled.")
        return self._issue(pool_id, client, user, origin_jti=claims["jti"], auth_time=record["auth_time"])

    def _initiate(self, pool_id: str, client: dict[str, Any], flow: str, p: dict[str, Any]) -> dict[str, Any]:
        auth_params = P.string_map(p, "AuthParameters")
        P.string_map(p, "ClientMetadata")
        self._check_flow(client, flow)
        if flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            return self._password_login(pool_id, client, auth_params)
        return self._refresh(pool_id, client, auth_params)

    def _respond(self, pool_id: str | None, p: dict[str, Any]) -> dict[str, Any]:
        client_id = P.req(p, "ClientId")
        client = self.b.client(client_id, pool_id)
        name = P.req(p, "ChallengeName")
        if name != "NEW_PASSWORD_REQUIRED":
            raise invalid(f"Challenge {name} is not supported by fake_cognito")
        responses = P.string_map(p, "ChallengeResponses")
        session_id = P.string(p, "Session", required=False, max_len=4096) or ""
        session = self.sessions.get(session_id)
        if (session is None or session["client_id"] != client_id or session["expires"] < self.b.clock()
                or (pool_id is not None and session["pool_id"] != pool_id)):
            raise not_authorized("Invalid session for the user, session is expired.")
        username = responses.get("USERNAME")
        if not username:
            raise invalid("Missing required parameter USERNAME")
        new_password = responses.get("NEW_PASSWORD")
        if not new_password:
            raise invalid("Missing required parameter NEW_PASSWORD")
        self._check_secret_hash(client, username, responses.get("SECRET_HASH"))
        user = self.b.find_user(session["pool_id"], username)
        if user is None or user["Username"] != session["username"]:
            raise not_authorized("Invalid session for the user.")
        check_policy(new_password, self.b.pools[session["pool_id"]]["Policies"].get("PasswordPolicy"))
        for key, value in responses.items():
            if key.startswith("userAttributes."):
                user["Attributes"][key[len("userAttributes."):]] = value
        self.sessions.pop(session_id)
        self.b.set_password(session["pool_id"], user, new_password, permanent=True)
        return self._issue(session["pool_id"], client, user)

    def _from_access_token(self, p: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        token = P.req(p, "AccessToken", max_len=16384)
        unverified = tokens.unverified_claims(token) or {}
        pool_id = str(unverified.get("iss", "")).rsplit("/", 1)[-1]
        if pool_id not in self.b.pools:
            raise not_authorized("Invalid Access Token")
        key, _ = self.b.keyring.get(pool_id)
        try:
            claims = tokens.verify(token, key, tokens.issuer(self.b.region, pool_id), "access")
        except tokens.TokenInvalid as exc:
            raise not_authorized("Access Token has expired" if exc.expired else "Invalid Access Token") from None
        if self.b.store.get_refresh(str(claims.get("origin_jti"))) is None:
            raise not_authorized("Access Token has been revoked")
        user = self.b.users[pool_id].get(str(claims.get("username")))
        if user is None:
            raise user_not_found()
        return pool_id, user, claims

    # actions -------------------------------------------------------------------
    @action
    def InitiateAuth(self, p: dict[str, Any]) -> dict[str, Any]:
        flow = P.one_of(P.req(p, "AuthFlow"), "AuthFlow", (
            "USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN", "USER_SRP_AUTH", "CUSTOM_AUTH"))
        client = self.b.client(P.req(p, "ClientId"))
        if flow in ("USER_SRP_AUTH", "CUSTOM_AUTH"):
            raise invalid(f"{flow} is not supported by fake_cognito; use USER_PASSWORD_AUTH")
        return self._initiate(client["UserPoolId"], client, flow, p)

    @action
    def AdminInitiateAuth(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.b.pool(pool_id)
        client = self.b.client(P.req(p, "ClientId"), pool_id)
        flow = P.one_of(P.req(p, "AuthFlow"), "AuthFlow", (
            "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN",
            "USER_SRP_AUTH", "CUSTOM_AUTH"))
        if flow in ("USER_SRP_AUTH", "CUSTOM_AUTH"):
            raise invalid(f"{flow} is not supported by fake_cognito; use ADMIN_USER_PASSWORD_AUTH")
        return self._initiate(pool_id, client, flow, p)

    @action
    def RespondToAuthChallenge(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._respond(None, p)

    @action
    def AdminRespondToAuthChallenge(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.b.pool(pool_id)
        return self._respond(pool_id, p)

    @action
    def GetUser(self, p: dict[str, Any]) -> dict[str, Any]:
        _, user, _ = self._from_access_token(p)
        return {"Username": user["Username"], "UserAttributes": [
            {"Name": k, "Value": v} for k, v in user["Attributes"].items()], "MFAOptions": []}

    @action
    def ChangePassword(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, user, _ = self._from_access_token(p)
        if not verify_password(P.req(p, "PreviousPassword", max_len=256), user.get("PasswordHash")):
            raise not_authorized()
        self.b.set_password(pool_id, user, P.req(p, "ProposedPassword", max_len=256), permanent=True)
        return {}

    @action
    def GlobalSignOut(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, user, _ = self._from_access_token(p)
        self.b.store.revoke_user(pool_id, user["Username"])
        return {}

    @action
    def AdminUserGlobalSignOut(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.b.user(pool_id, P.req(p, "Username"))
        self.b.store.revoke_user(pool_id, user["Username"])
        return {}

    @action
    def RevokeToken(self, p: dict[str, Any]) -> dict[str, Any]:
        client = self.b.client(P.req(p, "ClientId"))
        token = P.req(p, "Token", max_len=16384)
        key, _ = self.b.keyring.get(client["UserPoolId"])
        try:
            claims = tokens.verify(token, key, tokens.issuer(self.b.region, client["UserPoolId"]), "refresh")
        except tokens.TokenInvalid:
            raise CognitoError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked") from None
        if claims.get("client_id") != client["ClientId"]:
            raise not_authorized("Invalid client for this token")
        self.b.store.revoke_refresh(str(claims["jti"]))
        return {}
