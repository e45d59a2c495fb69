"""Which service depends on which, read from the stack's ``${...}`` references, and what a person
should be told when one of them is down.

Why it exists: a stopped or failed service breaks every service that calls it, yet those stay
green on their own health checks for a while (or for ever, if they only call it on demand). The
dashboard, `hippodrome status` and the in-cluster page flag them, from one pure decision.

A service depends on another when its own env, command or image command references it:

- ``${services.X.url|port|host}`` depends on X (a start-up dependency, as the validator treats it);
- ``${cell.url}`` on the local cell service (``spec.cells.localService``) when the cell is local;
- ``${aws.endpoint}``, ``${tables|buckets|queues|topics|secrets|stateMachines.*}`` on the AWS
  emulator (``spec.aws.endpointService``); ``${cognito.*}`` on ``spec.cognito.service``.

``${links.X}`` is an address handed to clients, not a dependency; the env every service receives
from the contract (``AWS_ENDPOINT_URL``, ``CELL_URL``, ...) is not one either, or every service
would depend on every emulator: a service that calls one says so with a reference in its ``env``.
Only selected services count, and never the service itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.core.model import Cell, HippodromeStack, Service
from hippodrome_k8s.core.templating import references

_AWS_ROOTS = frozenset({"tables", "buckets", "queues", "topics", "secrets", "stateMachines"})
_AWS_STATIC = frozenset({"region", "accountId"})  # values that never reach the emulator


def _strings(s: Service) -> Iterator[str]:
    yield from s.env.values()
    yield from s.run.command
    if s.image and s.image.command:
        yield from s.image.command


def referenced_service(stack: HippodromeStack, cell: Cell, expression: str) -> str | None:
    """The service one ``${expression}`` makes its user depend on, or None."""
    parts = expression.split(".")
    root = parts[0]
    if root == "services" and len(parts) >= 2:
        return parts[1]
    if root == "cell" and parts[1:] == ["url"]:
        return stack.spec.cells.localService if cell is Cell.local else None
    if root in _AWS_ROOTS or (root == "aws" and len(parts) >= 2 and parts[1] not in _AWS_STATIC):
        return stack.spec.aws.endpointService
    if root == "cognito":
        return stack.spec.cognito.service
    return None


def dependencies(stack: HippodromeStack, selected: Iterable[str], cell: Cell) -> dict[str, tuple[str, ...]]:
    """For every selected service, the selected services it references (sorted, without itself)."""
    chosen = set(selected)
    out: dict[str, tuple[str, ...]] = {}
    for s in stack.spec.services:
        if s.name not in chosen:
            continue
        found = {referenced_service(stack, cell, e) for text in _strings(s) for e in references(text)}
        out[s.name] = tuple(sorted(n for n in found if n in chosen and n != s.name))
    return out


# --- what a person is told ---------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """One dependency that is down, as seen from a service that needs it (maybe through others)."""

    dependency: str
    state: str  # "stopped", "failed", "not ready" or "restarting"
    via: tuple[str, ...] = ()  # the chain from the flagged service to the dependency, when indirect

    @property
    def text(self) -> str:
        through = f" via {' → '.join(self.via)}" if self.via else ""
        return f"depends on {self.dependency} ({self.state}){through}"


def down_state(status: str, ready: bool, restarts: int = 0, exit_code: int | None = None) -> str | None:
    """Why a service counts as down for those that depend on it, or None while it is up or still
    coming up for the first time (a start in progress is not a failure)."""
    state = ServiceState(status)
    if state in (ServiceState.stopped, ServiceState.stopping):
        return "stopped"
    if state is ServiceState.failed:
        return "failed"
    if state is ServiceState.running and not ready:
        return "not ready"
    if state is ServiceState.starting and exit_code is not None:
        return "restarting"  # it exited and waits to be respawned: a crash loop
    return None


def flags(deps: Mapping[str, Sequence[str]], statuses: Mapping[str, Mapping]) -> dict[str, list[Flag]]:
    """For every service, the dependencies (direct, then through others) that are down.

    ``statuses`` holds `/api/status` entries. A dependency reached through a service that is itself
    down is reported once, at the nearest down service: "depends on B (stopped)", not also "C via B".
    """
    down = {name: down_state(s.get("status", "pending"), bool(s.get("ready")), int(s.get("restarts") or 0),
                             s.get("exitCode"))
            for name, s in statuses.items()}
    out: dict[str, list[Flag]] = {}
    for name in statuses:
        found: list[Flag] = []
        seen = {name}
        frontier: list[tuple[str, tuple[str, ...]]] = [(d, ()) for d in deps.get(name, ())]
        while frontier:
            following: list[tuple[str, tuple[str, ...]]] = []
            for dep, via in frontier:
                if dep in seen or dep not in statuses:
                    continue
                seen.add(dep)
                if down[dep] is not None:
                    found.append(Flag(dep, down[dep], via))
                else:
                    following += [(d, via + (dep,)) for d in deps.get(dep, ())]
            frontier = following
        out[name] = found
    return out


def dependents(deps: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """The services that reference ``name`` directly (for "needed by" on the page)."""
    return sorted(n for n, ds in deps.items() if name in ds)
