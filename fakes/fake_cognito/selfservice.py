"""The calls a front end makes before anyone is signed in: SignUp, ConfirmSignUp,
ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword.

Separate from ``auth.py`` because these change records, not sessions, and they share one idea of
their own: the confirmation code.  Nothing is mailed or texted.  A code is logged on the service's
output (``fake_cognito: INFO code 123456 for ...``) and listed by ``GET /local/codes`` (see
``codes``), so a developer or a test reads it where Cognito would have sent it.  Codes live in the
user's record (they survive a restart), are single-use, six digits, and expire like Cognito's
(24 hours for sign-up, 1 hour for a password reset).  Where the pool's client has a secret, every
call checks SecretHash.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from . import params as P
from .backend import Action, Backend, actions_of
from .clientauth import check_secret_hash
from .errors import CognitoError, invalid, not_authorized, user_not_found
from .passwords import check_policy

log = logging.getLogger("fake_cognito")
CODE_SECONDS = {"SignUp": 24 * 3600, "ForgotPassword": 3600}
_ACTIONS: dict[str, str] = {}


def action(fn: Any) -> Any:
    _ACTIONS[fn.__name__] = fn.__name__
    return fn


def mask(attribute: str, value: str) -> str:
    """How Cognito shows a destination: ``a***@e***`` or ``+*******1234``."""
    if attribute == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return "+" + "*" * max(len(value) - 5, 0) + value[-4:]


def _mismatch() -> CognitoError:
    return CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")


class SelfService:
    def __init__(self, backend: Backend) -> None:
        self.b = backend

    def actions(self) -> dict[str, Action]:
        return actions_of(self, _ACTIONS)

    # helpers -------------------------------------------------------------------
    def _request(self, p: dict[str, Any]) -> tuple[dict[str, Any], str, str, dict[str, Any] | None]:
        """The client, pool, given username and user (None when unknown) of a request; SecretHash checked."""
        client = self.b.client(P.req(p, "ClientId"))
        pool_id = client["UserPoolId"]
        username = P.req(p, "Username", max_len=128)
        P.string_map(p, "ClientMetadata")
        user = self.b.find_user(pool_id, username)
        check_secret_hash(client, P.string(p, "SecretHash", required=False, max_len=128),
                          username, *([user["Username"]] if user else []))
        return client, pool_id, username, user

    def _destination(self, user: dict[str, Any], verified_only: bool = False) -> tuple[str, str] | None:
        for attribute in ("email", "phone_number"):
            value = user["Attributes"].get(attribute)
            if value and (not verified_only or user["Attributes"].get(f"{attribute}_verified") == "true"):
                return attribute, value
        return None

    def _deliver(self, pool_id: str, user: dict[str, Any], purpose: str,
                 destination: tuple[str, str] | None) -> dict[str, Any]:
        """Make a code, keep it on the user, show it on the log; the CodeDeliveryDetails to answer."""
        now = self.b.clock()
        code = f"{secrets.randbelow(10**6):06d}"
        user.setdefault("Codes", {})[purpose] = {
            "Code": code, "Created": now, "Expires": now + CODE_SECONDS[purpose],
            "Attribute": destination[0] if destination else None, "Destination": destination[1] if destination else None}
        self.b.save_user(pool_id, user)
        to = f"{destination[0]} {destination[1]}" if destination else "no email or phone_number"
        log.info("code %s for user %s in pool %s (%s; to %s; nothing is sent: GET /local/codes lists it)",
                 code, user["Username"], pool_id, purpose, to)
        if destination is None:
            return {}
        return {"CodeDeliveryDetails": {"Destination": mask(*destination), "AttributeName": destination[0],
                                        "DeliveryMedium": "EMAIL" if destination[0] == "email" else "SMS"}}

    def _take_code(self, pool_id: str, user: dict[str, Any], purpose: str, given: str) -> dict[str, Any]:
        entry = (user.get("Codes") or {}).get(purpose)
        if entry is None or not hmac.compare_digest(entry["Code"].encode(), given.encode()):
            raise _mismatch()
        if entry["Expires"] < self.b.clock():
            raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")
        del user["Codes"][purpose]
        return entry

    def codes(self, pool_id: str | None = None, username: str | None = None) -> list[dict[str, Any]]:
        """Every pending code, newest first (``GET /local/codes``); ``username`` may be an email alias."""
        now = self.b.clock()
        found = []
        for pid, users in self.b.users.items():
            if pool_id and pid != pool_id:
                continue
            for user in users.values():
                names = {user["Username"], user["Attributes"].get("email"), user["Attributes"].get("phone_number")}
                if username and username not in names:
                    continue
                for purpose, entry in (user.get("Codes") or {}).items():
                    found.append({"userPoolId": pid, "username": user["Username"], "purpose": purpose,
                                  "code": entry["Code"], "deliveredTo": entry["Destination"],
                                  "attribute": entry["Attribute"], "createdAt": entry["Created"],
                                  "expiresAt": entry["Expires"], "expired": entry["Expires"] < now})
        return sorted(found, key=lambda c: c["createdAt"], reverse=True)

    # actions -------------------------------------------------------------------
    @action
    def SignUp(self, p: dict[str, Any]) -> dict[str, Any]:
        client, pool_id, username, existing = self._request(p)
        password = P.req(p, "Password", max_len=256)
        attributes = P.attributes(p, "UserAttributes")
        P.attributes(p, "ValidationData")
        pool = self.b.pools[pool_id]
        if (pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly"):
            raise not_authorized("SignUp is not permitted for this user pool")
        if "sub" in attributes:
            raise invalid("Cannot modify an attribute sub.")
        if "email" in (pool.get("UsernameAttributes") or []) and "@" not in username:
            raise invalid("Username should be an email.")
        if existing is not None:
            raise CognitoError("UsernameExistsException", "User already exists")
        check_policy(password, pool["Policies"].get("PasswordPolicy"))
        user = self.b.create_user_record(pool_id, username, attributes, "UNCONFIRMED", password)
        delivery = self._deliver(pool_id, user, "SignUp", self._destination(user))
        return {"UserConfirmed": False, "UserSub": user["sub"], **delivery}

    @action
    def ConfirmSignUp(self, p: dict[str, Any]) -> dict[str, Any]:
        client, pool_id, _, user = self._request(p)
        code = P.req(p, "ConfirmationCode", max_len=2048)
        if user is None:
            raise _mismatch() if client.get("PreventUserExistenceErrors") == "ENABLED" else user_not_found()
        if user["UserStatus"] != "UNCONFIRMED":
            raise not_authorized(f"User cannot be confirmed. Current status is {user['UserStatus']}")
        entry = self._take_code(pool_id, user, "SignUp", code)
        user["UserStatus"] = "CONFIRMED"
        if entry["Attribute"]:
            user["Attributes"][f"{entry['Attribute']}_verified"] = "true"
        self.b.save_user(pool_id, user)
        return {}

    @action
    def ResendConfirmationCode(self, p: dict[str, Any]) -> dict[str, Any]:
        client, pool_id, _, user = self._request(p)
        if user is None:
            raise user_not_found()
        if user["UserStatus"] != "UNCONFIRMED":
            raise invalid("User is already confirmed.")
        return self._deliver(pool_id, user, "SignUp", self._destination(user))

    @action
    def ForgotPassword(self, p: dict[str, Any]) -> dict[str, Any]:
        client, pool_id, username, user = self._request(p)
        if user is None:
            if client.get("PreventUserExistenceErrors") == "ENABLED":
                return {"CodeDeliveryDetails": {"Destination": mask("email", username), "AttributeName": "email",
                                                "DeliveryMedium": "EMAIL"}}
            raise user_not_found()
        if not user["Enabled"]:
            raise not_authorized("User is disabled.")
        destination = self._destination(user, verified_only=True)
        if destination is None:
            raise invalid("Cannot reset password for the user as there is no registered/verified email or phone_number")
        return self._deliver(pool_id, user, "ForgotPassword", destination)

    @action
    def ConfirmForgotPassword(self, p: dict[str, Any]) -> dict[str, Any]:
        client, pool_id, _, user = self._request(p)
        code = P.req(p, "ConfirmationCode", max_len=2048)
        password = P.req(p, "Password", max_len=256)
        if user is None:
            raise _mismatch() if client.get("PreventUserExistenceErrors") == "ENABLED" else user_not_found()
        check_policy(password, self.b.pools[pool_id]["Policies"].get("PasswordPolicy"))
        self._take_code(pool_id, user, "ForgotPassword", code)
        self.b.set_password(pool_id, user, password, permanent=True)
        return {}
