"""What one glance at a service should tell: a tone (colour), a label (the words beside it) and the
dependencies that are down. Pure, shared by both engines' dashboards and `hippodrome status`.

Why not just the state: "stopped" means something else for a blocking service the stack needs
(red: the stack is degraded) than for a non-blocking one (grey); a service that crashed and waits
to be respawned is "starting" in the contract but is a failure to a person; and a running service
whose dependency is down is not fine. Colours always come with words (the label), never alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.core.dependencies import Flag, dependents, flags

OK, WARN, BAD, OFF = "ok", "warn", "bad", "off"


def label_and_tone(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The words and the colour for one `/api/status` entry, before its dependencies are considered."""
    state = ServiceState(entry.get("status", "pending"))
    ready, blocking, code = bool(entry.get("ready")), entry.get("blocking", True), entry.get("exitCode")
    if state is ServiceState.running:
        return ("running", OK) if ready else ("running, not ready", WARN)
    if state is ServiceState.starting and code is not None:
        return f"restarting (exit {code})", BAD
    if state is ServiceState.stopped:
        return "stopped by user", BAD if blocking else OFF
    if state is ServiceState.failed:
        return "failed", BAD
    if state is ServiceState.disabled:
        return "disabled", OFF
    return state.value, WARN  # pending, starting, stopping


def service_health(entry: Mapping[str, Any], down: Sequence[Flag]) -> dict[str, Any]:
    label, tone = label_and_tone(entry)
    if down and tone == OK:
        tone = WARN
    return {"tone": tone, "label": label, "flags": [f.text for f in down]}


def stack_health(statuses: Mapping[str, Mapping[str, Any]], deps: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Per service: tone, label, flags ("depends on X (stopped)"), ``dependsOn`` and ``neededBy``."""
    down = flags(deps, statuses)
    return {name: {**service_health(entry, down.get(name, [])), "dependsOn": list(deps.get(name, ())),
                   "neededBy": dependents(deps, name)}
            for name, entry in statuses.items()}
