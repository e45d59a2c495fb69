"""Benchmarks of the reference stack (hippodrome.yaml), printed as ratios measured side by side in one run.

    python3 bench/bench_reference_stack.py [--searches 300]

1. `full` profile cold start to all-running ÷ its critical path: per layer, the slowest service's
   own time from spawn to a 200 on /healthz when started alone (with the layers below it running),
   summed.                                                                    target <= 1.10
2. the smoke suite's wall time (in-process, and through `hippodrome smoke`).   target < 3 s
3. search through search_proxy p50 ÷ the same search straight to the cell p50, uncached (every query
   distinct, so global_worker's response cache never answers) and cached.     target <= 1.5

It runs in a temporary project root with every port moved out of 9000-9019 (so it can run beside
a developer's stack) and fresh state (cold).  Loopback only; bounded loops.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
from hippodrome_k8s.host.ports import free_ports  # noqa: E402

from examples.common.naming import cell_index_name  # noqa: E402
from hippodrome_k8s.core.loader import load_stack  # noqa: E402
from hippodrome_k8s.core.resolver import ResolveOptions, resolve  # noqa: E402
from hippodrome_k8s.local.launcher import with_own_python  # noqa: E402
from examples.smoke import checks as reference_checks  # noqa: E402
from hippodrome_k8s.cli.smoke import build_checks, run_checks  # noqa: E402


def project(tmp: Path) -> Path:
    doc = yaml.safe_load((REPO / "hippodrome.yaml").read_text())
    ports = free_ports(len(doc["spec"]["services"]) + 1)
    doc["spec"]["dashboard"] = {"port": ports[0], "allowPortOutsideRange": True}
    for service, port in zip(doc["spec"]["services"], ports[1:]):
        service.update(port=port, allowPortOutsideRange=True)
    (tmp / "hippodrome.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (tmp / "examples").symlink_to(REPO / "examples")
    return tmp


def wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{url} not healthy after {timeout}s")


def critical_path(root: Path) -> tuple[float, list[tuple[str, float]]]:
    """Start each service alone (layers below already running) and time it; returns (sum of per-layer maxima, details)."""
    plan = resolve(load_stack(root / "hippodrome.yaml"),
                   ResolveOptions(seed="42", table_prefix="bench-", project_root=str(root), state_dir=str(root / "state-alone")))
    procs: list[subprocess.Popen] = []
    timings: list[tuple[str, float]] = []
    total = 0.0
    try:
        for layer in plan.layers:
            slowest = 0.0
            for service in layer:
                env = dict(os.environ, **service.env)
                started = time.perf_counter()
                procs.append(subprocess.Popen(with_own_python(service.command), cwd=service.cwd, env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_healthy(service.health_url)
                took = time.perf_counter() - started
                timings.append((service.name, took))
                if service.blocking:
                    slowest = max(slowest, took)
            total += slowest
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(10)
    return total, timings


def hippodrome(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli.main", *args], cwd=root, capture_output=True,
                          text=True, env=dict(os.environ, HIPPODROME_RANDOM_SEED="42"))


def p50(session: requests.Session, url: str, key: str, queries: list[str]) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        r = session.post(url, json={"q": q, "searchMethod": "LEXICAL", "limit": 10}, headers={"x-api-key": key}, timeout=10)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    print(f"reference stack benchmark (profile full), python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory(prefix="hd-ref-") as tmp:
        root = project(Path(tmp))
        critical, timings = critical_path(root)

        started = time.perf_counter()
        up = hippodrome(root, "up", "--detach", "--table-prefix", "bench-")
        wall = time.perf_counter() - started
        if up.returncode != 0:
            raise SystemExit(f"up failed:\n{up.stdout}\n{up.stderr}")
        try:
            dash = yaml.safe_load((root / "hippodrome.yaml").read_text())["spec"]["dashboard"]["port"]
            stack = requests.get(f"http://127.0.0.1:{dash}/api/stack", timeout=5).json()
            status = requests.get(f"http://127.0.0.1:{dash}/api/status", timeout=5).json()
            engine = max(s["since"] for s in status.values()) - stack["startedAt"]

            import json
            env = json.loads((root / ".hippodrome" / "run.json").read_text())["testEnv"]
            smoke_started = time.perf_counter()
            results = run_checks(build_checks(env, status, reference_checks))
            smoke = time.perf_counter() - smoke_started
            assert all(r.ok for r in results), [r for r in results if not r.ok]
            cli_started = time.perf_counter()
            cli = hippodrome(root, "smoke")
            smoke_cli = time.perf_counter() - cli_started
            assert cli.returncode == 0, cli.stdout

            key = env["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
            urls = {n: s["url"] for n, s in status.items()}
            name = f"bench{uuid.uuid4().hex[:6]}"
            http = requests.Session()
            assert http.post(f"{urls['controller']}/api/v2/indexes/{name}", json={}, headers={"x-api-key": key}, timeout=30).ok
            words = ["red", "blue", "green", "shoe", "hat", "bag", "coat", "sock", "lamp", "desk", "chair", "mug"]
            docs = [{"_id": str(i), "title": " ".join(words[(i * k) % 12] for k in (1, 3, 7)) + f" item{i}"} for i in range(2000)]
            for i in range(0, len(docs), 100):
                r = http.post(f"{urls['search_proxy']}/indexes/{name}/documents", json={"documents": docs[i:i + 100], "tensorFields": []},
                              headers={"x-api-key": key}, timeout=60)
                assert r.ok, r.text
            cell_index = cell_index_name(env["SEED_ACCOUNT_DEMO_ID"], name)
            cell_key = env["CELL_API_KEY"]
            distinct = [f"{words[i % 12]} item{i}" for i in range(args.searches)]
            proxy_url = f"{urls['search_proxy']}/indexes/{name}/search"
            cell_url = f"{urls['fake_cell']}/indexes/{cell_index}/search"
            p50(http, proxy_url, key, distinct[:20]), p50(http, cell_url, cell_key, distinct[:20])  # warm both paths
            proxy_uncached = p50(http, proxy_url, key, [q + " x" for q in distinct])
            cell_uncached = p50(http, cell_url, cell_key, [q + " y" for q in distinct])
            same = ["red shoe"] * args.searches
            proxy_cached = p50(http, proxy_url, key, same)
            cell_cached = p50(http, cell_url, cell_key, same)
        finally:
            down = hippodrome(root, "control", "shutdown")
            if down.returncode != 0:
                print("shutdown:", down.stderr)

    print("1. full profile cold start to all-running")
    print("   each service alone (spawn -> first 200 on /healthz, lower layers running):")
    print("     " + ", ".join(f"{n} {t:.2f}s" for n, t in timings))
    print(f"   critical path (slowest blocking service per layer, summed): {critical:.2f} s")
    print(f"   supervisor: start -> every service running: {engine:.2f} s   ratio {engine / critical:.3f}  (target <= 1.10)")
    print(f"   `hippodrome up --detach` wall time (CLI start, checks, polling included): {wall:.2f} s   ratio {wall / critical:.3f}")
    print(f"2. smoke suite: {len(results)} checks in {smoke:.2f} s in-process; `hippodrome smoke` {smoke_cli:.2f} s wall  (target < 3 s)")
    print(f"3. LEXICAL search p50 over 2000 docs, {args.searches} searches each, one keep-alive session:")
    print(f"   uncached: search_proxy {proxy_uncached * 1000:.2f} ms | cell {cell_uncached * 1000:.2f} ms   ratio {proxy_uncached / cell_uncached:.2f}  (target <= 1.5)")
    print(f"   cached (same query; global_worker's cache answers): search_proxy {proxy_cached * 1000:.2f} ms | cell {cell_cached * 1000:.2f} ms   ratio {proxy_cached / cell_cached:.2f}")


if __name__ == "__main__":
    main()
