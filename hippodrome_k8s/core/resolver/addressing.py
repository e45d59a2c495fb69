"""Addressing: the only difference between the engines — where a service is reached.

Locally every service is on 127.0.0.1 at its port; in a cluster services reach each other by DNS,
while a client on the developer's machine comes in through the port-forwards (``link_host``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Addressing(Protocol):
    engine: str
    bind_host: str

    def host(self, stack_name: str, service: str) -> str:
        """Where other services reach ``service`` (``${services.X.url}``)."""

    def link_host(self, stack_name: str, service: str) -> str:
        """Where a client outside the stack reaches it (``${links.X}``: an address handed out)."""

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        """Every name other services may put in their ``Host`` header to reach ``service`` (origins.py)."""


@dataclass(frozen=True)
class LocalAddressing:
    engine: str = "local"
    bind_host: str = "127.0.0.1"
    public_host: str = "127.0.0.1"

    def host(self, stack_name: str, service: str) -> str:
        return self.public_host

    def link_host(self, stack_name: str, service: str) -> str:
        return self.public_host

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        return (self.public_host,)


@dataclass(frozen=True)
class ClusterAddressing:
    """Services reach each other by cluster DNS; clients on the developer's machine (the README's
    ``marqo.Client``, E2E suites) come in through the port-forwards, each service on its own port of
    ``forward_host``, so an address handed to them (a link) must be that one: a cluster DNS name does
    not resolve outside the cluster."""

    namespace: str = "default"
    engine: str = "k8s"
    bind_host: str = "0.0.0.0"
    forward_host: str = "127.0.0.1"

    def host(self, stack_name: str, service: str) -> str:
        return f"{dns_name(stack_name, service)}.{self.namespace}.svc.cluster.local"

    def link_host(self, stack_name: str, service: str) -> str:
        return self.forward_host

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        short = dns_name(stack_name, service)
        return (short, f"{short}.{self.namespace}", f"{short}.{self.namespace}.svc", self.host(stack_name, service),
                self.forward_host)


def dns_name(stack_name: str, service: str) -> str:
    """A Kubernetes object name for a service of a stack (RFC 1123: no underscores)."""
    return f"{stack_name}-{service.replace('_', '-')}"[:63].rstrip("-")
