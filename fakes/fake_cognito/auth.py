"""Sign-in flows: InitiateAuth, challenges, GetUser, sign-out.

Separate from ``backend.py`` because this half is about sessions and tokens,
not records: password flows (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH,
ADMIN_NO_SRP_AUTH), USER_SRP_AUTH with its PASSWORD_VERIFIER challenge (the
maths is in ``srp.py``), REFRESH_TOKEN(_AUTH), the NEW_PASSWORD_REQUIRED
challenge, and the token-authenticated user calls.  Challenge sessions (an SRP
exchange is keyed by its SECRET_BLOCK, a new-password challenge by its Session)
live only in a bounded LRU (``SESSION_CACHE_MAX``; a restart forgets them, as
their 3-minute lifetime makes harmless) and are single-use; refresh-token
records live in the store, so revocation and refresh survive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from typing import Any

from . import params as P
from . import srp, tokens
from .backend import Action, Backend, actions_of
from .cache import BoundedCache
from .clientauth import check_secret_hash, secret_matches
from .errors import CognitoError, invalid, not_authorized, user_not_found
from .passwords import check_policy, needs_verifier, verify_password

SESSION_CACHE_MAX = 10_000  # pending challenge sessions kept in memory (LRU)
SESSION_SECONDS = 180
SECRET_BLOCK_BYTES = 64
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_ACTIONS: dict[str, str] = {}
_EXPIRED = "Invalid session for the user, session is expired."


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
    def validity(self, client: dict[str, Any], field: str, unit_key: str, default_seconds: int, default_unit: str) -> int:
        value = client.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return default_seconds
        unit = (client.get("TokenValidityUnits") or {}).get(unit_key, default_unit)
        return value * _UNITS.get(unit, _UNITS[default_unit])

    def check_flow(self, client: dict[str, Any], flow: str) -> None:
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
        access_seconds = self.validity(client, "AccessTokenValidity", "AccessToken", tokens.DEFAULT_ACCESS_SECONDS, "hours")
        id_seconds = self.validity(client, "IdTokenValidity", "IdToken", tokens.DEFAULT_ID_SECONDS, "hours")
        id_token, access_token = tokens.id_and_access(subject, iss, key, kid, now, id_seconds, access_seconds)
        result = {"AccessToken": access_token, "ExpiresIn": access_seconds, "TokenType": "Bearer", "IdToken": id_token}
        if new_session:
            refresh_seconds = self.validity(client, "RefreshTokenValidity", "RefreshToken", tokens.DEFAULT_REFRESH_SECONDS, "days")
            result["RefreshToken"] = tokens.refresh(subject, iss, self.b.keyring.sealing_key(pool_id), now,
                                                    refresh_seconds)
            self.b.store.add_refresh(subject.origin_jti, pool_id, user["Username"], client["ClientId"],
                                     subject.auth_time, now + refresh_seconds)
        return {"AuthenticationResult": result, "ChallengeParameters": {}}

    def _refresh_claims(self, pool_id: str, token: str) -> dict[str, Any]:
        key, _ = self.b.keyring.get(pool_id)
        return tokens.verify_refresh(token, self.b.keyring.sealing_key(pool_id), key,
                                     tokens.issuer(self.b.region, pool_id), self.b.clock())

    def _unknown_user(self, client: dict[str, Any]) -> CognitoError:
        if client.get("PreventUserExistenceErrors") == "ENABLED":
            return not_authorized()
        return user_not_found()

    def _signed_in(self, pool_id: str, client: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """After the password was proven (by either flow): the user's state decides tokens or a challenge."""
        if not user["Enabled"]:
            raise not_authorized("User is disabled.")
        status = user["UserStatus"]
        if status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if status == "RESET_REQUIRED":
            raise CognitoError("PasswordResetRequiredException", "Password reset required for the user")
        if status == "FORCE_CHANGE_PASSWORD":
            session = secrets.token_urlsafe(96)
            self.sessions.put(session, {"kind": "new_password", "pool_id": pool_id, "client_id": client["ClientId"],
                                        "username": user["Username"], "expires": self.b.clock() + SESSION_SECONDS})
            attrs = {k: v for k, v in user["Attributes"].items() if k not in ("sub", "email_verified")}
            return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session, "ChallengeParameters": {
                "USER_ID_FOR_SRP": user["Username"], "requiredAttributes": "[]", "userAttributes": json.dumps(attrs)}}
        return self._issue(pool_id, client, user)

    def _session(self, key: str, kind: str, client_id: str, pool_id: str | None, take: bool = True) -> dict[str, Any]:
        """A pending challenge session (``take``: removed, as each is single-use), or refuse a stale one."""
        session = (self.sessions.pop(key) if take else self.sessions.get(key)) if key else None
        if (session is None or session["kind"] != kind or session["client_id"] != client_id
                or session["expires"] < self.b.clock() or (pool_id is not None and session["pool_id"] != pool_id)):
            raise not_authorized(_EXPIRED)
        return session

    # USER_PASSWORD_AUTH / ADMIN_USER_PASSWORD_AUTH ----------------------------------
    def _password_login(self, pool_id: str, client: dict[str, Any], auth_params: dict[str, str]) -> dict[str, Any]:
        username = auth_params.get("USERNAME")
        password = auth_params.get("PASSWORD")
        if not username:
            raise invalid("Missing required parameter USERNAME")
        if password is None:
            raise invalid("Missing required parameter PASSWORD")
        user = self.b.find_user(pool_id, username)
        check_secret_hash(client, auth_params.get("SECRET_HASH"), username, *([user["Username"]] if user else []))
        if user is None:
            raise self._unknown_user(client)
        if not verify_password(password, user.get("PasswordHash")):
            raise not_authorized()
        if needs_verifier(user):  # stored before SRP verifiers were kept: add one now the password is at hand
            self.b.add_verifier(pool_id, user, password)
        return self._signed_in(pool_id, client, user)

    # USER_SRP_AUTH -----------------------------------------------------------------
    def _srp_start(self, pool_id: str, client: dict[str, Any], auth_params: dict[str, str]) -> dict[str, Any]:
        username = auth_params.get("USERNAME")
        if not username:
            raise invalid("Missing required parameter USERNAME")
        if not auth_params.get("SRP_A"):
            raise invalid("Missing required parameter SRP_A")
        a_public = srp.parse_hex(auth_params["SRP_A"])
        if a_public is None or a_public % srp.N == 0:
            raise invalid("Invalid SRP_A: expected a hex number that is not 0 modulo N")
        user = self.b.find_user(pool_id, username)
        check_secret_hash(client, auth_params.get("SECRET_HASH"), username, *([user["Username"]] if user else []))
        if user is None:
            if client.get("PreventUserExistenceErrors") != "ENABLED":
                raise user_not_found()
            # the same made-up salt every time, or asking twice would tell a real user from a missing one
            digest = hashlib.sha256(f"{self.b.seed}\x1f{pool_id}\x1f{username}".encode()).digest()
            salt = int.from_bytes(digest[:srp.SALT_BYTES], "big") | 1 << (8 * srp.SALT_BYTES - 1)  # no leading 0
            v, srp_user = int.from_bytes(os.urandom(384), "big") % srp.N, username
        elif not user.get("SrpVerifier"):
            raise not_authorized("This user has no SRP verifier yet: it was stored before fake_cognito kept them. "
                                 "Sign in once with USER_PASSWORD_AUTH (or set its password) and SRP works.")
        else:
            salt, v, srp_user = int(user["SrpSalt"], 16), int(user["SrpVerifier"], 16), user["Username"]
        b = int.from_bytes(os.urandom(srp.EPHEMERAL_BYTES), "big")
        b_public = srp.server_public(v, b)
        secret_block = base64.b64encode(os.urandom(SECRET_BLOCK_BYTES)).decode()
        self.sessions.put(secret_block, {
            "kind": "srp", "pool_id": pool_id, "client_id": client["ClientId"], "username": srp_user,
            "known": user is not None, "A": a_public, "B": b_public, "b": b, "v": v,
            "expires": self.b.clock() + SESSION_SECONDS})
        return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": {
            "SALT": format(salt, "x"), "SECRET_BLOCK": secret_block, "SRP_B": format(b_public, "x"),
            "USERNAME": srp_user, "USER_ID_FOR_SRP": srp_user}}

    def _password_verifier(self, pool_id: str | None, client: dict[str, Any], responses: dict[str, str]) -> dict[str, Any]:
        for name in ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
            if not responses.get(name):
                raise invalid(f"Missing required parameter {name}")
        session = self._session(responses["PASSWORD_CLAIM_SECRET_BLOCK"], "srp", client["ClientId"], pool_id)
        pool_id = session["pool_id"]
        user = self.b.find_user(pool_id, responses["USERNAME"]) if session["known"] else None
        check_secret_hash(client, responses.get("SECRET_HASH"), responses["USERNAME"], session["username"])
        if session["known"] and (user is None or user["Username"] != session["username"]):
            raise not_authorized()
        key = srp.server_key(session["A"], session["B"], session["b"], session["v"])
        # a TIMESTAMP not in Cognito's format cannot be the one the client signed as Cognito reads it
        expected = (srp.claim_signature(key, pool_id, session["username"], responses["PASSWORD_CLAIM_SECRET_BLOCK"],
                                        responses["TIMESTAMP"])
                    if key is not None and srp.parse_timestamp(responses["TIMESTAMP"]) is not None else "")
        if not user or not hmac.compare_digest(expected.encode(), responses["PASSWORD_CLAIM_SIGNATURE"].encode()):
            raise not_authorized()
        return self._signed_in(pool_id, client, user)

    # REFRESH_TOKEN_AUTH ------------------------------------------------------------
    def _refresh(self, pool_id: str, client: dict[str, Any], auth_params: dict[str, str],
                 client_authenticated: bool = False) -> dict[str, Any]:
        token = auth_params.get("REFRESH_TOKEN")
        if not token:
            raise invalid("Missing required parameter REFRESH_TOKEN")
        try:
            claims = self._refresh_claims(pool_id, token)
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
        if not client_authenticated:  # SECRET_HASH over the stored username (or a name of the same user)
            named = self.b.find_user(pool_id, auth_params.get("USERNAME") or "")
            check_secret_hash(client, auth_params.get("SECRET_HASH"), user["Username"],
                              *([auth_params["USERNAME"]] if named is user else []))
        if not user["Enabled"]:
            raise not_authorized("User is disabled.")
        return self._issue(pool_id, client, user, origin_jti=claims["jti"], auth_time=record["auth_time"])

    def refresh_grant(self, client: dict[str, Any], token: str) -> dict[str, Any]:
        """The token endpoint's refresh_token grant (the client already authenticated there)."""
        return self._refresh(client["UserPoolId"], client, {"REFRESH_TOKEN": token}, client_authenticated=True)

    # NEW_PASSWORD_REQUIRED -----------------------------------------------------------
    def _new_password(self, pool_id: str | None, client: dict[str, Any], session_id: str,
                      responses: dict[str, str]) -> dict[str, Any]:
        session = self._session(session_id, "new_password", client["ClientId"], pool_id, take=False)
        username = responses.get("USERNAME")
        if not username:
            raise invalid("Missing required parameter USERNAME")
        new_password = responses.get("NEW_PASSWORD")
        if not new_password:
            raise invalid("Missing required parameter NEW_PASSWORD")
        check_secret_hash(client, responses.get("SECRET_HASH"), username, session["username"])
        user = self.b.find_user(session["pool_id"], username)
        if user is None or user["Username"] != session["username"]:
            raise not_authorized("Invalid session for the user.")
        check_policy(new_password, self.b.pools[session["pool_id"]]["Policies"].get("PasswordPolicy"))
        self.sessions.pop(session_id)
        for key, value in responses.items():
            if key.startswith("userAttributes."):
                user["Attributes"][key[len("userAttributes."):]] = value
        self.b.set_password(session["pool_id"], user, new_password, permanent=True)
        return self._issue(session["pool_id"], client, user)

    # dispatch ------------------------------------------------------------------------
    def _initiate(self, pool_id: str, client: dict[str, Any], flow: str, p: dict[str, Any]) -> dict[str, Any]:
        auth_params = P.string_map(p, "AuthParameters")
        P.string_map(p, "ClientMetadata")
        self.check_flow(client, flow)
        if flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            return self._password_login(pool_id, client, auth_params)
        if flow == "USER_SRP_AUTH":
            return self._srp_start(pool_id, client, auth_params)
        return self._refresh(pool_id, client, auth_params)

    def _respond(self, pool_id: str | None, p: dict[str, Any]) -> dict[str, Any]:
        client = self.b.client(P.req(p, "ClientId"), pool_id)
        name = P.req(p, "ChallengeName")
        responses = P.string_map(p, "ChallengeResponses")
        P.string_map(p, "ClientMetadata")
        session_id = P.string(p, "Session", required=False, max_len=4096) or ""
        if name == "PASSWORD_VERIFIER":
            return self._password_verifier(pool_id, client, responses)
        if name == "NEW_PASSWORD_REQUIRED":
            return self._new_password(pool_id, client, session_id, responses)
        raise invalid(f"Challenge {name} is not supported by fake_cognito")

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
        if tokens.ACCESS_SCOPE not in str(claims.get("scope", "")).split():  # e.g. a client_credentials token
            raise not_authorized("Access Token does not have required scopes")
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
        if flow == "CUSTOM_AUTH":
            raise invalid(f"{flow} is not supported by fake_cognito (it needs Lambda triggers)")
        return self._initiate(client["UserPoolId"], client, flow, p)

    @action
    def AdminInitiateAuth(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.b.pool(pool_id)
        client = self.b.client(P.req(p, "ClientId"), pool_id)
        flow = P.one_of(P.req(p, "AuthFlow"), "AuthFlow", (
            "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN",
            "USER_SRP_AUTH", "CUSTOM_AUTH"))
        if flow == "CUSTOM_AUTH":
            raise invalid(f"{flow} is not supported by fake_cognito (it needs Lambda triggers)")
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
        if not secret_matches(client, P.string(p, "ClientSecret", required=False, max_len=256)):
            raise CognitoError("UnauthorizedException", f"Client authentication failed for client {client['ClientId']}")
        try:
            claims = self._refresh_claims(client["UserPoolId"], token)
        except tokens.TokenInvalid:
            raise CognitoError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked") from None
        if claims.get("client_id") != client["ClientId"]:
            raise CognitoError("UnauthorizedException", "The token was not issued to this client")
        self.b.store.revoke_refresh(str(claims["jti"]))
        return {}
