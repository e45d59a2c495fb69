"""`?telemetry=true`: Marqo's per-request timings, added to the response as `telemetry`.

Why: clients measure where time goes with it (py-marqo's `Client(return_telemetry=True)` adds
`telemetry=True` to every request). Marqo's TelemetryMiddleware times named steps of a request and,
when the query parameter is "true" (any case), adds `{"telemetry": {"timesMs": {...}}}` to a JSON
object response (`counter` too when something was counted; an empty part is left out, so a
request that timed nothing gets `{}`); a key timed twice holds a list. The keys are Marqo's:
`POST /indexes/{name}/search` (also for recommend, as in Marqo), `.../documents`, `.../embed`, and
steps such as `search.vector_inference_full_pipeline` and `search.lexical.vespa` (here "vespa" is
the SQLite/in-memory index, timed at the same point of the work).

A request without the parameter gets `NO_TIMINGS`, whose `time()` does nothing, so the hot paths
pay one attribute lookup.
"""

from __future__ import annotations

import time
from typing import Any

PARAMETER = "telemetry"


class _Span:
    __slots__ = ("timings", "key", "start")

    def __init__(self, timings: "Timings", key: str) -> None:
        self.timings, self.key = timings, key

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timings.add(self.key, (time.perf_counter() - self.start) * 1000)


class _NoSpan:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NO_SPAN = _NoSpan()


class Timings:
    def __init__(self) -> None:
        self.times: dict[str, float | list[float]] = {}
        self.counter: dict[str, int] = {}

    def time(self, key: str) -> _Span:
        return _Span(self, key)

    def add(self, key: str, ms: float) -> None:
        previous = self.times.get(key)
        if previous is None:
            self.times[key] = ms
        elif isinstance(previous, list):
            previous.append(ms)
        else:
            self.times[key] = [previous, ms]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.counter:
            out["counter"] = dict(self.counter)
        if self.times:
            out["timesMs"] = dict(self.times)
        return out


class _NoTimings(Timings):
    def time(self, key: str) -> _NoSpan:  # type: ignore[override]
        return _NO_SPAN

    def add(self, key: str, ms: float) -> None:
        return None


NO_TIMINGS = _NoTimings()


def requested(query: Any) -> bool:
    """Marqo: `request.query_params.get("telemetry", "false").lower() == "true"`."""
    value = query.get(PARAMETER)
    return value is not None and value.lower() == "true"
