"""Who may call a service from a browser: the Origin and Host allow-lists the stack renders into the env.

Why: the services listen on loopback and the developer's browser visits hostile pages; a page on
``http://evil.example`` must not drive the stack (drive-by), nor a page on a rebound DNS name read it
(``Host: evil.example:9008``). Hippodrome renders the policy into every service's env:

    HIPPODROME_ALLOWED_ORIGINS  comma-separated origins (the stack's loopback origins + spec.allowedOrigins)
    HIPPODROME_ALLOWED_HOSTS    comma-separated host names (loopback, plus the cluster's names on Kubernetes)
    HIPPODROME_POD_IP           on Kubernetes, the pod's address (allowed as a Host)

A request with an ``Origin`` not listed (and not the service's own), or a ``Host`` not listed, is a 403;
``/healthz`` is exempt from the Host check (the kubelet probes by the pod's address); requests without
``Origin`` (curl, boto3, the marqo client, other services) pass. Allowed origins get that origin back in
``Access-Control-Allow-Origin``, never ``*``. Pure apart from reading the env once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
EXEMPT = frozenset({"/healthz"})


def normalize_origin(origin: str) -> str:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return origin
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{host}" + ("" if port in (None, default) else f":{port}")


def host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def _items(text: str | None) -> list[str]:
    return [i.strip() for i in (text or "").split(",") if i.strip()]


@dataclass(frozen=True)
class Policy:
    origins: frozenset[str]
    hosts: frozenset[str]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Policy":
        env = os.environ if env is None else env
        hosts = {host_name(h) for h in _items(env.get("HIPPODROME_ALLOWED_HOSTS"))} | set(LOOPBACK)
        pod_ip = (env.get("HIPPODROME_POD_IP") or "").strip()
        if pod_ip:
            hosts.add(f"[{pod_ip}]" if ":" in pod_ip else pod_ip)
        return cls(frozenset(normalize_origin(o) for o in _items(env.get("HIPPODROME_ALLOWED_ORIGINS"))),
                   frozenset(hosts))

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        wanted = normalize_origin(origin)
        return wanted in self.origins or (host is not None and host_name(host) in self.hosts
                                          and wanted == normalize_origin(f"http://{host}"))

    def refusal(self, path: str, host: str | None, origin: str | None) -> str | None:
        if path not in EXEMPT and host is not None and host_name(host) not in self.hosts:
            return (f"Host {host!r} is not allowed here (a guard against DNS rebinding): use http://127.0.0.1:<port>, "
                    "or add the origin you browse from to spec.allowedOrigins in the stack file")
        if origin is not None and not self.origin_allowed(origin, host):
            return (f"cross-origin request from {origin!r} refused: only the stack's own origins may call this service; "
                    "add it to spec.allowedOrigins in the stack file to allow it")
        return None

    def cors_headers(self, origin: str | None, host: str | None) -> dict[str, str]:
        if origin is None or not self.origin_allowed(origin, host):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
