"""The in-cluster dashboard: the local ``/api/status`` contract, answered from the CR's status.

``python -m hippodrome_k8s.dashboard.cluster --stack dev [--namespace ns] [--port 9000]``

A background task reads the HippodromeStack every ``--refresh`` seconds;
requests are answered from that snapshot, never by calling the API server on
the request path.  ``status.services`` already has the local value shape;
``url`` is rewritten to ``http://127.0.0.1:<port>`` because the dashboard is
reached through the CLI's port-forwards (the cluster URL stays in
``clusterUrl``), so the original system's readiness script (README, "Contracts") runs unchanged.  Control
requests become the ``hippodrome.dev/control`` annotation the operator acts on.

It serves the same page as the local engine: ``/api/stack`` carries the same ``health`` (tone,
label, "depends on X (stopped)" flags, from the stack's own spec) and the port-forward health
the CLI publishes; each read that changes the stack is pushed to open ``/api/events`` streams.
Logs and start-up timings are the local engine's (``features`` says so; the page hides them).

The Host guard accepts a loopback name on any port: the dashboard is reached only
through a port-forward, whose local port is the stack's ``dashboard.port`` (the
CLI's forward) or Tilt's, not the container's ``--port``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from hippodrome_k8s.core.contract import CONTROL_ANNOTATION, FORWARDS_ANNOTATION, ControlAction, ControlRequest, ControlResult
from hippodrome_k8s.core.crd import GROUP, PLURAL, VERSION
from hippodrome_k8s.core.dependencies import dependencies
from hippodrome_k8s.core.health import stack_health
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.model import Cell
from hippodrome_k8s.core.errors import ControlError, HippodromeError, K8sError, KubeNotFound
from hippodrome_k8s.dashboard.server import answer_server_errors_as_json, build_app
Fetch = Callable[[], Awaitable[Mapping[str, Any] | None]]
Patch = Callable[[Mapping[str, Any]], Awaitable[None]]


def local_view(services: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, value in services.items():
        entry = dict(value)
        entry["clusterUrl"] = entry.get("url")
        if entry.get("port"):
            entry["url"] = f"http://127.0.0.1:{entry['port']}"
        entry.setdefault("pid", None)
        out[name] = entry
    return out


class ClusterStatusSource:
    """A ``StatusSource`` (see ``server.py``) over the stack's custom resource."""

    def __init__(self, name: str, namespace: str, fetch: Fetch, patch: Patch, *, token: str | None = None,
                 control_timeout: float = 30.0):
        self.name, self.namespace = name, namespace
        self.token = token or secrets.token_urlsafe(24)
        self._fetch, self._patch = fetch, patch
        self._body: Mapping[str, Any] | None = None
        self._error: str | None = None
        self._fetched_at: float | None = None
        self.control_timeout = control_timeout
        self._listeners: list[Callable[[], None]] = []
        self._deps: tuple[Any, dict[str, tuple[str, ...]]] | None = None

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """``listener()`` after every read that changed the stack (the event stream's push)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def refresh(self) -> None:
        before = (self._body, self._error)
        try:
            self._body = await self._fetch()
            self._error = None if self._body is not None else f"{PLURAL}/{self.name} not found in {self.namespace}"
        except K8sError as e:
            self._error = str(e)
        self._fetched_at = time.time()
        if (self._body, self._error) != before:
            for listener in list(self._listeners):
                listener()

    def _dependencies(self) -> dict[str, tuple[str, ...]]:
        """From the stack's spec, as the local engine's plan has them (nothing if the spec does not load:
        the operator reports that in the phase)."""
        body = self._body or {}
        spec = body.get("spec") or {}
        if self._deps is None or self._deps[0] != spec:
            names = list(self._status().get("services") or {})
            try:
                stack = load_stack_data({"apiVersion": f"{GROUP}/{VERSION}", "kind": "HippodromeStack",
                                         "metadata": {"name": self.name}, "spec": spec})
                cell = Cell(self._status().get("cell") or stack.spec.cell.value)
                found = dependencies(stack, names, cell)
            except (HippodromeError, ValueError):
                found = {}
            self._deps = (spec, found)
        return self._deps[1]

    async def run(self, interval: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval)

    def _status(self) -> Mapping[str, Any]:
        return (self._body or {}).get("status") or {}

    def status_json(self, log_lines: int = 0) -> dict[str, dict[str, Any]]:
        return local_view(self._status().get("services") or {})

    def stack_json(self) -> dict[str, Any]:
        body = self._body or {}
        status = self._status()
        services = status.get("services") or {}
        counts: dict[str, int] = {}
        for s in services.values():
            counts[s.get("status", "pending")] = counts.get(s.get("status", "pending"), 0) + 1
        layers: dict[int, list[str]] = {}
        for n, s in services.items():
            layers.setdefault(int(s.get("layer", 0)), []).append(n)
        spec = body.get("spec") or {}
        return {
            "name": self.name,
            "namespace": self.namespace,
            "engine": "k8s",
            "phase": status.get("phase", "Pending"),
            "failure": status.get("message") if status.get("phase") == "Failed" else None,
            "message": status.get("message"),
            "profile": status.get("profile") or spec.get("profile"),
            "cell": status.get("cell") or spec.get("cell"),
            "observedGeneration": status.get("observedGeneration"),
            "generation": (body.get("metadata") or {}).get("generation"),
            "currentLayer": status.get("currentLayer"),
            "layers": [sorted(layers[k]) for k in sorted(layers)],
            "services": len(services),
            "ready": sum(1 for s in services.values() if s.get("ready")),
            "counts": counts,
            "conditions": status.get("conditions") or [],
            "lastControl": status.get("lastControl"),
            "forwards": _forwards(body),
            "fetchedAt": self._fetched_at,
            "error": self._error,
            "warnings": [],
            "health": stack_health(self.status_json(), self._dependencies()),
            "timings": None,
            "features": {"logs": False, "timings": False, "control": [a.value for a in ControlAction.for_cluster()]},
        }

    async def control(self, action: str, service: str | None = None) -> dict[str, Any]:
        if action == ControlAction.shutdown:
            raise ControlError("shutdown is not available in the cluster; run `hippodrome k8s down`")
        request = ControlRequest(str(uuid.uuid4()), action, service)
        await self._patch({"metadata": {"annotations": {CONTROL_ANNOTATION: request.encode()}}})
        deadline = time.monotonic() + self.control_timeout
        while time.monotonic() < deadline:
            await self.refresh()
            last = self._status().get("lastControl") or {}
            if last.get("id") == request.id:
                result = ControlResult.from_status(last)
                if not result.ok:
                    raise ControlError(result.message)
                return {"ok": True, "action": action, "service": service, "id": request.id,
                        "result": ControlResult.OK}
            await asyncio.sleep(0.2)
        raise ControlError(f"the operator did not acknowledge {action} within {self.control_timeout:.0f}s")


def kubernetes_accessors(name: str, namespace: str) -> tuple[Fetch, Patch]:
    """Fetch/patch the CR through the one adapter (in a pod its service account, else ``$KUBECONFIG``)."""
    from hippodrome_k8s.kube import Kube

    kube = Kube.connect(in_cluster_first=True, timeout=10)

    async def fetch() -> Mapping[str, Any] | None:
        try:
            return await kube.acall(f"get {PLURAL}/{name}", kube.custom.get_namespaced_custom_object,
                                    GROUP, VERSION, namespace, PLURAL, name)
        except KubeNotFound:
            return None

    async def patch(body: Mapping[str, Any]) -> None:
        await kube.acall(f"patch {PLURAL}/{name}", kube.custom.patch_namespaced_custom_object, GROUP, VERSION,
                         namespace, PLURAL, name, body, _content_type="application/merge-patch+json")

    return fetch, patch


def cluster_app(source: ClusterStatusSource, port: int) -> web.Application:
    """The dashboard app as the pod serves it: a loopback Host on any port (the forward's local port)."""
    return build_app(source, port, any_port=True)


async def serve(source: ClusterStatusSource, host: str, port: int, refresh: float) -> None:
    answer_server_errors_as_json()
    app = cluster_app(source, port)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"dashboard: serving {source.namespace}/{source.name} on {host}:{port}", flush=True)
    try:
        await source.run(refresh)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hippodrome_k8s.dashboard.cluster")
    parser.add_argument("--stack", default=os.environ.get("HIPPODROME_STACK", "dev"))
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "default"))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HIPPODROME_DASHBOARD_PORT", "9000")))
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between reads of the stack")
    args = parser.parse_args(argv)
    fetch, patch = kubernetes_accessors(args.stack, args.namespace)
    source = ClusterStatusSource(args.stack, args.namespace, fetch, patch,
                                 token=os.environ.get("HIPPODROME_DASHBOARD_TOKEN") or None)
    try:
        asyncio.run(serve(source, args.host, args.port, args.refresh))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _forwards(body: dict[str, Any]) -> dict[str, Any] | None:
    """The developer's port-forward health, as the CLI last published it on the stack (or None)."""
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(FORWARDS_ANNOTATION)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
