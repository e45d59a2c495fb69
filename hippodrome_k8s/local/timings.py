"""Records the start-up timings (``core.timeline``) from the store's events.

Why a recorder and not the runners: the timings must be what the store saw (the same events
that made the dashboard's states), and nothing else should need to remember to report them. The
supervisor only says when a round begins (`up`, a control start/restart, a reload); respawns after
a crash open their own round from the events alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hippodrome_k8s.core import timeline
from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.local.states import ServiceStatus
from hippodrome_k8s.local.store import Event, Failed, Healthy, Spawned, Stopped, StopRequested, Store


class TimingRecorder:
    def __init__(self, store: Store):
        self._store = store
        self.timeline = timeline.Timeline({n: (s.layer, s.blocking) for n, s in store.snapshot().items()})
        self._json: tuple[timeline.Timeline, dict[str, Any]] | None = None
        store.subscribe_events(self._on_event)

    def begin(self, kind: str, names: Sequence[str], at: float) -> None:
        """A round starts: ``kind`` is "up", "start", "restart" or "reload"."""
        self.timeline = timeline.begin(self.timeline, kind, names, at)

    def _on_event(self, event: Event, before: ServiceStatus, after: ServiceStatus) -> None:
        tl = self.timeline
        if isinstance(event, Spawned):
            tl = timeline.spawned(tl, event.name, event.at)
        elif isinstance(event, Healthy) and before.status != ServiceState.running:
            tl = timeline.healthy(tl, event.name, event.at)
        elif isinstance(event, Failed) or after.status == ServiceState.failed:
            tl = timeline.ended(tl, event.name, "failed")
        elif isinstance(event, (StopRequested, Stopped)):
            tl = timeline.ended(tl, event.name, "stopped")
        self.timeline = tl

    def to_json(self) -> dict[str, Any]:
        """``/api/stack`` ``timings`` (cached until the next change: the timeline is immutable)."""
        if self._json is None or self._json[0] is not self.timeline:
            self._json = (self.timeline, timeline.timeline_json(self.timeline))
        return self._json[1]
