"""The one owner of the local engine's state: events in, a pure reducer, snapshots out.

Runners and the supervisor only ``dispatch`` events; the dashboard, the
console and ``wait_until`` only read snapshots.  ``reduce`` is pure and refuses
illegal transitions (see ``states.TRANSITIONS``), so a bug shows up as an
error in a test instead of a wrong dashboard.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hippodrome_k8s.core.contract import ServiceState, StackPhase
from hippodrome_k8s.local.states import ServiceStatus, can_move


@dataclass(frozen=True)
class Event:
    name: str
    at: float


@dataclass(frozen=True)
class Spawned(Event):
    pid: int


@dataclass(frozen=True)
class Healthy(Event):
    pass


@dataclass(frozen=True)
class Unready(Event):
    message: str


@dataclass(frozen=True)
class Exited(Event):
    """The process ended by itself; ``restart_in`` is None when it will not be restarted."""

    code: int | None
    restart_in: float | None


@dataclass(frozen=True)
class StopRequested(Event):
    pass


@dataclass(frozen=True)
class Stopped(Event):
    code: int | None = None


@dataclass(frozen=True)
class Failed(Event):
    message: str


@dataclass(frozen=True)
class Note(Event):
    """A progress message that does not change state (e.g. running `npm ci`)."""

    message: str


class IllegalTransition(RuntimeError):
    pass


def _move(s: ServiceStatus, target: ServiceState, at: float, **changes) -> ServiceStatus:
    if s.status != target and not can_move(s.status, target):
        raise IllegalTransition(f"{s.name}: {s.status.value} -> {target.value}")
    if s.status != target:
        changes["since"] = at
    return dataclasses.replace(s, status=target, **changes)


def reduce(s: ServiceStatus, e: Event) -> ServiceStatus:
    if isinstance(e, Spawned):
        restarts = s.restarts + (1 if s.pid is not None or s.exit_code is not None else 0)
        return _move(s, ServiceState.starting, e.at, pid=e.pid, ready=False, started_at=e.at, exit_code=None,
                     restarts=restarts, message="waiting for health check")
    if isinstance(e, Healthy):
        return _move(s, ServiceState.running, e.at, ready=True, message="")
    if isinstance(e, Unready):
        return dataclasses.replace(s, ready=False, message=e.message)
    if isinstance(e, Exited):
        if e.restart_in is None:
            return _move(s, ServiceState.failed, e.at, pid=None, ready=False, exit_code=e.code, message=f"exited with code {e.code}")
        return _move(s, ServiceState.starting, e.at, pid=None, ready=False, exit_code=e.code,
                     message=f"exited with code {e.code}; restarting in {e.restart_in:.1f}s")
    if isinstance(e, StopRequested):
        if s.status in (ServiceState.stopped, ServiceState.pending) and s.pid is None:
            return _move(s, ServiceState.stopped, e.at, message="stopped")
        return _move(s, ServiceState.stopping, e.at, ready=False, message="stopping")
    if isinstance(e, Stopped):
        return _move(s, ServiceState.stopped, e.at, pid=None, ready=False, exit_code=e.code, message="stopped")
    if isinstance(e, Failed):
        return _move(s, ServiceState.failed, e.at, ready=False, message=e.message)
    if isinstance(e, Note):
        return dataclasses.replace(s, message=e.message)
    raise TypeError(f"unknown event {e!r}")


def stack_phase(lifecycle: StackPhase, statuses: Mapping[str, ServiceStatus]) -> StackPhase:
    """The stack's phase: the supervisor's own lifecycle, except that a running stack whose blocking
    services are not all running and ready (one failed, or was stopped on request) is degraded."""
    if lifecycle is StackPhase.RUNNING and any(
            s.blocking and not (s.status == ServiceState.running and s.ready) for s in statuses.values()):
        return StackPhase.DEGRADED
    return lifecycle


class Store:
    def __init__(self, statuses: Mapping[str, ServiceStatus]):
        self._state: dict[str, ServiceStatus] = dict(statuses)
        self.version = 0  # bumped on every event: readers may cache what they derive from a snapshot
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[ServiceStatus, ServiceStatus], None]] = []
        self._event_listeners: list[Callable[[Event, ServiceStatus, ServiceStatus], None]] = []
        self._change_listeners: list[Callable[[], None]] = []
        self.lifecycle = StackPhase.STARTING  # the supervisor's own: starting, running, stopping, stopped, failed
        self.failure: str | None = None

    @property
    def phase(self) -> StackPhase:
        return stack_phase(self.lifecycle, self._state)

    def set_lifecycle(self, lifecycle: StackPhase, failure: str | None = None) -> None:
        self.lifecycle = lifecycle
        if failure is not None:
            self.failure = failure
        self.version += 1
        self._changed.set()
        self._notify()

    def dispatch(self, event: Event) -> ServiceStatus:
        before = self._state[event.name]
        after = reduce(before, event)
        self._state[event.name] = after
        self.version += 1
        for listener in self._listeners:
            listener(before, after)
        for on_event in self._event_listeners:
            on_event(event, before, after)
        self._changed.set()
        self._notify()
        return after

    def snapshot(self) -> dict[str, ServiceStatus]:
        return dict(self._state)

    def get(self, name: str) -> ServiceStatus:
        return self._state[name]

    def subscribe(self, listener: Callable[[ServiceStatus, ServiceStatus], None]) -> None:
        self._listeners.append(listener)

    def subscribe_events(self, listener: Callable[[Event, ServiceStatus, ServiceStatus], None]) -> None:
        """Every event with the state before and after it (the start-up timings are recorded from these)."""
        self._event_listeners.append(listener)

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change (an event or the lifecycle); returns how to stop.

        Listeners run inside ``dispatch``: they must only take note (the dashboard's event hub sets a
        flag and does its work later), so no reader can slow the runners down."""
        self._change_listeners.append(listener)
        return lambda: self._change_listeners.remove(listener) if listener in self._change_listeners else None

    def _notify(self) -> None:
        for listener in list(self._change_listeners):
            listener()

    async def wait_until(self, predicate: Callable[[dict[str, ServiceStatus]], bool]) -> dict[str, ServiceStatus]:
        while True:
            snapshot = self.snapshot()
            if predicate(snapshot):
                return snapshot
            self._changed.clear()
            await self._changed.wait()
