"""moto's WSGI app behind a tiny middleware that answers ``/healthz``.

moto's own ``/moto-api/`` answers as soon as the socket listens; health here
means "the bootstrap finished", which only this process knows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class Readiness:
    """What /healthz reports: starting, ready (with a summary) or failed (with the reason)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"status": "starting"}

    def set(self, **state: Any) -> None:
        with self._lock:
            self._state = state

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)


class HealthMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], readiness: Readiness):
        self.app = app
        self.readiness = readiness

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            state = self.readiness.snapshot()
            status = "200 OK" if state["status"] == "ready" else "503 Service Unavailable"
            body = json.dumps(state).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def make_moto_server(host: str, port: int, readiness: Readiness) -> BaseWSGIServer:
    app = HealthMiddleware(DomainDispatcherApplication(create_backend_app), readiness)
    return make_server(host, port, app, threaded=True)
