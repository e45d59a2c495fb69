"""`hippodrome status --timeline` and `--watch`: the pure views, then the real CLI on a fixture stack
(`hippodrome up --detach` on free ports; --watch in a pseudo-terminal, as a person runs it)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from hd_testing import free_ports, stack_doc, svc
from hippodrome_k8s.cli.watch import Model, render, timeline_text

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")}

TIMINGS = {"lastUp": 1, "rounds": [
    {"id": 1, "kind": "up", "startedAt": 0.0, "criticalPath": ["db", "api"],
     "figures": {"total": 2.0, "criticalPath": 1.9, "overhead": 0.1},
     "services": [
         {"name": "db", "layer": 0, "blocking": True, "spawn": 0.05, "healthy": 1.0, "seconds": 0.95, "spawns": 1,
          "outcome": "healthy", "critical": True},
         {"name": "cache", "layer": 0, "blocking": True, "spawn": 0.05, "healthy": 0.5, "seconds": 0.45, "spawns": 1,
          "outcome": "healthy", "critical": False},
         {"name": "api", "layer": 1, "blocking": True, "spawn": 1.05, "healthy": 2.0, "seconds": 0.95, "spawns": 1,
          "outcome": "healthy", "critical": True}]},
    {"id": 2, "kind": "restart", "startedAt": 10.0, "criticalPath": [], "figures": {"total": None, "criticalPath": 0.0,
     "overhead": None}, "services": [{"name": "api", "layer": 1, "blocking": True, "spawn": 0.1, "healthy": None,
                                      "seconds": None, "spawns": 1, "outcome": "failed", "critical": False}]},
]}


def test_the_timeline_as_text():
    text = timeline_text(TIMINGS, width=20)
    lines = text.splitlines()
    assert "total 2.00 s · critical path 1.90 s (db → api) · overhead 0.10 s" in lines[0]
    db, cache, api = (next(line for line in lines if line.split()[1:2] == [name]) for name in ("db", "cache", "api"))
    assert "0.95 s *" in db and "|" + "█" * 10 in db        # from 0 to half the width, on the path
    assert "0.45 s  " in cache and "▒" in cache and "█" not in cache
    assert api.endswith("|" + " " * 10 + "█" * 10 + "|")    # the second half
    assert lines[-1].strip().startswith("restart #2") and "api failed" in lines[-1]
    assert timeline_text(None).startswith("no start-up recorded")


def _text(renderable) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_watch_view_says_who_is_down_and_who_is_flagged():
    status = {"cell": {"status": "stopped", "ready": False, "layer": 0, "port": 1, "restarts": 0, "uptime": None,
                       "message": "stopped", "blocking": True},
              "api": {"status": "running", "ready": True, "layer": 1, "port": 2, "restarts": 1, "uptime": 75.0,
                      "message": "", "blocking": True}}
    stack = {"name": "dev", "engine": "local", "phase": "degraded", "ready": 1, "services": 2,
             "health": {"cell": {"tone": "bad", "label": "stopped by user", "flags": []},
                        "api": {"tone": "warn", "label": "running", "flags": ["depends on cell (stopped)"]}}}
    text = _text(render(status, stack))
    assert "dev local · degraded · 1/2 ready" in text
    cell_line = next(line for line in text.splitlines() if line.startswith("0 "))
    assert "stopped by user" in cell_line
    api_line = next(line for line in text.splitlines() if line.startswith("1 "))
    assert "1m15s" in api_line and "⚠ depends on cell (stopped)" in text
    assert "(reconnecting…)" in _text(render(status, stack, connected=False))


def test_the_watch_model_applies_the_stream_and_counts_uptime_on():
    model = Model()
    model.apply("snapshot", {"status": {"a": {"status": "running", "uptime": 5.0}}, "stack": {"phase": "running"}}, now=100.0)
    model.apply("stack", {"phase": "degraded"}, now=101.0)
    model.apply("status", {"changed": {"b": {"status": "pending", "uptime": None}}, "removed": []}, now=102.0)
    assert model.current_status(now=110.0) == {"a": {"status": "running", "uptime": 15.0},
                                               "b": {"status": "pending", "uptime": None}}
    assert model.stack == {"phase": "degraded"}
    model.apply("status", {"changed": {}, "removed": ["a"]})
    assert list(model.status) == ["b"]


# --- the real CLI ----------------------------------------------------------------------------------


def hippodrome(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=CLEAN_ENV)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    dash, cell, api = free_ports(3)
    root = tmp_path_factory.mktemp("status")
    doc = stack_doc([{"name": "fake_cell", "port": cell, "layer": 0, "run": {"command": svc("--delay", "0.3")}},
                     {"name": "api", "port": api, "layer": 1, "env": {"CELL": "${services.fake_cell.url}"},
                      "run": {"command": svc()}}], dash)
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    up = hippodrome("up", "--detach", cwd=root)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield root
    finally:
        hippodrome("control", "shutdown", cwd=root)


def test_status_timeline_shows_the_last_up(stack):
    out = hippodrome("status", "--timeline", cwd=stack)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("up #1 at ") and "(fake_cell → api)" in out.stdout
    assert all(any(line.split()[1:2] == [name] for line in out.stdout.splitlines()) for name in ("fake_cell", "api"))
    assert hippodrome("status", "--timeline", "--json", cwd=stack).returncode == 2


def test_status_watch_redraws_live_in_a_terminal(stack):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli", "status", "--watch"], cwd=stack,
                            stdin=follower, stdout=follower, stderr=follower, env={**CLEAN_ENV, "COLUMNS": "120"},
                            start_new_session=True)
    os.close(follower)
    seen = b""

    def read_until(needle: bytes, timeout: float = 20.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        assert needle in seen, seen[-2000:]

    try:
        read_until(b"running")
        stopped = hippodrome("control", "stop", "fake_cell", cwd=stack)
        assert stopped.returncode == 0, stopped.stderr
        read_until(b"depends on fake_cell (stopped)")
        read_until(b"degraded")
        assert b"\x1b[" in seen  # drawn in place by rich on a terminal
        assert hippodrome("control", "start", "fake_cell", cwd=stack).returncode == 0
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(leader)
    out = hippodrome("status", cwd=stack)
    assert out.returncode == 0 and "fake_cell" in out.stdout


def test_status_names_the_flags_of_a_stopped_dependency(stack):
    assert hippodrome("control", "stop", "fake_cell", cwd=stack).returncode == 0
    try:
        out = hippodrome("status", cwd=stack)
        assert "api: depends on fake_cell (stopped)" in out.stdout and "degraded" in out.stdout.splitlines()[0]
        data = json.loads(hippodrome("status", "--json", cwd=stack).stdout)
        assert data["fake_cell"]["status"] == "stopped"  # the contract's values are unchanged
    finally:
        assert hippodrome("control", "start", "fake_cell", cwd=stack).returncode == 0
