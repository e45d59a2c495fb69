"""Cognito-shaped JWTs: claims, RS256 signing and verification.

Claims follow real Cognito (iss, token_use, aud on id tokens, client_id and
scope on access tokens, sub, cognito:username, cognito:groups, origin_jti,
event_id, auth_time, iat, exp, jti) so a service that verifies real Cognito
tokens through a JWKS URL verifies these the same way.  Real refresh tokens are
opaque encrypted blobs (compact JWE, five parts); so are ours: the claims
(``token_use: refresh``, ``jti`` keying the sign-in session's record in the
store, which is what revocation deletes) sealed with AES-256-GCM under a key of
the pool (``KeyRing.sealing_key``), so nothing outside fake_cognito can read or
verify them, as with Cognito's, and sealing costs microseconds where an RS256
signature costs a quarter of a millisecond on every sign-in.  Refresh tokens
issued as RS256 JWTs before this still verify.  All functions are pure apart
from the clock argument.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ACCESS_SCOPE = "aws.cognito.signin.user.admin"
DEFAULT_ACCESS_SECONDS = 3600
DEFAULT_ID_SECONDS = 3600
DEFAULT_REFRESH_SECONDS = 30 * 86400
_NOT_ID_CLAIMS = {"sub"}  # sub is added first, explicitly


def issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


@dataclass(frozen=True)
class Subject:
    """What a token says about its user and session."""

    pool_id: str
    client_id: str
    username: str
    sub: str
    attributes: dict[str, str]
    groups: list[str]
    origin_jti: str
    auth_time: int


def _sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _id_attributes(attributes: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in _NOT_ID_CLAIMS:
            continue
        if name in ("email_verified", "phone_number_verified"):
            out[name] = value.lower() == "true"
        else:
            out[name] = value
    return out


def id_and_access(s: Subject, iss: str, key: rsa.RSAPrivateKey, kid: str, now: int,
                  id_seconds: int = DEFAULT_ID_SECONDS, access_seconds: int = DEFAULT_ACCESS_SECONDS) -> tuple[str, str]:
    event_id = str(uuid.uuid4())
    groups = {"cognito:groups": list(s.groups)} if s.groups else {}
    id_claims = {
        "sub": s.sub, **groups, **_id_attributes(s.attributes), "iss": iss,
        "cognito:username": s.username, "origin_jti": s.origin_jti, "aud": s.client_id,
        "event_id": event_id, "token_use": "id", "auth_time": s.auth_time,
        "exp": now + id_seconds, "iat": now, "jti": str(uuid.uuid4()),
    }
    access_claims = {
        "sub": s.sub, **groups, "iss": iss, "client_id": s.client_id, "origin_jti": s.origin_jti,
        "event_id": event_id, "token_use": "access", "scope": ACCESS_SCOPE, "auth_time": s.auth_time,
        "exp": now + access_seconds, "iat": now, "jti": str(uuid.uuid4()), "username": s.username,
    }
    return _sign(id_claims, key, kid), _sign(access_claims, key, kid)


_JWE_HEADER = base64.urlsafe_b64encode(json.dumps(
    {"cty": "JWT", "enc": "A256GCM", "alg": "dir"}, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refresh(s: Subject, iss: str, sealing_key: bytes, now: int, refresh_seconds: int = DEFAULT_REFRESH_SECONDS) -> str:
    """An opaque refresh token: compact JWE (alg dir, A256GCM) over the claims."""
    claims = {
        "sub": s.sub, "iss": iss, "client_id": s.client_id, "cognito:username": s.username,
        "token_use": "refresh", "origin_jti": s.origin_jti, "jti": s.origin_jti,
        "auth_time": s.auth_time, "iat": now, "exp": now + refresh_seconds,
    }
    nonce = os.urandom(12)
    sealed = AESGCM(sealing_key).encrypt(nonce, json.dumps(claims, separators=(",", ":")).encode(),
                                         _JWE_HEADER.encode())
    return ".".join((_JWE_HEADER, "", _b64(nonce), _b64(sealed[:-16]), _b64(sealed[-16:])))


def verify_refresh(token: str, sealing_key: bytes, key: rsa.RSAPrivateKey, iss: str, now: float) -> dict[str, Any]:
    """The claims of a refresh token of this pool, or TokenInvalid (RS256 ones from before still verify)."""
    parts = token.split(".")
    if len(parts) == 3:
        return verify(token, key, iss, "refresh")
    if len(parts) != 5 or parts[0] != _JWE_HEADER or parts[1]:
        raise TokenInvalid(expired=False)
    try:
        plain = AESGCM(sealing_key).decrypt(_unb64(parts[2]), _unb64(parts[3]) + _unb64(parts[4]),
                                            _JWE_HEADER.encode())
        claims = json.loads(plain)
    except (InvalidTag, ValueError):
        raise TokenInvalid(expired=False) from None
    if not isinstance(claims, dict) or claims.get("iss") != iss or claims.get("token_use") != "refresh":
        raise TokenInvalid(expired=False)
    if not isinstance(claims.get("exp"), int) or claims["exp"] < now:
        raise TokenInvalid(expired=True)
    return claims


def client_access(client_id: str, scopes: list[str], iss: str, key: rsa.RSAPrivateKey, kid: str, now: int,
                  access_seconds: int = DEFAULT_ACCESS_SECONDS) -> str:
    """A client_credentials access token: the app client is the subject, its scopes are resource servers'."""
    claims = {
        "sub": client_id, "token_use": "access", "scope": " ".join(scopes), "auth_time": now, "iss": iss,
        "exp": now + access_seconds, "iat": now, "version": 2, "jti": str(uuid.uuid4()), "client_id": client_id,
    }
    return _sign(claims, key, kid)


def unverified_claims(token: str) -> dict[str, Any] | None:
    """Claims without verification (to find the pool); None when not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


class TokenInvalid(Exception):
    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def verify(token: str, key: rsa.RSAPrivateKey, iss: str, token_use: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], issuer=iss,
                            options={"verify_aud": False, "require": ["exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError:
        raise TokenInvalid(expired=True) from None
    except jwt.PyJWTError:
        raise TokenInvalid(expired=False) from None
    if claims.get("token_use") != token_use:
        raise TokenInvalid(expired=False)
    return claims
