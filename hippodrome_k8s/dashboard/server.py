"""The dashboard's HTTP server (aiohttp, on the supervisor's own event loop).

``/api/status`` is answered from the state owner's snapshot, never by probing
services on the request path.  Control endpoints defend against other origins:
the Host header must name loopback (against DNS rebinding), a request with an
``Origin`` must come from this dashboard, and every control call must carry the
per-run token (``X-Hippodrome-Token``), which only the CLI (from
``.hippodrome/run.json``, mode 0600) and this page's own HTML know - a page on
another origin can neither read that HTML nor send a custom header without a
CORS preflight that we never approve.

Every answer is JSON, errors included: a control body nested deeper than 64 levels is a 400 (the
one body parser, ``hippodrome_k8s.core.jsonbody``), and what aiohttp refuses before any middleware
runs (a request line over 8,190 bytes, an unknown method) is answered in JSON with its status.

The page (``dashboard.html`` with ``dashboard.js`` and ``dashboard.css``, no build step) loads
once and is then kept up to date by ``/api/events`` (``events.py``); the log API is in
``logs_api.py``. ``/api/status`` keeps its contract for scripts.
"""

from __future__ import annotations

import hmac
import html
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.contract import TOKEN_HEADER, ControlAction
from hippodrome_k8s.core.errors import HippodromeError, InvalidBody, PortInUseError
from hippodrome_k8s.dashboard import logs_api
from hippodrome_k8s.dashboard.events import EventHub

ACTIONS = tuple(a.value for a in ControlAction)


class StatusSource(Protocol):
    """What the dashboard needs from an engine (the local supervisor, or the cluster's stack status)."""

    token: str

    def status_json(self, log_lines: int = 0) -> dict[str, dict[str, Any]]: ...

    def stack_json(self) -> dict[str, Any]: ...

    async def control(self, action: str, service: str | None = None) -> dict[str, Any]: ...

    # Optional, used when present: ``subscribe(listener) -> unsubscribe`` (call ``listener()`` on any
    # change; without it the event stream looks every second), ``log_entries(service | None, since,
    # limit) -> [{"seq", "at", "service", "text"}]`` and ``log_file(service) -> Path | None``.


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def allowed_hosts(port: int) -> set[str]:
    return {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")} | (
        {"127.0.0.1", "localhost", "[::1]"} if port == 80 else set()
    )


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def loopback_host(host: str) -> bool:
    """A loopback name, on any port (the name is what DNS rebinding forges; the port is the client's choice)."""
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    return (name in LOOPBACK_NAMES and port.isdigit()) or host in LOOPBACK_NAMES


def build_app(source: StatusSource, port: int, *, any_port: bool = False) -> web.Application:
    """``any_port``: accept a loopback Host on any port, for a dashboard reached only through a
    port-forward whose local port the developer chose (the in-cluster one); else only on ``port``."""
    hosts = allowed_hosts(port)
    files = resources.files(__package__)
    page = files.joinpath("dashboard.html").read_text(encoding="utf-8")
    assets = {name: files.joinpath(name).read_bytes() for name in ASSETS}
    hub = EventHub(source)

    def host_allowed(host: str) -> bool:
        return loopback_host(host) if any_port else host in hosts

    @web.middleware
    async def guard(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if not host_allowed(request.host):
            return _json_error(403, f"Host {request.host!r} is not allowed; use http://127.0.0.1:{port}/")
        unreadable = jsonbody.bad_header(request.headers)  # e.g. a token that is not UTF-8: it is encoded below
        if unreadable is not None:
            return _json_error(400, unreadable.message)
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return _json_error(e.status, e.reason)
        except HippodromeError as e:
            return _json_error(409, str(e))
        except Exception as e:  # noqa: BLE001 - the API answers JSON, always
            return _json_error(500, f"{type(e).__name__}: {e}")

    async def index(request: web.Request) -> web.Response:
        body = page.replace("{{TOKEN}}", html.escape(source.token, quote=True))
        return web.Response(text=body, content_type="text/html", headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": CSP,
        })

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in assets:
            raise web.HTTPNotFound(reason=f"no asset named {name!r}")
        return web.Response(body=assets[name], content_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def events(request: web.Request) -> web.StreamResponse:
        return await hub.stream(request, state=True, logs="*" if request.query.get("logs") in ("1", "true") else None)

    cached: dict[str, Any] = {"key": None, "body": b""}

    async def status(request: web.Request) -> web.Response:
        lines = _int_param(request, "log", 0, 0, 200)
        if lines:
            return web.json_response(source.status_json(log_lines=lines), headers={"Cache-Control": "no-store"})
        # The common poll: re-encode only when the state changed or uptimes moved (0.1 s resolution).
        version = getattr(source, "status_version", None)
        key = (version, int(time.monotonic() * 10)) if version is not None else None
        if key is None or key != cached["key"]:
            cached["key"], cached["body"] = key, json.dumps(source.status_json()).encode()
        return web.Response(body=cached["body"], content_type="application/json", headers={"Cache-Control": "no-store"})

    async def stack(request: web.Request) -> web.Response:
        return web.json_response(source.stack_json(), headers={"Cache-Control": "no-store"})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def control(request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if origin is not None and not (origin.startswith("http://") and host_allowed(origin[len("http://"):])
                                       and origin == f"http://{request.host}"):
            return _json_error(403, f"cross-origin control request from {origin!r} refused")
        supplied = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), source.token.encode()):
            return _json_error(403, f"missing or wrong {TOKEN_HEADER}; the CLI reads it from .hippodrome/run.json")
        action = request.match_info["action"]
        if action not in ACTIONS:
            return _json_error(404, f"unknown action {action!r} (allowed: {', '.join(ACTIONS)})")
        service = None
        if request.can_read_body:
            try:
                body = jsonbody.parse(await request.read())
            except InvalidBody as e:
                return _json_error(400, f"body must be JSON like {{\"service\": \"controller\"}}: {e.message}")
            if not isinstance(body, dict):
                return _json_error(400, "body must be a JSON object")
            service = body.get("service")
            if service is not None and not isinstance(service, str):
                return _json_error(422, "field 'service' must be a string or null")
        result = await source.control(action, service)
        return web.json_response(result)

    app = web.Application(middlewares=[guard])
    app.router.add_get("/", index)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/stack", stack)
    app.router.add_get("/api/events", events)
    app.router.add_get("/assets/{name}", asset)
    logs_api.add_routes(app, source, hub, _int_param)
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.close)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/control/{action}", control)
    return app


ASSETS = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return max(low, min(high, int(raw)))
    except ValueError:
        raise web.HTTPBadRequest(reason=f"query parameter {name!r} must be an integer") from None


@dataclass
class RunningDashboard:
    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        await self.runner.cleanup()


def answer_server_errors_as_json() -> None:
    """aiohttp answers what it cannot parse itself, in text/plain, before any middleware runs; every such answer
    goes through ``RequestHandler.handle_error``, wrapped here (once per process): JSON, aiohttp's status."""
    if getattr(RequestHandler.handle_error, "answers_json", False):
        return
    original = RequestHandler.handle_error

    def handle_error(self: RequestHandler, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        plain = original(self, request, status, exc, message)  # logs it; refuses once a response has started
        text = message if status != 500 and message else (plain.text if isinstance(plain, web.Response) else "")
        response = _json_error(status, (text or "").strip() or f"HTTP {status}")
        response.force_close()
        return response

    handle_error.answers_json = True  # type: ignore[attr-defined]
    RequestHandler.handle_error = handle_error  # type: ignore[method-assign]


async def start_dashboard(supervisor: Any) -> RunningDashboard:
    host, port = supervisor.plan.dashboard_host, supervisor.plan.dashboard_port
    answer_server_errors_as_json()
    app = build_app(supervisor, port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=512)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        from hippodrome_k8s.host.ports import holder_of

        raise PortInUseError(f"the dashboard cannot listen on {host}:{port}: {e.strerror or e}; "
                             f"{holder_of(port).describe()}") from None
    return RunningDashboard(runner, f"http://{host}:{port}")
