"""The aiohttp app every example service is built on: JSON errors, /healthz, run on $HOST:$PORT.

``make_app(name, checks)`` returns an ``aiohttp.web.Application`` with

- a guard (outermost): a request from an Origin, or to a Host, the stack does not allow is a 403
  (:mod:`.origins`), one whose headers are not UTF-8 a 400; an allowed origin's preflight is answered,
  and its answers name it (never ``*``);
- a middleware that turns *every* failure into JSON: an :class:`ApiError` as itself,
  aiohttp's own 404/405/413 as JSON, a dependency failure that escaped a handler
  (an :mod:`.http1` failure, a timeout, a botocore error) as 502, and anything else as a logged 500;
- ``GET /healthz``: runs the readiness checks (each with a short timeout) and answers 200
  ``{"status": "ok", ...}`` only when all pass, 503 naming the failing one otherwise.

``run()`` also makes what aiohttp refuses before any middleware runs (a request line over 8,190
bytes, an unknown method, a malformed header: ``text/plain`` by default) JSON, with aiohttp's status.
Bodies are read through :mod:`.bodies` (depth 64, no lone surrogate, an optional size limit).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from botocore.exceptions import BotoCoreError, ClientError

from . import bodies, http1
from .config import ConfigError
from .errors import ApiError, bad_request, invalid
from .origins import Policy

log = logging.getLogger("examples")

Check = Callable[[], Awaitable[Any]]
MAX_BODY = 16 * 1024 * 1024
HEALTH_CHECK_TIMEOUT = 3.0
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               414: "uri_too_long", 431: "headers_too_large"}
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(obj, separators=(",", ":"), default=str), status=status,
                        content_type="application/json")


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), error.status)


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = {404: f"No route for {request.method} {request.path}",
                   405: f"Method {request.method} is not allowed on {request.path}"}.get(e.status, e.reason)
        response = error_response(ApiError(e.status, _HTTP_CODES.get(e.status, "http_error"), message))
        if "Allow" in e.headers:
            response.headers["Allow"] = e.headers["Allow"]
        return response
    except (asyncio.TimeoutError, http1.Broken) as e:
        log.warning("%s %s: upstream failure: %r", request.method, request.path, e)
        return error_response(ApiError(502, "upstream_unavailable", f"A dependency failed: {type(e).__name__}"))
    except ClientError as e:
        err = e.response.get("Error", {}) if isinstance(e.response, dict) else {}
        log.warning("%s %s: AWS error %s", request.method, request.path, err)
        return error_response(ApiError(502, "aws_error",
                                       f"AWS answered {err.get('Code', 'an error')}: {err.get('Message', '')}"))
    except BotoCoreError as e:
        log.warning("%s %s: AWS unreachable: %s", request.method, request.path, e)
        return error_response(ApiError(502, "aws_unavailable", f"AWS (moto) is unreachable: {e}"))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:  # noqa: BLE001 - the contract: JSON 500, never HTML, never a dropped connection
        log.exception("Unexpected error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal", "Internal error (see the service's log)"))


def guard(policy: Policy) -> Any:
    """The Origin/Host guard (:mod:`.origins`), outermost, so even its refusals are JSON."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        host, origin = request.headers.get("Host"), request.headers.get("Origin")
        refusal = policy.refusal(request.path, host, origin)
        if refusal is not None:
            return error_response(ApiError(403, "forbidden", refusal))
        unreadable = bodies.bad_header(request.headers)
        if unreadable is not None:
            return error_response(unreadable)
        cors = policy.cors_headers(origin, host)
        if cors and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            requested = request.headers.get("Access-Control-Request-Headers")
            return web.Response(status=204, headers={**cors, "Access-Control-Allow-Methods": METHODS,
                                                     **({"Access-Control-Allow-Headers": requested} if requested else {})})
        response = await handler(request)
        response.headers.update(cors)
        return response

    return middleware


def make_app(name: str, checks: Mapping[str, Check] | None = None, policy: Policy | None = None) -> web.Application:
    """An app with the guard, the JSON error middleware and ``GET /healthz`` running ``checks``.
    ``policy``: who may call from a browser; by default the one the stack renders into the env."""
    app = web.Application(middlewares=[guard(policy or Policy.from_env()), json_errors], client_max_size=MAX_BODY)
    checks = dict(checks or {})

    async def healthz(request: web.Request) -> web.Response:
        results: dict[str, str] = {}
        healthy = True
        for check_name, check in checks.items():
            try:
                await asyncio.wait_for(check(), HEALTH_CHECK_TIMEOUT)
                results[check_name] = "ok"
            except Exception as e:  # noqa: BLE001 - any failure means "not ready", reported by name
                healthy = False
                results[check_name] = f"failed: {e.message if isinstance(e, ApiError) else type(e).__name__ + ': ' + str(e)}"
        body = {"status": "ok" if healthy else "unavailable", "service": name, "checks": results}
        return json_response(body, 200 if healthy else 503)

    app.router.add_get("/healthz", healthz)
    return app


async def read_json(request: web.Request, *, default: Any = ..., max_bytes: int | None = None,
                    field: str = "body") -> Any:
    """The request's JSON body; 400 when it is missing (and no default), not JSON, nested deeper than 64
    levels or holds a lone surrogate (naming the field); 413 over ``max_bytes`` (naming ``field``)."""
    if max_bytes is not None and (request.content_length or 0) > max_bytes:
        raise bodies.too_large(field, max_bytes)
    raw = await request.read()
    if not raw.strip():
        if default is not ...:
            return default
        raise bad_request("Request body is empty: a JSON body is required")
    return bodies.parse(raw, max_bytes=max_bytes, field=field)


async def read_object(request: web.Request, *, default: Any = ..., max_bytes: int | None = None,
                      field: str = "body") -> dict[str, Any]:
    body = await read_json(request, default=default, max_bytes=max_bytes, field=field)
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def string_field(body: Mapping[str, Any], field: str, *, required: bool = True, max_length: int = 256
                 ) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "a non-empty string is required")
    if len(value) > max_length:
        raise invalid(field, f"at most {max_length} characters")
    return value


def run(make: Callable[[], web.Application], default_port: int) -> int:
    """Build the app (config errors exit 2 naming the variable) and serve it on $HOST:$PORT."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host = os.environ.get("HOST") or "127.0.0.1"
        port = int(os.environ.get("PORT") or default_port)
        app = make()
    except (ConfigError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    answer_server_errors_as_json()
    log.info("listening on http://%s:%d", host, port)
    web.run_app(app, host=host, port=port, access_log=None, print=None, shutdown_timeout=3)
    return 0


def answer_server_errors_as_json() -> None:
    """aiohttp answers what it cannot parse itself, in text/plain, before any middleware runs; every such
    answer goes through ``RequestHandler.handle_error``, wrapped here (once per process) to answer JSON
    in the services' error shape, with the status aiohttp chose."""
    if getattr(RequestHandler.handle_error, "answers_json", False):
        return
    original = RequestHandler.handle_error

    def handle_error(self: RequestHandler, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        plain = original(self, request, status, exc, message)  # logs it; refuses once a response has started
        text = message if status != 500 and message else (plain.text if isinstance(plain, web.Response) else "")
        response = error_response(ApiError(status, _HTTP_CODES.get(status, "http_error"),
                                           (text or "").strip() or f"HTTP {status}"))
        response.force_close()
        return response

    handle_error.answers_json = True  # type: ignore[attr-defined]
    RequestHandler.handle_error = handle_error  # type: ignore[method-assign]
