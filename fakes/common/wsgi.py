"""The same edge as ``web`` for a WSGI server (fake_aws serves moto's WSGI app on werkzeug's server).

``Guard(app, policy, error)`` refuses a request from an Origin or to a Host the policy does not allow (403,
JSON), answers an allowed origin's CORS preflight itself, and replaces the CORS headers of the app's answers:
moto (flask-cors) echoed *any* origin and allowed ``authorization`` and ``x-amz-target``, so a page on
``http://evil.example`` read the system API key from Secrets Manager. An HTML error page from the app
(werkzeug's 405, Flask's 500) becomes JSON with the same status; AWS's own XML and JSON errors pass as they are.

``JsonErrors`` is a request-handler mixin: ``http.server`` answers what it cannot parse (a request line over
64 KiB, an oversized header, a malformed request line) by ``send_error`` with an HTML page; here that is JSON
with the same status. For a request line too long it first reads the rest of the request head (up to 1 MiB),
so the client, still sending its URL, gets the answer instead of a reset connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from hippodrome_k8s.core.origins import Policy

from .edge import ALL_METHODS, ErrorBody

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
DRAIN_LIMIT = 1024 * 1024


def json_error(start_response: StartResponse, error: ErrorBody, status: int, message: str,
               extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    body, content_type = error(status, message, None)
    data = json.dumps(body).encode()
    start_response(f"{status} {_reason(status)}", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                                   *(extra or [])])
    return [data]


def _reason(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Error", ""))[0]


class Guard:
    def __init__(self, app: WsgiApp, policy: Policy, error: ErrorBody, methods: str = ALL_METHODS) -> None:
        self.app, self.policy, self.error, self.methods = app, policy, error, methods

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host, origin = environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN")
        refusal = self.policy.refusal(environ.get("PATH_INFO", ""), host, origin)
        if refusal is not None:
            return json_error(start_response, self.error, 403, refusal)
        if origin is not None and environ.get("REQUEST_METHOD") == "OPTIONS" \
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            headers = self.policy.preflight_headers(origin, host, self.methods,
                                                    environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"))
            start_response("204 No Content", list(headers.items()))
            return []
        cors = list(self.policy.cors_headers(origin, host).items())
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None  # moto (Flask) returns its body; nothing writes

        result = self.app(environ, capture)
        if "status" not in answer:  # an app that starts its answer lazily: run it to the end first
            chunks = list(result)
            _close(result)
            result = chunks
        status, headers = answer["status"], answer["headers"]
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if int(status[:3]) >= 400 and content_type.startswith("text/html"):
            _close(result)
            return json_error(start_response, self.error, int(status[:3]), _reason(int(status[:3])), cors)
        kept = [(k, v) for k, v in headers
                if not k.lower().startswith("access-control-") and not (k.lower() == "vary" and v.lower() == "origin")]
        start_response(status, kept + cors)
        return result


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class JsonErrors:
    """Mix into a ``BaseHTTPRequestHandler`` subclass (before it); set ``error_body``."""

    error_body: ErrorBody

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        handler: Any = self
        if code == 414:
            self._drain_request_head()
        short, long = handler.responses.get(code, ("Error", ""))
        text = f"{message or short}: {explain or long}".rstrip(": ")
        handler.log_error("code %d, message %s", code, message or short)
        handler.send_response(code, message or short)
        handler.send_header("Connection", "close")
        body, content_type = self.error_body(code, text, None)
        data = json.dumps(body).encode()
        send_body = code >= 200 and code not in (204, 205, 304) and getattr(handler, "command", "") != "HEAD"
        if send_body:
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if send_body:
            handler.wfile.write(data)
        handler.close_connection = True

    def _drain_request_head(self) -> None:
        """Read what is left of the request line and the header lines after it (at most DRAIN_LIMIT bytes)."""
        rfile, budget, first = getattr(self, "rfile"), DRAIN_LIMIT, True
        while budget > 0:
            line = rfile.readline(min(budget, 65537))
            if not line or (not first and line in (b"\r\n", b"\n")):
                return
            budget, first = budget - len(line), False
