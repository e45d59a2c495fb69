"""The per-service state machine and the frozen status objects readers get.

``running`` means the process is up and answered its health probe at least
once; ``ready`` is kept separately (a running service whose probe fails turns
``ready: false`` without changing state).  Only the transitions in
``TRANSITIONS`` are legal; the store refuses any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class State(str, Enum):
    pending = "pending"  # selected, its layer not started yet
    starting = "starting"  # process spawned (or waiting to respawn), not yet healthy
    running = "running"  # healthy at least once since it started
    stopping = "stopping"  # SIGTERM sent
    stopped = "stopped"  # stopped on request
    failed = "failed"  # gave up (a blocking service during start-up), or cannot be started
    disabled = "disabled"  # declared but not selected by this profile/cell


TRANSITIONS: dict[State, frozenset[State]] = {
    State.pending: frozenset({State.starting, State.stopped, State.failed, State.stopping}),
    State.starting: frozenset({State.starting, State.running, State.stopping, State.failed, State.stopped}),
    State.running: frozenset({State.starting, State.stopping, State.failed, State.stopped}),
    State.stopping: frozenset({State.stopped, State.failed}),
    State.stopped: frozenset({State.starting, State.stopped}),
    State.failed: frozenset({State.starting, State.stopped, State.failed, State.stopping}),
    State.disabled: frozenset(),
}


def can_move(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class ServiceStatus:
    """One service, as /api/status shows it (the contract in DESIGN.md)."""

    name: str
    layer: int
    port: int
    url: str
    blocking: bool
    status: State = State.pending
    ready: bool = False
    restarts: int = 0
    pid: int | None = None
    since: float = 0.0  # wall-clock time of the last state change
    started_at: float | None = None  # when the current process started
    message: str = ""
    exit_code: int | None = None

    def to_json(self, now: float) -> dict:
        return {
            "name": self.name,
            "status": self.status.value,
            "layer": self.layer,
            "port": self.port,
            "url": self.url,
            "ready": self.ready,
            "restarts": self.restarts,
            "pid": self.pid,
            "since": self.since,
            "message": self.message,
            "blocking": self.blocking,
            "exitCode": self.exit_code,
            "uptime": round(now - self.started_at, 1) if self.started_at and self.status == State.running else None,
        }
