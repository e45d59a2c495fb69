"""Benchmarks of the local engine, printed as ratios measured side by side in one run.

    python3 bench/bench_local_engine.py [--services 15] [--idle 30]

1. start-up: `hippodrome up --detach` to all-running ÷ the stack's critical path (per layer, the
   slowest service's own time to healthy when started alone, summed).            target <= 1.10
2. /api/status p99 under 200 concurrent requests ÷ /healthz p99 on the same server.  target <= 2
3. the supervisor's own CPU while the services idle for --idle seconds.     target <= 1% of a core
4. shutdown when services honour SIGTERM ÷ the slowest service's own exit time (reported).

The stack is generated: --services tiny HTTP services (tests/fixtures/svc.py) in 4 layers with
different start delays, on free ports outside 9000-9019, in a temporary project root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
import requests
import yaml

from hippodrome_k8s.host.ports import free_ports

REPO = Path(__file__).resolve().parent.parent
SVC = REPO / "tests" / "fixtures" / "svc.py"
DELAYS = [0.2, 0.5, 0.8, 1.2]  # per layer: the slowest service of each layer waits this long


def make_stack(count: int, exit_delay: float) -> tuple[dict, list[dict]]:
    ports = free_ports(count + 1)  # distinct: ports chosen one by one can repeat
    services = []
    for i in range(count):
        layer = i % 4
        delay = DELAYS[layer] * (1.0 if i < 4 else 0.5)  # the first service of each layer is its slowest
        args = ["--delay", str(delay)] + (["--exit-delay", str(exit_delay)] if i == 0 else [])
        services.append({"name": f"svc{i:02d}", "port": ports[i + 1], "layer": layer, "allowPortOutsideRange": True,
                         "run": {"command": [sys.executable, str(SVC), *args]}})
    doc = {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "bench"},
           "spec": {"seed": "1", "tablePrefix": "b-", "dashboard": {"port": ports[0], "allowPortOutsideRange": True},
                    "services": services}}
    return doc, services


def time_alone(service: dict) -> float:
    """One service's own time from spawn to its first 200 on /healthz, polled every 5 ms."""
    env = dict(os.environ, PORT=str(service["port"]), HOST="127.0.0.1")
    started = time.perf_counter()
    proc = subprocess.Popen(service["run"]["command"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{service['port']}/healthz"
    try:
        while True:
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()


def exit_alone(service: dict) -> float:
    env = dict(os.environ, PORT=str(service["port"]), HOST="127.0.0.1")
    proc = subprocess.Popen(service["run"]["command"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{service['port']}/healthz"
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.01)
    started = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    return time.perf_counter() - started


async def p99(url: str, concurrency: int, total: int) -> float:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                queue.pop()
                started = time.perf_counter()
                async with http.get(url) as r:
                    await r.read()
                    assert r.status == 200
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1]


def hippodrome(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli.main", *args], cwd=root, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=15)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--exit-delay", type=float, default=0.5, help="the slowest service's own SIGTERM handling time")
    args = parser.parse_args()
    doc, services = make_stack(args.services, args.exit_delay)
    dash = doc["spec"]["dashboard"]["port"]

    print(f"local engine benchmark: {args.services} services in 4 layers, python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    alone = {s["name"]: time_alone(s) for s in services}
    per_layer = [max(alone[s["name"]] for s in services if s["layer"] == layer) for layer in range(4)]
    critical = sum(per_layer)

    with tempfile.TemporaryDirectory(prefix="hd-bench-") as tmp:
        root = Path(tmp)
        (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
        started = time.perf_counter()
        up = hippodrome(root, "up", "--detach")
        startup = time.perf_counter() - started
        if up.returncode != 0:
            sys.exit(f"up failed: {up.stdout}{up.stderr}")
        # `up --detach` returns after it saw phase=running; the supervisor's own record is tighter:
        stack = requests.get(f"http://127.0.0.1:{dash}/api/stack", timeout=5).json()
        status = requests.get(f"http://127.0.0.1:{dash}/api/status", timeout=5).json()
        last_running = max(s["since"] for s in status.values())
        engine_time = last_running - stack["startedAt"]

        status_p99 = asyncio.run(p99(f"http://127.0.0.1:{dash}/api/status", 200, 4000))
        healthz_p99 = asyncio.run(p99(f"http://127.0.0.1:{dash}/healthz", 200, 4000))

        supervisor = psutil.Process(json.loads((root / ".hippodrome" / "run.json").read_text())["pid"])
        before = supervisor.cpu_times()
        time.sleep(args.idle)
        after = supervisor.cpu_times()
        cpu = (after.user + after.system - before.user - before.system) / args.idle

        token = json.loads((root / ".hippodrome" / "run.json").read_text())["token"]
        started = time.perf_counter()
        requests.post(f"http://127.0.0.1:{dash}/api/control/shutdown", json={}, headers={"X-Hippodrome-Token": token}, timeout=5)
        while supervisor.is_running() and supervisor.status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.005)
        shutdown = time.perf_counter() - started
    slowest_exit = exit_alone(services[0])

    print("1. start-up to all-running")
    print(f"   critical path (slowest per layer, started alone): {critical:.2f} s  "
          "[" + ", ".join(f"{t:.2f}" for t in per_layer) + "]")
    print(f"   supervisor start -> last service running:  {engine_time:.2f} s   ratio {engine_time / critical:.3f}  (target <= 1.10)")
    print(f"   `hippodrome up --detach` wall time (incl. CLI start, port checks, polling): {startup:.2f} s   ratio {startup / critical:.3f}")
    print("2. dashboard under 200 concurrent clients (4000 requests each)")
    print(f"   /api/status p99 {status_p99 * 1000:.1f} ms | /healthz p99 {healthz_p99 * 1000:.1f} ms   ratio {status_p99 / healthz_p99:.2f}  (target <= 2)")
    print(f"3. supervisor CPU while {args.services} services idle {args.idle:g} s: {cpu * 100:.2f}% of one core  (target <= 1%)")
    print(f"4. shutdown request -> supervisor exited (4 layers in reverse order; services honour SIGTERM; "
          f"the slowest takes {args.exit_delay:g} s): {shutdown:.2f} s; "
          f"slowest service alone {slowest_exit:.2f} s; ratio {shutdown / slowest_exit:.2f}")


if __name__ == "__main__":
    main()
