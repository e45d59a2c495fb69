"""The CLI's client for a running stack's dashboard API (URL and token from run.json).

Plain ``http.client`` on one keep-alive connection: the dashboard is loopback HTTP, and `up --detach`
polls it while the stack starts on the same cores; ``requests`` (and the TLS set-up it loads) cost the
CLI 0.1 s of CPU before its first poll.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hippodrome_k8s.core.contract import TOKEN_HEADER
from hippodrome_k8s.core.errors import ControlError, NotRunningError
from hippodrome_k8s.local.runfile import read_run_info


class DashboardClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        parts = urlsplit(self.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection: http.client.HTTPConnection | None = None

    @classmethod
    def for_project(cls, project_root: str | Path) -> "DashboardClient":
        info = read_run_info(project_root)
        return cls(info["dashboardUrl"], info.get("token"))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 timeout: float | None = None) -> tuple[int, bytes]:
        """One request on the kept connection; a connection the server closed meanwhile is opened again once."""
        payload = None if body is None else json.dumps(body).encode()
        sent = {"Host": f"{self._host}:{self._port}", **(headers or {})}
        if payload is not None:
            sent["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._host, self._port)
            self._connection.timeout = timeout or self.timeout
            if self._connection.sock is not None:
                self._connection.sock.settimeout(self._connection.timeout)
            try:
                self._connection.request(method, path, body=payload, headers=sent)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as e:
                self.close()
                if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                    raise NotRunningError(f"the dashboard at {self.url} does not answer ({type(e).__name__}); "
                                          "is the stack running?") from None
        raise AssertionError("unreachable")

    def _get(self, path: str) -> Any:
        status, data = self._request("GET", path)
        if status != 200:
            raise ControlError(f"GET {path} answered HTTP {status}: {data[:200].decode('utf-8', 'replace')}")
        return json.loads(data)

    def status(self) -> dict[str, Any]:
        return self._get("/api/status")

    def stack(self) -> dict[str, Any]:
        return self._get("/api/stack")

    def control(self, action: str, service: str | None = None, timeout: float = 600.0) -> dict[str, Any]:
        status, data = self._request("POST", f"/api/control/{action}", {"service": service},
                                     {TOKEN_HEADER: self.token or ""}, timeout=timeout)
        try:
            body = json.loads(data)
        except ValueError:
            body = {"error": data[:200].decode("utf-8", "replace")}
        if status != 200:
            raise ControlError(body.get("error") or f"HTTP {status}")
        return body
