"""Which browser requests a stack's services answer: the Origin and Host allow-lists, decided purely.

Why: a local dev stack listens on loopback, and the developer's browser visits hostile pages. Without
a guard, any page could call the services (moto handed out the system API key to
``Origin: http://evil.example``), and a page on a rebound DNS name (``Host: evil.example:9008``) could
read them. So every service the stack ships refuses:

- a request whose ``Origin`` is not allowed (403, JSON): allowed are the stack's own loopback origins
  (``http://127.0.0.1:<port>`` and ``http://localhost:<port>`` for the dashboard's and every service's
  port), the stack file's ``spec.allowedOrigins``, and the service's own origin (``http://<its Host>``).
  Requests without ``Origin`` (curl, boto3, the marqo client, server-to-server calls) pass;
- a request whose ``Host`` names anything but loopback, a host of ``spec.allowedOrigins``, or (on the
  Kubernetes engine) the service's cluster DNS names and the pod's address (403, JSON). ``/healthz`` is
  exempt from the Host check: the kubelet probes it by the pod's address.

CORS answers name the allowed origin itself, never ``*``. The resolver renders the lists into every
service's env (the contract below), so each service, Python or Node.js, enforces the same policy::

    HIPPODROME_ALLOWED_ORIGINS   comma-separated origins, e.g. http://127.0.0.1:9008,http://localhost:9008
    HIPPODROME_ALLOWED_HOSTS     comma-separated host names (no port), e.g. 127.0.0.1,localhost
    HIPPODROME_POD_IP            on Kubernetes, the pod's address (the downward API), allowed as a Host

Without them (a service started by hand) only loopback Hosts and same-origin requests pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

ORIGINS_ENV = "HIPPODROME_ALLOWED_ORIGINS"
HOSTS_ENV = "HIPPODROME_ALLOWED_HOSTS"
POD_IP_ENV = "HIPPODROME_POD_IP"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
HOST_CHECK_EXEMPT = frozenset({"/healthz"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def loopback_origins(ports: Iterable[int]) -> list[str]:
    return [f"http://{host}:{port}" for port in sorted(set(ports)) for host in ("127.0.0.1", "localhost")]


def normalize_origin(origin: str) -> str:
    """``HTTP://LocalHost:80/`` -> ``http://localhost``: how browsers spell an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return origin
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or str(port) == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without the port: ``[::1]:9003`` -> ``[::1]``, ``LOCALHOST.`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def origin_host(origin: str) -> str:
    """The host name of an origin (``http://dev.example:3000`` -> ``dev.example``), as a Host header names it."""
    return host_name(urlsplit(normalize_origin(origin)).netloc)


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


@dataclass(frozen=True)
class Policy:
    origins: frozenset[str]  # normalized
    hosts: frozenset[str]  # host names, lower case, no port

    @classmethod
    def of(cls, origins: Iterable[str] = (), hosts: Iterable[str] = ()) -> "Policy":
        return cls(frozenset(normalize_origin(o) for o in origins),
                   frozenset({host_name(h) for h in hosts} | set(LOOPBACK_HOSTS)))

    def host_allowed(self, host: str | None) -> bool:
        return host is None or host_name(host) in self.hosts

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        wanted = normalize_origin(origin)
        if wanted in self.origins:
            return True
        return host is not None and self.host_allowed(host) and wanted == normalize_origin(f"http://{host}")

    def refusal(self, path: str, host: str | None, origin: str | None) -> str | None:
        """Why this request is refused (a 403), or None when it may proceed."""
        if path not in HOST_CHECK_EXEMPT and not self.host_allowed(host):
            return (f"Host {host!r} is not allowed here (a guard against DNS rebinding): use http://127.0.0.1:<port>, "
                    "or add the origin you browse from to spec.allowedOrigins in the stack file")
        if origin is not None and not self.origin_allowed(origin, host):
            return (f"cross-origin request from {origin!r} refused: only the stack's own origins may call this service; "
                    "add it to spec.allowedOrigins in the stack file to allow it")
        return None

    def cors_headers(self, origin: str | None, host: str | None) -> dict[str, str]:
        """The CORS headers of an answer to an allowed ``origin`` (none without one): that origin, never ``*``."""
        if origin is None or not self.origin_allowed(origin, host):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def preflight_headers(self, origin: str, host: str | None, methods: str, requested_headers: str | None
                          ) -> dict[str, str]:
        """The answer to an allowed origin's preflight (``OPTIONS`` with ``Access-Control-Request-Method``)."""
        headers = self.cors_headers(origin, host)
        headers["Access-Control-Allow-Methods"] = methods
        if requested_headers:
            headers["Access-Control-Allow-Headers"] = requested_headers
        headers["Access-Control-Max-Age"] = "600"
        return headers


def policy_from_env(env: Mapping[str, str]) -> Policy:
    hosts = split_list(env.get(HOSTS_ENV))
    pod_ip = (env.get(POD_IP_ENV) or "").strip()
    if pod_ip:
        hosts.append(f"[{pod_ip}]" if ":" in pod_ip else pod_ip)
    return Policy.of(split_list(env.get(ORIGINS_ENV)), hosts)

