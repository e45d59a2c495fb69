"""What the event stream sends: a view of the stack, and the messages that turn one view into the
next. Pure: the hub (``events.py``) does the I/O.

Why diffs and not snapshots every second: the page must change only what changed, so that nothing
a person is reading (or has selected) moves; and a quiet stack should cost nothing to watch. A view
is ``/api/status`` and ``/api/stack`` at one moment. Values that move with the clock alone
(``uptime``, ``fetchedAt``) do not make a change: the page counts uptime itself from the last value.

Messages (``event: <kind>``, ``data: <JSON>``):

- ``snapshot``: ``{"status": {...}, "stack": {...}}``, the whole view, first on every stream;
- ``status``: ``{"changed": {name: entry}, "removed": [name]}``, whole `/api/status` entries;
- ``stack``: ``{key: value}``, the top-level `/api/stack` keys whose value changed;
- ``log``: ``{"lines": [{"seq", "at", "service", "text"}]}``, new log lines, in order;
- ``reset``: the stream fell too far behind and is closed; reconnect for a new snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VOLATILE_STATUS = frozenset({"uptime"})
VOLATILE_STACK = frozenset({"uptime", "fetchedAt"})


@dataclass(frozen=True)
class View:
    status: Mapping[str, Mapping[str, Any]]
    stack: Mapping[str, Any]


def _steady(entry: Mapping[str, Any] | None, volatile: frozenset[str]) -> dict[str, Any] | None:
    return None if entry is None else {k: v for k, v in entry.items() if k not in volatile}


def diff(old: View | None, new: View) -> list[tuple[str, dict[str, Any]]]:
    """The messages that bring a client holding ``old`` to ``new`` (a snapshot when it holds nothing)."""
    if old is None:
        return [("snapshot", {"status": dict(new.status), "stack": dict(new.stack)})]
    messages: list[tuple[str, dict[str, Any]]] = []
    changed = {name: dict(entry) for name, entry in new.status.items()
               if _steady(old.status.get(name), VOLATILE_STATUS) != _steady(entry, VOLATILE_STATUS)}
    removed = sorted(name for name in old.status if name not in new.status)
    if changed or removed:
        messages.append(("status", {"changed": changed, "removed": removed}))
    stack = {key: value for key, value in new.stack.items()
             if key not in VOLATILE_STACK and old.stack.get(key, _ABSENT) != value}
    if stack:
        messages.append(("stack", stack))
    return messages


_ABSENT = object()


def sse(kind: str, data: Any) -> bytes:
    """One Server-Sent Event; JSON keeps the data on one line, as the format needs."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"
