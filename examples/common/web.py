"""The aiohttp app every example service is built on: JSON errors, /healthz, run on $HOST:$PORT.

``make_app(name, checks)`` returns an ``aiohttp.web.Application`` with

- a middleware that turns *every* failure into JSON: an :class:`ApiError` as itself,
  aiohttp's own 404/405/413 as JSON, a dependency failure that escaped a handler
  (aiohttp client error, timeout, botocore error) as 502, and anything else as a logged 500;
- ``GET /healthz``: runs the readiness checks (each with a short timeout) and answers 200
  ``{"status": "ok", ...}`` only when all pass, 503 naming the failing one otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError

from .config import ConfigError
from .errors import ApiError, bad_request, invalid

log = logging.getLogger("examples")

Check = Callable[[], Awaitable[Any]]
MAX_BODY = 16 * 1024 * 1024
HEALTH_CHECK_TIMEOUT = 3.0
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


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
    except (asyncio.TimeoutError, aiohttp.ClientError) as e:
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


def make_app(name: str, checks: Mapping[str, Check] | None = None) -> web.Application:
    """An app with the JSON error middleware and ``GET /healthz`` running ``checks``."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
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


async def read_json(request: web.Request, *, default: Any = ...) -> Any:
    """The request's JSON body; 400 when it is missing (and no default) or not JSON."""
    raw = await request.read()
    if not raw.strip():
        if default is not ...:
            return default
        raise bad_request("Request body is empty: a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"Request body is not valid JSON: {e}") from None


async def read_object(request: web.Request, *, default: Any = ...) -> dict[str, Any]:
    body = await read_json(request, default=default)
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
    log.info("listening on http://%s:%d", host, port)
    web.run_app(app, host=host, port=port, access_log=None, print=None, shutdown_timeout=3)
    return 0
