"""What is stored for a password, and the pool's password policy.

Passwords here are throwaway test credentials, but the state file never holds
them in clear.  A password is stored twice over, one-way both times:

* ``PasswordHash``: a salted PBKDF2-SHA256 with a deliberately low iteration
  count, checked by the flows that send the password (USER_PASSWORD_AUTH,
  ADMIN_USER_PASSWORD_AUTH, ChangePassword): far under a millisecond, where
  recomputing an SRP verifier costs several (the benchmark measures logins/s);
* ``SrpSalt`` + ``SrpVerifier``: the SRP verifier v = g^x mod N (``srp.py``),
  all USER_SRP_AUTH needs.  It depends on the pool id and the stored username,
  so it is computed once the user's final username is known.

Users stored before verifiers were kept hold only the hash (migration keeps both
paths): they go on signing in with the password flows, and the next time their
password is at hand (a password sign-in, a password change or reset, the seed
setting a declared user's password at start) ``credentials`` adds the verifier;
until then USER_SRP_AUTH refuses them with a NotAuthorizedException that says so.
The policy check mirrors Cognito's PasswordPolicy fields and its
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

# Throwaway test credentials in a local state file: 100 rounds keep the password flows cheap (the
# benchmark measures logins/s against cognito-local). Each stored hash records its own count, so
# hashes stored with the former 1000 still verify.
ITERATIONS = 100
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
