"""``hippodrome status --watch`` and ``--timeline``: the dashboard's data in the terminal.

Why rich: a live table that redraws in place, with colours that degrade to plain text when the
output is not a terminal, is what rich's ``Live`` and ``Table`` do well; hand-drawn escape codes
would be ours to get wrong on every terminal. The view is pure (``render`` and ``timeline_text``
take the `/api/status` and `/api/stack` data and return what to print); ``watch`` only keeps that
data current from the dashboard's event stream (``/api/events``) and redraws.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hippodrome_k8s.cli.format import uptime

TONE_STYLES = {"ok": "green", "warn": "yellow", "bad": "bold red", "off": "dim"}
PHASE_TONES = {"running": "ok", "Ready": "ok", "degraded": "bad", "Degraded": "bad", "failed": "bad", "Failed": "bad",
               "stopped": "off"}


def render(status: Mapping[str, Mapping[str, Any]], stack: Mapping[str, Any], *, connected: bool = True) -> Group:
    """The watch view: the stack's line (phase in its colour) and one row per service, by layer."""
    phase = str(stack.get("phase") or "")
    head = Text.assemble(
        (f"{stack.get('name', '?')} ", "bold"), f"{stack.get('engine', '')} · ",
        (phase, TONE_STYLES[PHASE_TONES.get(phase, "warn")]),
        f" · {stack.get('ready', '?')}/{stack.get('services', '?')} ready"
        + "".join(f" · {key} {stack[key]}" for key in ("profile", "cell") if stack.get(key)),
        ("" if connected else "  (reconnecting…)", "yellow"))
    health = stack.get("health") or {}
    table = Table(expand=False, pad_edge=False, box=None, header_style="bold")
    for column in ("LAYER", "SERVICE", "STATUS", "PORT", "RESTARTS", "UPTIME", "HEALTH / MESSAGE"):
        table.add_column(column, no_wrap=column != "HEALTH / MESSAGE")
    for name, s in sorted(status.items(), key=lambda kv: (kv[1].get("layer", 0), kv[0])):
        h = health.get(name) or {}
        tone = h.get("tone") or ("ok" if s.get("status") == "running" and s.get("ready") else "warn")
        notes = Text(s.get("message") or "", style="dim")
        for flag in h.get("flags") or []:
            notes.append(("\n" if notes else "") + f"⚠ {flag}", style="yellow")
        table.add_row(str(s.get("layer", "")), name + ("" if s.get("blocking", True) else " (non-blocking)"),
                      Text(h.get("label") or str(s.get("status")), style=TONE_STYLES.get(tone, "")),
                      str(s.get("port", "")), str(s.get("restarts", 0)), uptime(s.get("uptime")), notes)
    return Group(head, table)


def timeline_text(timings: Mapping[str, Any] | None, width: int = 40) -> str:
    """The last `up` as a text waterfall (one bar per service, ``*`` on the critical path), then one
    line per later round (restarts, reloads, crash respawns)."""
    rounds = (timings or {}).get("rounds") or []
    if not rounds:
        return "no start-up recorded (this engine records none, or the stack has not started a service yet)"
    up = next((r for r in rounds if r["id"] == timings.get("lastUp")), rounds[-1])  # type: ignore[union-attr]
    f = up["figures"]
    when = time.strftime("%H:%M:%S", time.localtime(up["startedAt"]))
    lines = [f"{up['kind']} #{up['id']} at {when}: " + (
        f"total {_s(f['total'])} · critical path {_s(f['criticalPath'])} ({' → '.join(up['criticalPath'])}) · "
        f"overhead {_s(f['overhead'])}" if f["total"] is not None else f"in progress ({_s(f['criticalPath'])} so far)")]
    end = max([f["total"] or 0.0] + [s["healthy"] or s["spawn"] or 0.0 for s in up["services"]]) or 1.0
    name_width = max(len(s["name"]) for s in up["services"])
    lines.append(f"{'LAYER':<6}{'SERVICE':<{name_width + 2}}{'SPAWN':>8}{'HEALTHY':>9}{'TIME':>9}   ")
    for s in up["services"]:
        start, stop = s["spawn"] or 0.0, s["healthy"] if s["healthy"] is not None else (s["spawn"] or 0.0)
        left, length = round(start / end * width), max(1, round((stop - start) / end * width))
        bar = (" " * left + ("█" if s["critical"] else "▒") * length)[:width].ljust(width)
        took = _s(s["seconds"]) if s["outcome"] == "healthy" else s["outcome"]
        lines.append(f"{s['layer']:<6}{s['name']:<{name_width + 2}}{_plus(s['spawn']):>8}{_plus(s['healthy']):>9}"
                     f"{took:>9} {'*' if s['critical'] else ' '} |{bar}|")
    lines.append("* on the critical path (█); spawn and healthy are seconds after the request")
    later = [r for r in rounds if r["id"] > up["id"]]
    if later:
        lines.append("since then:")
        for r in later:
            names = ", ".join(f"{s['name']} {_s(s['seconds']) if s['outcome'] == 'healthy' else s['outcome']}"
                              for s in r["services"])
            lines.append(f"  {r['kind']} #{r['id']} at {time.strftime('%H:%M:%S', time.localtime(r['startedAt']))}: {names}")
    return "\n".join(lines)


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def _plus(seconds: float | None) -> str:
    return "-" if seconds is None else f"+{seconds:.2f}"


# --- keeping the data current ----------------------------------------------------------------------


def sse_events(response: requests.Response) -> Iterator[tuple[str, Any]]:
    kind = "message"
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw.startswith("event: "):
            kind = raw[7:]
        elif raw.startswith("data: "):
            yield kind, json.loads(raw[6:])


class Model:
    """The status and stack the stream has told of so far (the page's state, in Python)."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.stack: dict[str, Any] = {}
        self.received: dict[str, float] = {}  # when each entry came: its uptime counts on from there
        self.connected = False
        self.changed = threading.Event()

    def apply(self, kind: str, data: Any, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if kind == "snapshot":
            self.status, self.stack = dict(data["status"]), dict(data["stack"])
            self.received = dict.fromkeys(self.status, now)
        elif kind == "status":
            self.status.update(data["changed"])
            self.received.update(dict.fromkeys(data["changed"], now))
            for name in data["removed"]:
                self.status.pop(name, None)
        elif kind == "stack":
            self.stack.update(data)
        self.changed.set()

    def current_status(self, now: float | None = None) -> dict[str, Any]:
        """The entries with their uptimes counted on to ``now`` (the stream sends uptime only on a change)."""
        now = time.monotonic() if now is None else now
        return {name: {**s, "uptime": s["uptime"] + now - self.received.get(name, now)} if s.get("uptime") is not None
                else s for name, s in self.status.items()}


def follow(url: str, model: Model, stop: threading.Event) -> None:
    """Read the dashboard's event stream into ``model``; reconnect (with a new snapshot) when it drops."""
    with requests.Session() as session:
        while not stop.is_set():
            try:
                with session.get(url + "/api/events", stream=True, timeout=(5, 30)) as response:
                    response.raise_for_status()
                    model.connected = True
                    for kind, data in sse_events(response):
                        model.apply(kind, data)
                        if stop.is_set():
                            return
            except (requests.RequestException, ValueError):
                pass
            model.connected = False
            model.changed.set()
            stop.wait(1.0)


def watch(url: str, console: Console | None = None) -> None:
    """Redraw on every change, and every second for the uptimes, until Ctrl-C."""
    model, stop = Model(), threading.Event()
    reader = threading.Thread(target=follow, args=(url, model, stop), daemon=True, name="hippodrome-watch")
    reader.start()
    console = console or Console()
    try:
        with Live(render({}, {"name": "connecting…"}), console=console, auto_refresh=False, screen=False) as live:
            while True:
                model.changed.wait(1.0)
                model.changed.clear()
                live.update(render(model.current_status(), model.stack, connected=model.connected), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
