"""Pure text formatting for the CLI: tables and env lines."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any


def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def status_table(status: Mapping[str, Mapping[str, Any]]) -> str:
    header = ("LAYER", "SERVICE", "STATUS", "READY", "PORT", "RESTARTS", "UPTIME", "PID", "MESSAGE")
    rows = [header]
    for name, s in sorted(status.items(), key=lambda kv: (kv[1].get("layer", 0), kv[0])):
        rows.append((
            str(s.get("layer", "")), name, str(s.get("status", "?")), "yes" if s.get("ready") else "no",
            str(s.get("port", "")), str(s.get("restarts", 0)), uptime(s.get("uptime")),
            str(s.get("pid") or "-"), (s.get("message") or "")[:60],
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows
    ).rstrip()


def health_lines(health: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per service whose dependencies are down ("api: depends on fake_cell (stopped)")."""
    return [f"{name}: {flag}" for name, h in health.items() for flag in h.get("flags") or []]


def stack_line(stack: Mapping[str, Any]) -> str:
    return (f"{stack.get('name')}: {stack.get('phase')} · {stack.get('ready')}/{stack.get('services')} ready · "
            f"profile {stack.get('profile')} · cell {stack.get('cell')} · tables {stack.get('tablePrefix')}* · "
            f"seed {stack.get('seed')} · logs {stack.get('logDir')}")


def env_lines(env: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={_quote(v)}" for k, v in sorted(env.items()))


def _quote(value: str) -> str:
    return value if value and all(c.isalnum() or c in "-_./:@%+=," for c in value) else shlex.quote(value)
