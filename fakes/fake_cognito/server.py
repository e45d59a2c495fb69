"""HTTP routing (aiohttp): the AWS JSON protocol endpoint plus discovery documents.

Every response is JSON, errors included: Cognito errors as ``{"__type",
"message"}`` with 400, unknown routes 404, wrong methods 405, oversized or
malformed bodies 400/413 (nested deeper than 64 levels, or a lone surrogate in a
field: 400 naming it), and any unexpected exception a JSON 500 (logged) — never
an HTML page, not even for what aiohttp itself refuses (``fakes.common.web``).
Only the stack's origins may call it from a browser (the console signs in from
its page): another ``Origin``, or a ``Host`` that is not the stack's, is a 403.
The backend is synchronous and runs on the loop thread; only deriving a new
pool's RSA key is moved off it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from typing import Any, Awaitable, Callable

from aiohttp import web

from fakes.common.web import guard, json_errors
from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.errors import InvalidBody
from hippodrome_k8s.core.origins import Policy

from . import openapi
from .auth import Auth
from .backend import Backend
from .errors import CognitoError
from .keys import public_jwk
from .oauth import FORM, OAuth, OAuthError
from .selfservice import SelfService
from .tokens import issuer

log = logging.getLogger("fake_cognito")
MAX_BODY_BYTES = 1024 * 1024
BACKEND = web.AppKey("backend", Backend)
AUTH = web.AppKey("auth", Auth)
SELF_SERVICE = web.AppKey("self_service", SelfService)
OAUTH = web.AppKey("oauth", OAuth)
ACTIONS = web.AppKey("actions", dict)
READY = web.AppKey("ready", dict)
_KINDS = {403: "AccessDeniedException", 404: "ResourceNotFoundException", 405: "MethodNotAllowedException",
          413: "RequestEntityTooLargeException"}


def _json(body: Any, status: int = 200, content_type: str = "application/json", **headers: str) -> web.Response:
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status,
                        content_type=content_type, headers=headers)


def _error(type_: str, message: str, status: int, **headers: str) -> web.Response:
    return _json({"__type": type_, "message": message}, status, openapi.AMZ_JSON,
                 **{"x-amzn-ErrorType": type_, **headers})


def error_body(status: int, message: str, field: str | None = None) -> tuple[dict[str, Any], str]:
    """Cognito's error shape for what the shared edge refuses (fakes.common.web)."""
    kind = _KINDS.get(status, "InternalErrorException" if status >= 500 else "InvalidRequestException")
    return {"__type": kind, "message": message}, openapi.AMZ_JSON


async def aws_action(request: web.Request) -> web.Response:
    target = request.headers.get("X-Amz-Target", "")
    if not target:
        return _error("UnknownOperationException", "Missing X-Amz-Target header", 400)
    prefix, _, name = target.partition(".")
    handler = request.app[ACTIONS].get(name) if prefix + "." == openapi.TARGET_PREFIX else None
    if handler is None:
        return _error("UnknownOperationException", f"Unknown operation {target!r}", 400)
    raw = await request.read()
    try:
        body = jsonbody.parse(raw) if raw.strip() else {}
    except InvalidBody as exc:
        if exc.kind != "lone_surrogate":
            return _error("SerializationException", exc.message, 400)
        return _error("InvalidParameterException", f"1 validation error detected: {exc.message}", 400)
    if not isinstance(body, dict):
        return _error("SerializationException", f"body: expected a JSON object, got {type(body).__name__}", 400)
    try:
        result = handler(body)
        if name == "CreateUserPool":
            await _ensure_key(request.app, result["UserPool"]["Id"])
    except CognitoError as exc:
        return _error(exc.type, exc.message, exc.status)
    return _json(result, content_type=openapi.AMZ_JSON)


async def _ensure_key(app: web.Application, pool_id: str) -> None:
    keyring = app[BACKEND].keyring
    if not keyring.has(pool_id):
        key = await asyncio.get_running_loop().run_in_executor(None, keyring.derive, pool_id)
        keyring.install(pool_id, key)


async def describe(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    return _json({
        "service": "fake_cognito", "protocol": "AWS JSON 1.1 (X-Amz-Target: AWSCognitoIdentityProviderService.<Action>)",
        "region": backend.region, "userPools": len(backend.pools),
        "actions": sorted(request.app[ACTIONS]),
        "caches": {"sessions": request.app[AUTH].sessions.stats()},
        "endpoints": ["/healthz", "/openapi.json", "/{poolId}/.well-known/jwks.json",
                      "/{poolId}/.well-known/openid-configuration", "/local/codes",
                      "POST /oauth2/token", "POST /{poolId}/oauth2/token"],
    })


async def healthz(request: web.Request) -> web.Response:
    state = request.app[READY]
    if not state.get("ready"):
        return _error("ServiceUnavailableException", "declared config not loaded yet", 503)
    return _json({"status": "ok", "service": "fake_cognito", "userPools": len(request.app[BACKEND].pools)})


async def oauth2_token(request: web.Request) -> web.Response:
    """The hosted domain's token endpoint (oauth.py); OAuth2-shaped JSON answers, errors included."""
    pool_id = request.match_info.get("pool_id")
    no_cache = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if pool_id is not None and pool_id not in request.app[BACKEND].pools:
        return _json({"error": "invalid_request", "error_description": f"User pool {pool_id} does not exist."}, 400,
                     **no_cache)
    form: dict[str, str] = {}
    if request.content_type == FORM:
        try:
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        except ValueError:
            return _json({"error": "invalid_request", "error_description": "malformed form body"}, 400, **no_cache)
    try:
        answer = request.app[OAUTH].token(pool_id, request.content_type, request.headers.get("Authorization"), form)
    except OAuthError as exc:
        return _json(exc.body(), 400, **no_cache)
    return _json(answer, **no_cache)


async def local_codes(request: web.Request) -> web.Response:
    """The confirmation codes fake_cognito would have mailed (it mails nothing), newest first."""
    query = request.query
    codes = request.app[SELF_SERVICE].codes(query.get("userPoolId") or None, query.get("username") or None)
    return _json({"codes": codes})


async def openapi_json(request: web.Request) -> web.Response:
    return _json(openapi.document(list(request.app[ACTIONS])))


def _pool_or_404(request: web.Request) -> str:
    pool_id = request.match_info["pool_id"]
    if pool_id not in request.app[BACKEND].pools:
        raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.", 404)
    return pool_id


async def jwks(request: web.Request) -> web.Response:
    try:
        pool_id = _pool_or_404(request)
    except CognitoError as exc:
        return _error(exc.type, exc.message, exc.status)
    await _ensure_key(request.app, pool_id)
    key, kid = request.app[BACKEND].keyring.get(pool_id)
    return _json({"keys": [public_jwk(key, kid)]})


async def openid_configuration(request: web.Request) -> web.Response:
    try:
        pool_id = _pool_or_404(request)
    except CognitoError as exc:
        return _error(exc.type, exc.message, exc.status)
    base = f"{request.scheme}://{request.host}"
    return _json({
        "issuer": issuer(request.app[BACKEND].region, pool_id),
        "jwks_uri": f"{base}/{pool_id}/.well-known/jwks.json",
        "authorization_endpoint": f"{base}/{pool_id}/oauth2/authorize",
        "token_endpoint": f"{base}/{pool_id}/oauth2/token",
        "userinfo_endpoint": f"{base}/{pool_id}/oauth2/userInfo",
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })


def make_app(backend: Backend, auth: Auth, ready: dict[str, bool] | None = None,
             policy: Policy | None = None) -> web.Application:
    """``policy``: who may call from a browser (the stack's origins, from the env); loopback only by default."""
    edge = guard(policy or Policy.of(), error_body, methods="GET, POST, OPTIONS")
    app = web.Application(middlewares=[edge, json_errors(error_body, log=log)], client_max_size=MAX_BODY_BYTES)
    app[BACKEND] = backend
    app[AUTH] = auth
    app[SELF_SERVICE] = SelfService(backend)
    app[OAUTH] = OAuth(backend, auth)
    app[ACTIONS] = {**backend.actions(), **auth.actions(), **app[SELF_SERVICE].actions(), **app[OAUTH].actions()}
    app[READY] = ready if ready is not None else {"ready": True}
    app.router.add_get("/", describe)
    app.router.add_post("/", aws_action)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/local/codes", local_codes)
    app.router.add_post("/oauth2/token", oauth2_token)
    app.router.add_post("/{pool_id}/oauth2/token", oauth2_token)
    app.router.add_get("/{pool_id}/.well-known/jwks.json", jwks)
    app.router.add_get("/{pool_id}/.well-known/openid-configuration", openid_configuration)
    return app
