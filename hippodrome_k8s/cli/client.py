"""The CLI's client for a running stack's dashboard API (URL and token from run.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from hippodrome_k8s.dashboard.server import TOKEN_HEADER
from hippodrome_k8s.core.errors import ControlError, NotRunningError
from hippodrome_k8s.local.runfile import read_run_info


class DashboardClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    @classmethod
    def for_project(cls, project_root: str | Path) -> "DashboardClient":
        info = read_run_info(project_root)
        return cls(info["dashboardUrl"], info.get("token"))

    def _get(self, path: str) -> Any:
        try:
            r = self.session.get(self.url + path, timeout=self.timeout)
        except requests.RequestException as e:
            raise NotRunningError(f"the dashboard at {self.url} does not answer ({type(e).__name__}); is the stack running?") from None
        if r.status_code != 200:
            raise ControlError(f"GET {path} answered HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    def status(self) -> dict[str, Any]:
        return self._get("/api/status")

    def stack(self) -> dict[str, Any]:
        return self._get("/api/stack")

    def control(self, action: str, service: str | None = None, timeout: float = 600.0) -> dict[str, Any]:
        try:
            r = self.session.post(f"{self.url}/api/control/{action}", json={"service": service},
                                  headers={TOKEN_HEADER: self.token or ""}, timeout=timeout)
        except requests.RequestException as e:
            raise NotRunningError(f"the dashboard at {self.url} does not answer ({type(e).__name__})") from None
        try:
            body = r.json()
        except ValueError:
            body = {"error": r.text[:200]}
        if r.status_code != 200:
            raise ControlError(body.get("error") or f"HTTP {r.status_code}")
        return body
