"""Small HippodromeStacks for the cluster tests, and reading the API server's audit log.

Why this exists: the tests need stacks with a known layer shape (blocking and non-blocking services,
a stateful one) whose ports stay clear of the reference stack's 9000-9019, and they count the
operator's writes from the audit log; both are pure and shared by several test modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

API_VERSION = "hippodrome.dev/v1alpha1"


def service(name: str, layer: int, port: int, *, blocking: bool = True, stateful: bool = False,
            env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "layer": layer, "port": port, "allowPortOutsideRange": True, "blocking": blocking,
            "stateful": stateful, "env": env or {}, "run": {"command": ["python", "-m", f"examples.{name}"]}}


def stack(name: str, services: list[dict], namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": API_VERSION, "kind": "HippodromeStack", "metadata": meta,
            "spec": {"seed": "42", "tablePrefix": "t-", **spec, "services": services}}


def layered(name: str, ports: Iterable[int], namespace: str | None = None) -> dict[str, Any]:
    """Three layers: `a` (stateful) and `b` blocking plus `c` non-blocking in 0, `d` in 1, `e` in 2."""
    p = iter(ports)
    return stack(name, [service("a", 0, next(p), stateful=True), service("b", 0, next(p)),
                        service("c", 0, next(p), blocking=False), service("d", 1, next(p)),
                        service("e", 2, next(p))], namespace)


def missing(sent, stored, path: str) -> list[str]:
    """Paths of `sent` that `stored` lacks or holds with another value (fields the server defaulted,
    present only in `stored`, are fine: defaulting is not pruning)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        return [p for k, v in sent.items()
                for p in (missing(v, stored[k], f"{path}.{k}") if k in stored else [f"{path}.{k}"])]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [p for i, (a, b) in enumerate(zip(sent, stored)) for p in missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [path]


# ---- the audit log (JSON lines, writes only: see cp_config.AUDIT_POLICY) -----------------------

def audit_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:           # a line being written right now
            continue
    return events


def writes_by(events: Iterable[dict], username: str, namespace: str, since: str = "") -> list[dict]:
    """Completed write requests `username` made in `namespace` (at or after the RFC 3339 time `since`)."""
    return [e for e in events
            if e.get("stage") == "ResponseComplete" and e.get("user", {}).get("username") == username
            and e.get("objectRef", {}).get("namespace") == namespace
            and e.get("verb") in ("create", "update", "patch", "delete", "deletecollection")
            and e.get("requestReceivedTimestamp", "") >= since]


def describe(event: dict) -> str:
    ref = event.get("objectRef", {})
    sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
    return (f"{event.get('verb')} {ref.get('resource')}{sub}/{ref.get('name', '')} -> "
            f"{event.get('responseStatus', {}).get('code')}")
