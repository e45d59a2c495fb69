"""The local engine's curves for bench_curves.py: start-up and /api/status as the stack grows.

Each point is one generated stack under `hippodrome up --detach` in a temporary project, reusing
the single-point benchmarks' generators and methods:
- start-up: bench_local_engine's stack (4 layers, the first service of each layer its slowest) and
  its critical path (per layer, the slowest service's own time to healthy when started alone, summed);
- /api/status: bench_dashboard_events' stack and its p99 measure (no event stream open), /healthz
  driven the same way on the same server, alternately.
`up --detach` is bounded in time (60 s + 2 s per service); a stack that fails or hangs is reported
with the services that were not running, and shut down.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

import bench_dashboard_events as dashboard_bench
import bench_local_engine as engine_bench


class UpFailed(Exception):
    """`up --detach` failed or did not return in time; the message names the services not running."""


def hippodrome(root: Path, *args: str, fork_server: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """The CLI in ``root``, with none of this shell's HIPPODROME_* settings (HIPPODROME_FORK_SERVER=0
    when ``fork_server`` is off: every service spawned plainly)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")}
    if not fork_server:
        env["HIPPODROME_FORK_SERVER"] = "0"
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli.main", *args], cwd=root, capture_output=True,
                          text=True, env=env, timeout=timeout)


def _up(doc: dict, root: Path, fork_server: bool, timeout: float) -> float:
    """`hippodrome up --detach` in ``root``, bounded by ``timeout``; its wall time."""
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
    started = time.perf_counter()
    try:
        up = hippodrome(root, "up", "--detach", fork_server=fork_server, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UpFailed(f"`up --detach` did not return in {timeout:g} s; not running: {_not_running(doc)}") from None
    wall = time.perf_counter() - started
    if up.returncode != 0:
        raise UpFailed(f"`up --detach` failed: {(up.stdout + up.stderr).strip()[-300:]}")
    return wall


def _not_running(doc: dict) -> str:
    try:
        status = requests.get(f"http://127.0.0.1:{doc['spec']['dashboard']['port']}/api/status", timeout=10).json()
    except requests.RequestException as e:
        return f"(no answer from the dashboard: {e})"
    stuck = [f"{name} {s['status']}" + ("" if s.get("pid") else " (no pid)")
             for name, s in sorted(status.items()) if not (s["status"] == "running" and s["ready"])]
    return ", ".join(stuck) or "(none)"


def _up_timeout(count: int) -> float:
    return 60.0 + 2.0 * count


def startup_point(count: int, fork_server: bool = True) -> dict:
    """One stack of ``count`` services: its critical path, the engine's start-up and the CLI's
    (or, when `up` fails or hangs, ``failed``: what was not running)."""
    doc, services = engine_bench.make_stack(count, exit_delay=0.0)
    alone = {s["name"]: engine_bench.time_alone(s) for s in services}
    per_layer = [max(alone[s["name"]] for s in services if s["layer"] == layer) for layer in range(4)]
    point = {"services": count, "critical": sum(per_layer), "per_layer": per_layer}
    dash = doc["spec"]["dashboard"]["port"]
    with tempfile.TemporaryDirectory(prefix="hd-bench-curves-") as tmp:
        root = Path(tmp)
        try:
            point["wall"] = _up(doc, root, fork_server, _up_timeout(count))
            stack = requests.get(f"http://127.0.0.1:{dash}/api/stack", timeout=10).json()
            status = requests.get(f"http://127.0.0.1:{dash}/api/status", timeout=10).json()
            point["engine"] = max(s["since"] for s in status.values()) - stack["startedAt"]
        except UpFailed as e:
            point["failed"] = str(e)
        finally:
            hippodrome(root, "control", "shutdown", timeout=120)
    return point


def status_point(count: int, clients: int, total: int, fork_server: bool = True) -> dict:
    """One stack of ``count`` services: /api/status and /healthz p99 (median of 2 alternating runs each)."""
    doc = dashboard_bench.make_stack(count)
    url = f"http://127.0.0.1:{doc['spec']['dashboard']['port']}"
    point = {"services": count}
    with tempfile.TemporaryDirectory(prefix="hd-bench-curves-") as tmp:
        root = Path(tmp)
        try:
            _up(doc, root, fork_server, _up_timeout(count))
            point["status_bytes"] = len(requests.get(url + "/api/status", timeout=10).content)
            point["status_p99"], point["healthz_p99"], _ = asyncio.run(dashboard_bench.measure(url, 0, clients, total))
        except UpFailed as e:
            point["failed"] = str(e)
        finally:
            hippodrome(root, "control", "shutdown", timeout=120)
    return point
