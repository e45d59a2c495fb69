"""Start-up timings: for each `up` (and each restart), when every service was spawned and when it
turned healthy, and which of them made the whole start as long as it was (the critical path).

Why: "the stack takes 40 s to start" is not actionable; "controller waited 30 s on moto, which
spent 28 s of them on its bootstrap" is. The dashboard's waterfall, `/api/stack`'s ``timings`` and
`hippodrome status --timeline` all show these records. Everything here is pure: the local engine
feeds its store's events in (``local/timings.py``) and readers get frozen values out.

A *round* is one request to start services: the `up` (every service), a control start or restart
(of one service or of all), a reload, or an automatic respawn after a crash (a round of one,
opened by the respawn itself). Within a round, each service has one ``Attempt``: its first spawn,
the moment it first answered its health check, how many spawns it took, and how it ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ROUNDS = 30  # kept besides the last `up`, which is never dropped


@dataclass(frozen=True)
class Attempt:
    service: str
    layer: int
    blocking: bool
    spawned: float | None = None  # the first spawn in this round
    healthy: float | None = None  # the first healthy probe after it
    spawns: int = 0
    outcome: str = ""  # "" while in progress, then "healthy", "failed" or "stopped"

    @property
    def open(self) -> bool:
        return self.outcome == ""

    @property
    def seconds(self) -> float | None:
        return None if self.spawned is None or self.healthy is None else self.healthy - self.spawned


@dataclass(frozen=True)
class Round:
    id: int
    kind: str  # "up", "start", "restart", "reload" or "crash"
    started: float
    attempts: Mapping[str, Attempt]


@dataclass(frozen=True)
class Timeline:
    services: Mapping[str, tuple[int, bool]]  # name -> (layer, blocking)
    rounds: tuple[Round, ...] = ()
    next_id: int = 1


@dataclass(frozen=True)
class Timings:
    """What a round's figures are: its whole duration and the part the critical path explains."""

    total: float | None  # from the request to the last blocking service healthy (None: not finished)
    critical: float  # the sum of the critical path's own spawn-to-healthy times
    path: tuple[str, ...] = field(default_factory=tuple)

    @property
    def overhead(self) -> float | None:
        """Time not explained by the services themselves: gating, probe periods, spawning."""
        return None if self.total is None else max(0.0, self.total - self.critical)


# --- recording (pure: each returns a new Timeline) ---------------------------------------------


def begin(tl: Timeline, kind: str, names: Sequence[str], at: float) -> Timeline:
    attempts = {n: Attempt(n, *tl.services[n]) for n in names if n in tl.services}
    return _keep(dataclasses.replace(tl, rounds=tl.rounds + (Round(tl.next_id, kind, at, attempts),),
                                     next_id=tl.next_id + 1))


def spawned(tl: Timeline, name: str, at: float) -> Timeline:
    """A process of ``name`` started: the first spawn of its open attempt, or a respawn in it; with
    no open attempt (it had become healthy, or was never asked for), an automatic respawn opens a
    round of its own."""
    index = _open_round(tl, name)
    if index is None:
        tl = begin(tl, "crash", [name], at)
        index = len(tl.rounds) - 1
    attempt = tl.rounds[index].attempts[name]
    return _put(tl, index, dataclasses.replace(attempt, spawned=attempt.spawned if attempt.spawned is not None else at,
                                               spawns=attempt.spawns + 1))


def healthy(tl: Timeline, name: str, at: float) -> Timeline:
    index = _open_round(tl, name)
    if index is None:
        return tl  # healthy again after a failed probe: not a start
    return _put(tl, index, dataclasses.replace(tl.rounds[index].attempts[name], healthy=at, outcome="healthy"))


def ended(tl: Timeline, name: str, outcome: str) -> Timeline:
    """The attempt ended without becoming healthy: it gave up ("failed") or was stopped ("stopped")."""
    index = _open_round(tl, name)
    if index is None:
        return tl
    return _put(tl, index, dataclasses.replace(tl.rounds[index].attempts[name], outcome=outcome))


def _open_round(tl: Timeline, name: str) -> int | None:
    for i in range(len(tl.rounds) - 1, -1, -1):
        attempt = tl.rounds[i].attempts.get(name)
        if attempt is not None:
            return i if attempt.open else None
    return None


def _put(tl: Timeline, index: int, attempt: Attempt) -> Timeline:
    r = tl.rounds[index]
    rounds = list(tl.rounds)
    rounds[index] = dataclasses.replace(r, attempts={**r.attempts, attempt.service: attempt})
    return dataclasses.replace(tl, rounds=tuple(rounds))


def _keep(tl: Timeline) -> Timeline:
    """At most MAX_ROUNDS rounds besides the last `up` (an old round still open is closed by age)."""
    if len(tl.rounds) <= MAX_ROUNDS + 1:
        return tl
    last_up = next((r for r in reversed(tl.rounds) if r.kind == "up"), None)
    recent = [r for r in tl.rounds if r is not last_up][-MAX_ROUNDS:]
    kept = sorted(recent + ([last_up] if last_up is not None else []), key=lambda r: r.id)
    return dataclasses.replace(tl, rounds=tuple(kept))


# --- reading -----------------------------------------------------------------------------------


def critical_path(r: Round) -> Timings:
    """The chain of services that decided how long the round took.

    It ends at the blocking service that turned healthy last (any service, if none is blocking).
    Each service on it waited, before its spawn, for the gate of its layer: the blocking service of
    a lower layer that turned healthy last before that spawn; that one is the previous link. The
    chain stops at a service whose spawn waited for nobody. Attempts that never turned healthy
    take no part (a failed start has no path beyond what did finish).
    """
    done = [a for a in r.attempts.values() if a.seconds is not None]
    ends = [a for a in done if a.blocking] or done
    if not ends:
        return Timings(None, 0.0)
    last = max(ends, key=lambda a: (a.healthy, a.layer))
    path = [last]
    while True:
        cur = path[-1]
        gates = [a for a in done if a.blocking and a.layer < cur.layer and a.healthy <= cur.spawned]  # type: ignore[operator]
        if not gates:
            break
        path.append(max(gates, key=lambda a: (a.healthy, a.layer)))
    path.reverse()
    unfinished = any(a.blocking and a.healthy is None for a in r.attempts.values())
    total = None if unfinished else last.healthy - r.started  # type: ignore[operator]
    return Timings(total, sum(a.seconds for a in path), tuple(a.service for a in path))  # type: ignore[misc]


def last_up(tl: Timeline) -> Round | None:
    return next((r for r in reversed(tl.rounds) if r.kind == "up"), None)


def round_json(r: Round) -> dict[str, Any]:
    """One round as `/api/stack` ``timings.rounds[]`` shows it; offsets are seconds from the request."""
    t = critical_path(r)
    on_path = set(t.path)

    def offset(at: float | None) -> float | None:
        return None if at is None else round(at - r.started, 3)

    services = [{"name": a.service, "layer": a.layer, "blocking": a.blocking, "spawn": offset(a.spawned),
                 "healthy": offset(a.healthy), "seconds": None if a.seconds is None else round(a.seconds, 3),
                 "spawns": a.spawns, "outcome": a.outcome or "starting", "critical": a.service in on_path}
                for a in sorted(r.attempts.values(), key=lambda a: (a.layer, a.spawned or 0.0, a.service))]
    return {"id": r.id, "kind": r.kind, "startedAt": r.started, "services": services,
            "criticalPath": list(t.path),
            "figures": {"total": _r(t.total), "criticalPath": _r(t.critical), "overhead": _r(t.overhead)}}


def timeline_json(tl: Timeline) -> dict[str, Any]:
    """``/api/stack`` ``timings``: every kept round (newest last) and the id of the last `up`."""
    up = last_up(tl)
    return {"lastUp": up.id if up else None, "rounds": [round_json(r) for r in tl.rounds]}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
