"""Verify a Cognito JWT with PyJWT against the pool's JWKS (fetched with a timeout, cached)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web

from examples.common.errors import bad_gateway, unauthorized


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    claims: dict[str, Any]


class Verifier:
    def __init__(self, jwks_url: str, issuer: str, client_id: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, max_cached_keys=16, lifespan=300, timeout=5)

    def _verify(self, token: str) -> dict[str, Any]:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.issuer,
                            options={"verify_aud": False, "require": ["exp", "iss", "token_use"]})
        # id tokens carry the app client in `aud`, access tokens in `client_id`.
        client = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
        if client != self.client_id:
            raise jwt.InvalidAudienceError("token was issued to another app client")
        return claims

    async def user(self, request: web.Request) -> User:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Send a Cognito token: Authorization: Bearer <token>")
        try:
            claims = await asyncio.get_running_loop().run_in_executor(None, self._verify, token.strip())
        except jwt.PyJWKClientConnectionError as e:
            raise bad_gateway("jwks_unavailable", f"Cannot fetch the Cognito JWKS: {e}") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as e:
            raise unauthorized(f"Invalid token: {e}") from None
        name = claims.get("email") or claims.get("username") or claims.get("cognito:username")
        if not isinstance(name, str) or not name:
            raise unauthorized("The token names no user")
        groups = claims.get("cognito:groups") or []
        return User(name, tuple(g for g in groups if isinstance(g, str)), claims)
