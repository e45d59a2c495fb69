"""The local engine's curves for bench_curves.py: start-up and /api/status as the stack grows.

Each point is one generated stack under `hippodrome up --detach` in a temporary project, reusing
the single-point benchmarks' generators and methods:
- start-up: bench_local_engine's stack (4 layers, the first service of each layer its slowest) and
  its critical path (per layer, the slowest service's own time to healthy when started alone, summed);
- /api/status: bench_dashboard_events' stack and its p99 measure (no event stream open), /healthz
  driven the same way on the same server, alternately.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

import bench_dashboard_events as dashboard_bench
import bench_local_engine as engine_bench


def _up(doc: dict, root: Path) -> float:
    """`hippodrome up --detach` in ``root``; its wall time."""
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
    started = time.perf_counter()
    up = dashboard_bench.hippodrome(root, "up", "--detach")
    wall = time.perf_counter() - started
    if up.returncode != 0:
        sys.exit(f"up failed ({len(doc['spec']['services'])} services): {up.stdout}{up.stderr}")
    return wall


def startup_point(count: int) -> dict:
    """One stack of ``count`` services: its critical path, the engine's start-up and the CLI's."""
    doc, services = engine_bench.make_stack(count, exit_delay=0.0)
    alone = {s["name"]: engine_bench.time_alone(s) for s in services}
    per_layer = [max(alone[s["name"]] for s in services if s["layer"] == layer) for layer in range(4)]
    critical = sum(per_layer)
    dash = doc["spec"]["dashboard"]["port"]
    with tempfile.TemporaryDirectory(prefix="hd-bench-curves-") as tmp:
        root = Path(tmp)
        try:
            wall = _up(doc, root)
            stack = requests.get(f"http://127.0.0.1:{dash}/api/stack", timeout=10).json()
            status = requests.get(f"http://127.0.0.1:{dash}/api/status", timeout=10).json()
        finally:
            dashboard_bench.hippodrome(root, "control", "shutdown")
    engine = max(s["since"] for s in status.values()) - stack["startedAt"]
    return {"services": count, "critical": critical, "per_layer": per_layer, "engine": engine, "wall": wall}


def status_point(count: int, clients: int, total: int) -> dict:
    """One stack of ``count`` services: /api/status and /healthz p99 (median of 2 alternating runs each)."""
    doc = dashboard_bench.make_stack(count)
    url = f"http://127.0.0.1:{doc['spec']['dashboard']['port']}"
    with tempfile.TemporaryDirectory(prefix="hd-bench-curves-") as tmp:
        root = Path(tmp)
        try:
            _up(doc, root)
            body = requests.get(url + "/api/status", timeout=10).content
            status, healthz, _ = asyncio.run(dashboard_bench.measure(url, 0, clients, total))
        finally:
            dashboard_bench.hippodrome(root, "control", "shutdown")
    return {"services": count, "status_p99": status, "healthz_p99": healthz, "status_bytes": len(body)}
