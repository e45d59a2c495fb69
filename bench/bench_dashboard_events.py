"""Benchmark: the dashboard's `/api/status` under load while event streams are open.

    python3 bench/bench_dashboard_events.py [--services 15] [--streams 10] [--clients 200] [--requests 4000]

A generated stack (--services tiny HTTP services, tests/fixtures/svc.py, in 4 layers, on free ports
outside 9000-9019, in a temporary project) runs under `hippodrome up --detach`; one service prints
a line every 20 ms, so the streams carry traffic. With --streams `/api/events?logs=1` streams open
(what the page opens) and read, /api/status and /healthz are each driven by --clients concurrent
clients for --requests requests, alternately, twice; the ratio of their p99s is printed (target
<= 2: serving the page's pushes must not make the status contract slower than the server's own
cheapest answer), beside the same ratio with no stream open and the number of messages the streams
received meanwhile (they were live).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from hippodrome_k8s.host.ports import free_ports

REPO = Path(__file__).resolve().parent.parent
SVC = REPO / "tests" / "fixtures" / "svc.py"


def make_stack(count: int) -> dict:
    ports = free_ports(count + 1)  # distinct: ports chosen one by one can repeat
    services = []
    for i in range(count):
        args = ["--chatter", "0.02"] if i == 0 else []
        services.append({"name": f"svc{i:02d}", "port": ports[i + 1], "layer": i % 4, "allowPortOutsideRange": True,
                         "run": {"command": [sys.executable, str(SVC), *args]}})
    return {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "bench"},
            "spec": {"seed": "1", "tablePrefix": "b-", "dashboard": {"port": ports[0], "allowPortOutsideRange": True},
                     "services": services}}


async def p99(http: aiohttp.ClientSession, url: str, concurrency: int, total: int) -> float:
    latencies: list[float] = []
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            async with http.get(url) as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1]


async def stream(url: str, counts: list[int], index: int, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http, http.get(url + "/api/events?logs=1") as r:
        assert r.status == 200
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(r.content.readline(), 0.5)
            except asyncio.TimeoutError:
                continue
            if not line:
                return
            if line.startswith(b"event: "):
                counts[index] += 1


async def measure(url: str, streams: int, clients: int, requests: int) -> tuple[float, float, int]:
    counts = [0] * streams
    stop = asyncio.Event()
    readers = [asyncio.create_task(stream(url, counts, i, stop)) for i in range(streams)]
    await asyncio.sleep(1.0)  # every stream has its snapshot and is following
    status, healthz = [], []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
        await p99(http, url + "/healthz", clients, clients)  # warm the connections
        for _ in range(2):
            status.append(await p99(http, url + "/api/status", clients, requests))
            healthz.append(await p99(http, url + "/healthz", clients, requests))
    stop.set()
    await asyncio.gather(*readers, return_exceptions=True)
    return statistics.median(status), statistics.median(healthz), sum(counts)


def hippodrome(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli.main", *args], cwd=root, capture_output=True,
                          text=True, env={k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=15)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    doc = make_stack(args.services)
    url = f"http://127.0.0.1:{doc['spec']['dashboard']['port']}"
    print(f"dashboard events benchmark: {args.services} services (one prints every 20 ms), {args.clients} clients, "
          f"{args.requests} requests per p99, python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as tmp:
        root = Path(tmp)
        (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
        up = hippodrome(root, "up", "--detach")
        if up.returncode != 0:
            sys.exit(f"up failed: {up.stdout}{up.stderr}")
        try:
            quiet = asyncio.run(measure(url, 0, args.clients, args.requests))
            busy = asyncio.run(measure(url, args.streams, args.clients, args.requests))
        finally:
            hippodrome(root, "control", "shutdown")
    for label, (status, healthz, messages) in (("no stream open", quiet), (f"{args.streams} event streams open", busy)):
        print(f"{label:>24}: /api/status p99 {status * 1000:6.1f} ms | /healthz p99 {healthz * 1000:6.1f} ms | "
              f"ratio {status / healthz:.2f} (target <= 2) | messages the streams received: {messages}")


if __name__ == "__main__":
    main()
