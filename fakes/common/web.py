"""The aiohttp edge every fake shares: who may call (Origin, Host), JSON bodies within limits, JSON errors always.

``guard(policy, error)`` is a middleware, the outermost one: it refuses a request from an Origin or to a Host
the policy does not allow (403, before any handler), or whose headers are not UTF-8 (400: aiohttp hands them
on as lone surrogates, which fail wherever they are encoded), answers an allowed origin's CORS preflight, and puts
``Access-Control-Allow-Origin: <that origin>`` (never ``*``) on every answer to an allowed origin.

``json_errors(error, domain)`` is the JSON-error middleware every fake shares: the fake's own errors (``domain``
maps one to a response, or gives None), aiohttp's HTTP exceptions (404, 405, 413) and anything unexpected (a
JSON 500, logged) all answer in the fake's error shape, never as HTML or text.

``read_json(request)`` parses a body through ``hippodrome_k8s.core.jsonbody`` (depth at most 64, no lone
surrogate), raising ``InvalidBody`` naming the field, for the fake to answer 400 in its own shape.

``answer_server_errors_as_json(error)``: aiohttp answers what it cannot parse (a request line over 8,190
bytes, an unknown method, a malformed header) itself, as ``text/plain``, before any middleware runs; every
such answer goes through ``RequestHandler.handle_error``, so that one method is wrapped, once per process:
the status aiohttp chose, with a JSON body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.origins import Policy

from .edge import ALL_METHODS, ErrorBody  # noqa: F401 - ALL_METHODS is part of this module's interface

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: ErrorBody, status: int, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body, content_type = error(status, message, field)
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status, content_type=content_type,
                        headers=headers)


def guard(policy: Policy, error: ErrorBody, methods: str = ALL_METHODS) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host, origin = request.headers.get("Host"), request.headers.get("Origin")
        refusal = policy.refusal(request.path, host, origin)
        if refusal is not None:
            return error_response(error, 403, refusal)
        unreadable = jsonbody.bad_header(request.headers)
        if unreadable is not None:
            return error_response(error, 400, unreadable.message, unreadable.field)
        if origin is not None and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(status=204, headers=policy.preflight_headers(
                origin, host, methods, request.headers.get("Access-Control-Request-Headers")))
        cors = policy.cors_headers(origin, host)
        try:
            response = await handler(request)
        except web.HTTPException as e:
            e.headers.update(cors)
            raise
        response.headers.update(cors)
        return response

    return middleware


def json_errors(error: ErrorBody, domain: Callable[[Exception], "web.StreamResponse | None"] = lambda exc: None,
                log: Any = None) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            message = {404: f"Path {request.path} not found",
                       405: f"Method {request.method} not allowed on {request.path}"}.get(exc.status, exc.reason or "HTTP error")
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return error_response(error, exc.status, message, headers=headers)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001 - the contract: JSON, never an HTML page
            answer = domain(exc)
            if answer is not None:
                return answer
            if log is not None:
                log.exception("unexpected error on %s %s", request.method, request.path)
            return error_response(error, 500, f"Internal error: {type(exc).__name__}")

    return middleware


async def read_json(request: web.Request, max_depth: int = jsonbody.MAX_DEPTH) -> Any:
    """The request's JSON body (``InvalidBody`` when it is not JSON, too deep, or holds a lone surrogate)."""
    return jsonbody.parse(await request.read(), max_depth)


_installed: list[ErrorBody] = []


def answer_server_errors_as_json(error: ErrorBody) -> None:
    """Make the errors aiohttp answers by itself JSON, with the status it chose (this process's servers)."""
    if _installed:
        _installed[0] = error
        return
    _installed.append(error)
    original = RequestHandler.handle_error

    def handle_error(self: RequestHandler, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        plain = original(self, request, status, exc, message)  # logs, and refuses once a response has started
        text = message if status != 500 and message else (plain.text if isinstance(plain, web.Response) else "")
        response = error_response(_installed[0], status, (text or "").strip() or f"HTTP {status}")
        response.force_close()
        return response

    RequestHandler.handle_error = handle_error  # type: ignore[method-assign]
