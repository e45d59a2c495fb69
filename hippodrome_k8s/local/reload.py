"""Hot reload: watch a service's paths and yield when something changed (debounced)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

DEBOUNCE_MS = 300


async def watch_for_changes(paths: tuple[str, ...] | list[str]) -> AsyncIterator[str]:
    existing = [p for p in paths if Path(p).exists()]
    if not existing:
        return
    async for changes in awatch(*existing, debounce=DEBOUNCE_MS, watch_filter=DefaultFilter(), recursive=True):
        changed = sorted({Path(path).name for kind, path in changes if kind in (Change.added, Change.modified, Change.deleted)})
        if changed:
            yield ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
