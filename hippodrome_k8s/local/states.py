"""The per-service state machine and the frozen status objects readers get.

``running`` means the process is up and answered its health probe at least
once; ``ready`` is kept separately (a running service whose probe fails turns
``ready: false`` without changing state).  Only the transitions in
``TRANSITIONS`` are legal; the store refuses any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from hippodrome_k8s.core.contract import ServiceState, ServiceView



TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    ServiceState.pending: frozenset({ServiceState.starting, ServiceState.stopped, ServiceState.failed, ServiceState.stopping}),
    ServiceState.starting: frozenset({ServiceState.starting, ServiceState.running, ServiceState.stopping, ServiceState.failed, ServiceState.stopped}),
    ServiceState.running: frozenset({ServiceState.starting, ServiceState.stopping, ServiceState.failed, ServiceState.stopped}),
    ServiceState.stopping: frozenset({ServiceState.stopped, ServiceState.failed}),
    ServiceState.stopped: frozenset({ServiceState.starting, ServiceState.stopped}),
    ServiceState.failed: frozenset({ServiceState.starting, ServiceState.stopped, ServiceState.failed, ServiceState.stopping}),
    ServiceState.disabled: frozenset(),
}


def can_move(current: ServiceState, target: ServiceState) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class ServiceStatus:
    """One service, as /api/status shows it (README, "Contracts"; core/contract.ServiceView)."""

    name: str
    layer: int
    port: int
    url: str
    blocking: bool
    status: ServiceState = ServiceState.pending
    ready: bool = False
    restarts: int = 0
    pid: int | None = None
    since: float = 0.0  # wall-clock time of the last state change
    started_at: float | None = None  # when the current process started
    message: str = ""
    exit_code: int | None = None

    def view(self, now: float) -> ServiceView:
        return ServiceView(
            name=self.name, status=self.status, layer=self.layer, port=self.port, url=self.url, ready=self.ready,
            restarts=self.restarts, pid=self.pid, since=self.since, message=self.message, blocking=self.blocking,
            exitCode=self.exit_code,
            uptime=round(now - self.started_at, 1) if self.started_at and self.status == ServiceState.running else None)

    def to_json(self, now: float) -> dict:
        return self.view(now).to_json()
