"""The supervisor with real processes (tests/fixtures/svc.py) on loopback: what the fakes cannot show —
the HTTP prober, signals and process groups, hot reload, log files. Its decisions are table-tested with
faked effects in test_supervisor_logic.py."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import psutil
import pytest

from hd_testing import free_ports, stack_doc, svc
from hippodrome_k8s.core.errors import ServiceFailedError
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.backoff import RestartPolicy
from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.local.supervisor import Supervisor
from hippodrome_k8s.core.resolver import ResolveOptions, resolve

FAST = RestartPolicy(initial=0.1, factor=2, cap=1.0, reset_after=60, start_attempts=3)


def service(name, port, layer, *args, **extra):
    return {"name": name, "port": port, "layer": layer, "run": {"command": svc(*args), **extra.pop("run", {})}, **extra}


def make_supervisor(tmp_path: Path, services: list[dict], dashboard_port: int, policy=FAST) -> Supervisor:
    stack = load_stack_data(stack_doc(services, dashboard_port))
    plan = resolve(stack, ResolveOptions(project_root=str(tmp_path), state_dir=str(tmp_path / "state")))
    return Supervisor(plan, project_root=tmp_path, console=None, policy=policy)


def record_events(supervisor: Supervisor) -> list[tuple[float, str, str]]:
    timeline: list[tuple[float, str, str]] = []
    supervisor.store.subscribe(lambda before, after: timeline.append((time.monotonic(), after.name, after.status.value)))
    return timeline


async def start(supervisor: Supervisor):
    supervisor.launcher.start_watchdog()
    from hippodrome_k8s.dashboard.server import start_dashboard

    dashboard = await start_dashboard(supervisor)
    return dashboard


async def stop(supervisor: Supervisor, dashboard) -> None:
    await supervisor.stop_all()
    await dashboard.close()
    await supervisor.prober.close()
    supervisor.launcher.stop_watchdog()
    supervisor.close_logs()


async def listening(port: int, timeout: float = 30.0) -> None:
    """Until something accepts a TCP connection on ``port`` (fails the test after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s"
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return


def first(timeline, name, status):
    return next(t for t, n, s in timeline if n == name and s == status)


async def test_layer_n_plus_1_starts_only_after_layer_n_is_healthy(tmp_path):
    d, a, b, c = free_ports(4)
    sup = make_supervisor(tmp_path, [
        service("slow", a, 0, "--delay", "1.0"),
        service("quick", b, 0),
        service("upper", c, 1),
    ], d)
    timeline = record_events(sup)
    dashboard = await start(sup)
    try:
        await sup.start_all()
        assert first(timeline, "upper", "starting") >= first(timeline, "slow", "running")
        # the same layer starts in parallel: quick did not wait for slow
        assert first(timeline, "quick", "starting") < first(timeline, "slow", "running")
        assert all(s.status == ServiceState.running and s.ready for s in sup.store.snapshot().values())
    finally:
        await stop(sup, dashboard)
    assert all(s.status == ServiceState.stopped for s in sup.store.snapshot().values())


async def test_a_tcp_port_is_not_health(tmp_path):
    d, a, b = free_ports(3)
    sup = make_supervisor(tmp_path, [service("late", a, 0, "--delay", "4"), service("next", b, 1)], d)
    dashboard = await start(sup)
    try:
        task = asyncio.create_task(sup.start_all())
        await listening(a)  # `late` accepts connections, but answers 503 for 4 s:
        await asyncio.sleep(0.5)  # long enough for many probes (a supervisor taking a port for health says running)
        snap = sup.store.snapshot()
        assert snap["late"].status == ServiceState.starting and snap["late"].pid
        assert snap["next"].status == ServiceState.pending
        await task
    finally:
        await stop(sup, dashboard)


async def test_a_service_ignoring_sigterm_is_killed_after_its_stop_timeout(tmp_path):
    d, a = free_ports(2)
    sup = make_supervisor(tmp_path, [service("stubborn", a, 0, "--ignore-sigterm", run={"stopTimeoutSeconds": 1.0})], d)
    dashboard = await start(sup)
    try:
        await sup.start_all()
        pid = sup.store.get("stubborn").pid
        await sup.runners["stubborn"].stop()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        stopped = sup.store.get("stubborn")
        assert stopped.status == ServiceState.stopped and stopped.exit_code == -9  # SIGKILL, not its own exit
    finally:
        await stop(sup, dashboard)


async def test_a_services_children_go_with_it(tmp_path):
    d, a = free_ports(2)
    sup = make_supervisor(tmp_path, [service("parent", a, 0, "--spawn-child")], d)
    dashboard = await start(sup)
    try:
        await sup.start_all()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{a}/pid") as r:
                child = (await r.json())["child"]
        assert psutil.pid_exists(child)
        await sup.runners["parent"].stop()
        await asyncio.sleep(0.2)
        assert not psutil.pid_exists(child)
    finally:
        await stop(sup, dashboard)


async def test_hot_reload_restarts_on_change(tmp_path):
    d, a = free_ports(2)
    watched = tmp_path / "src"
    watched.mkdir()
    (watched / "app.py").write_text("x = 1\n")
    sup = make_supervisor(tmp_path, [service("reloady", a, 0, run={"reload": True, "watch": [str(watched)]})], d)
    dashboard = await start(sup)
    try:
        await sup.start_all()
        pid = sup.store.get("reloady").pid
        task = asyncio.create_task(sup._reload(sup.runners["reloady"]))
        await asyncio.sleep(0.5)
        (watched / "app.py").write_text("x = 2\n")
        snap = await asyncio.wait_for(sup.store.wait_until(lambda s: s["reloady"].pid not in (None, pid) and s["reloady"].ready), 15)
        assert snap["reloady"].restarts == 1
        task.cancel()
    finally:
        await stop(sup, dashboard)


async def test_logs_are_written_per_service_with_a_latest_symlink(tmp_path):
    d, a = free_ports(2)
    sup = make_supervisor(tmp_path, [service("talker", a, 0)], d)
    dashboard = await start(sup)
    try:
        await sup.start_all()
    finally:
        await stop(sup, dashboard)
    latest = tmp_path / ".hippodrome" / "logs" / "latest"
    assert latest.is_symlink() and latest.resolve() == sup.run_dir
    assert "svc listening" in (latest / "talker.log").read_text()
    assert sup.run_dir.name[:8].isdigit() and sup.run_dir.name[8] == "-"


def test_no_process_of_these_tests_is_left():
    mine = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and "tests/fixtures/svc.py" in " ".join(p.info["cmdline"])
            and p.ppid() == os.getpid()]
    assert mine == []
