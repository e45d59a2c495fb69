"""Password hashing and the pool's password policy.

Passwords here are throwaway test credentials, but the state file should still
never hold them in clear: a salted PBKDF2-SHA256 with a deliberately low
iteration count keeps a login well under a millisecond (the benchmark measures
logins/s).  The policy check mirrors Cognito's PasswordPolicy fields and its
InvalidPasswordException messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import string
from typing import Any

from . import srp
from .errors import CognitoError

ITERATIONS = 1000
DEFAULT_POLICY: dict[str, Any] = {
    "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
    "RequireNumbers": True, "RequireSymbols": True, "TemporaryPasswordValidityDays": 7,
}
_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2_sha256${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    try:
        _, iterations, salt, digest = encoded.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def credentials(pool_id: str, username: str, password: str) -> dict[str, str]:
    """The stored form of a password: the hash and the SRP salt and verifier (hex)."""
    salt = srp.new_salt()
    return {"PasswordHash": hash_password(password), "SrpSalt": format(salt, "x"),
            "SrpVerifier": format(srp.verifier(pool_id, username, password, salt), "x")}


def needs_verifier(user: dict[str, Any]) -> bool:
    """A user stored before SRP verifiers were kept (a hash, no verifier)."""
    return bool(user.get("PasswordHash")) and not user.get("SrpVerifier")


def check_policy(password: str, policy: dict[str, Any] | None) -> None:
    policy = {**DEFAULT_POLICY, **(policy or {})}
    problems = []
    if len(password) < int(policy["MinimumLength"]):
        problems.append("Password not long enough")
    if policy["RequireUppercase"] and not any(c in string.ascii_uppercase for c in password):
        problems.append("Password must have uppercase characters")
    if policy["RequireLowercase"] and not any(c in string.ascii_lowercase for c in password):
        problems.append("Password must have lowercase characters")
    if policy["RequireNumbers"] and not any(c in string.digits for c in password):
        problems.append("Password must have numeric characters")
    if policy["RequireSymbols"] and not any(c in _SYMBOLS for c in password):
        problems.append("Password must have symbol characters")
    if problems:
        raise CognitoError("InvalidPasswordException", "Password did not conform with policy: " + problems[0])
