"""Shared test helpers: free ports and fixture stacks (import as `from hd_testing import ...`)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
SVC = REPO / "tests" / "fixtures" / "svc.py"


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports outside 9000-9019 (the reference stack's range)."""
    sockets, ports = [], []
    while len(ports) < count:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        sockets.append(s)
        if not 9000 <= port <= 9019:
            ports.append(port)
    for s in sockets:
        s.close()
    return ports


def svc(*args: str) -> list[str]:
    return [sys.executable, str(SVC), *args]


def stack_doc(services: list[dict], dashboard_port: int, **spec) -> dict:
    for s in services:
        s.setdefault("allowPortOutsideRange", True)
    return {
        "apiVersion": "hippodrome.dev/v1alpha1",
        "kind": "HippodromeStack",
        "metadata": {"name": "test"},
        "spec": {"seed": "42", "tablePrefix": "t-", "dashboard": {"port": dashboard_port, "allowPortOutsideRange": True},
                 "services": services, **spec},
    }


