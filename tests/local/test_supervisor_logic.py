"""The supervisor's decisions, table-driven, with its effects faked (hippodrome_k8s.local.fakes):
layer gating, non-blocking services, restart backoff, giving up, readiness, control order, the stack
phase, a second interrupt. No process, no socket; tests/local/test_supervisor.py keeps the few that
need real processes (signals, process groups, hot reload, the HTTP prober, log files)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hippodrome_k8s.core.contract import ServiceState, StackPhase
from hippodrome_k8s.core.errors import ServiceFailedError
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.local.fakes import SIGKILL_CODE, FakeLauncher, FakeProber, Script
from hippodrome_k8s.core.backoff import RestartPolicy
from hippodrome_k8s.local.supervisor import Supervisor
from hippodrome_k8s.core.resolver import ResolveOptions, resolve
from hd_testing import stack_doc

FAST = RestartPolicy(initial=0.1, factor=2, cap=1.0, reset_after=60, start_attempts=3)
QUICK_HEALTH = {"startingPeriodSeconds": 0.01, "periodSeconds": 0.02, "failureThreshold": 2}


def svc(name: str, layer: int, **extra) -> dict:
    return {"name": name, "port": 20000 + abs(hash(name)) % 10000, "layer": layer,
            "health": {**QUICK_HEALTH, **extra.pop("health", {})}, "run": {"command": ["fake"], **extra.pop("run", {})},
            **extra}


MADE: list[Supervisor] = []


@pytest.fixture(autouse=True)
def _close_logs():
    yield
    while MADE:
        MADE.pop().close_logs()


def make(tmp_path: Path, services: list[dict], scripts: dict[str, Script]) -> tuple[Supervisor, FakeLauncher]:
    plan = resolve(load_stack_data(stack_doc(services, 9000)),
                   ResolveOptions(project_root=str(tmp_path), state_dir=str(tmp_path / "state")))
    launcher = FakeLauncher(scripts)
    sup = Supervisor(plan, project_root=tmp_path, console=None, policy=FAST, launcher=launcher, prober=FakeProber(launcher))
    MADE.append(sup)
    return sup, launcher


def timeline(sup: Supervisor) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    sup.store.subscribe(lambda before, after: events.append((after.name, after.status.value))
                        if before.status != after.status else None)
    return events


def index(events, name, status) -> int:
    return events.index((name, status))


@pytest.mark.parametrize("services, scripts, before", [
    ([svc("slow", 0), svc("quick", 0), svc("upper", 1)], {"slow": Script(healthy_after=0.2)},
     [(("slow", "running"), ("upper", "starting")), (("quick", "starting"), ("slow", "running"))]),
    ([svc("a", 0), svc("b", 1), svc("c", 2)], {"a": Script(healthy_after=0.1), "b": Script(healthy_after=0.1)},
     [(("a", "running"), ("b", "starting")), (("b", "running"), ("c", "starting"))]),
    ([svc("never", 0, blocking=False), svc("upper", 1)], {"never": Script(healthy_after=None)},
     [(("never", "starting"), ("upper", "starting"))]),
], ids=["layer-waits-for-slowest-blocking", "three-layers-in-order", "non-blocking-never-gates"])
async def test_layer_gating(tmp_path, services, scripts, before):
    sup, _ = make(tmp_path, services, scripts)
    events = timeline(sup)
    await asyncio.wait_for(sup.start_all(), 10)
    for earlier, later in before:
        assert index(events, *earlier) < index(events, *later), events
    blocking = [s["name"] for s in services if s.get("blocking", True)]
    assert all(sup.store.get(n).status == ServiceState.running and sup.store.get(n).ready for n in blocking)
    await sup.stop_all()


async def test_a_crashing_service_is_restarted_with_doubling_backoff(tmp_path):
    sup, launcher = make(tmp_path, [svc("crashy", 0, blocking=False)], {"crashy": Script(exits_after=0.02, exit_code=3)})
    messages: list[str] = []
    sup.store.subscribe(lambda before, after: messages.append(after.message)
                        if "restarting in" in after.message and after.message != before.message else None)
    await sup.start_all()
    await asyncio.wait_for(sup.store.wait_until(lambda s: s["crashy"].restarts >= 3), 10)
    assert [m.split(";")[0] for m in messages[:3]] == ["exited with code 3"] * 3
    assert [m.rsplit("restarting in ", 1)[1] for m in messages[:3]] == ["0.1s", "0.2s", "0.4s"]
    assert len(launcher.processes("crashy")) >= 4
    await sup.stop_all()


async def test_a_blocking_service_that_never_becomes_healthy_gives_up_and_the_next_layer_never_starts(tmp_path):
    sup, launcher = make(tmp_path, [svc("broken", 0), svc("upper", 1)],
                         {"broken": Script(exits_after=0.0, exit_code=7, output=("failing at start with code 7",))})
    with pytest.raises(ServiceFailedError) as caught:
        await asyncio.wait_for(sup.start_all(), 10)
    assert "broken" in str(caught.value) and "gave up after 3 attempts" in str(caught.value)
    assert "failing at start with code 7" in str(caught.value)  # the last log lines are shown
    assert sup.store.get("upper").status == ServiceState.pending and launcher.processes("upper") == []
    await sup.stop_all()


async def test_a_start_timeout_counts_as_a_failed_attempt(tmp_path):
    sup, launcher = make(tmp_path, [svc("mute", 0, health={"startTimeoutSeconds": 0.05})],
                         {"mute": Script(healthy_after=None)})
    with pytest.raises(ServiceFailedError, match="not healthy within 0.05s"):
        await asyncio.wait_for(sup.start_all(), 10)
    assert [p.returncode for p in launcher.processes("mute")] == [-15, -15, -15]


async def test_unready_while_running_then_control_restart(tmp_path):
    sup, launcher = make(tmp_path, [svc("flaky", 0)], {"flaky": Script(unhealthy_after=0.15)})
    await sup.start_all()
    snap = await asyncio.wait_for(sup.store.wait_until(lambda s: not s["flaky"].ready), 10)
    assert snap["flaky"].status == ServiceState.running and "503" in snap["flaky"].message
    assert sup.store.phase is StackPhase.STARTING  # start_all alone does not declare the stack up
    old = snap["flaky"].pid
    await sup.control("restart", "flaky")
    snap = await asyncio.wait_for(sup.store.wait_until(lambda s: s["flaky"].ready), 10)
    assert snap["flaky"].pid != old and snap["flaky"].restarts == 1
    assert launcher.processes("flaky")[0].returncode == -15  # stopped with SIGTERM
    await sup.stop_all()


async def test_control_all_stops_in_reverse_layer_order_and_starts_in_layer_order(tmp_path):
    sup, _ = make(tmp_path, [svc("base", 0), svc("mid", 1), svc("top", 2)], {})
    await sup.start_all()
    events = timeline(sup)
    await sup.control("stop")
    assert [n for n, s in events if s == "stopped"] == ["top", "mid", "base"]
    events.clear()
    await sup.control("start")
    assert [n for n, s in events if s == "running"] == ["base", "mid", "top"]
    await sup.stop_all()


async def test_a_service_ignoring_sigterm_is_killed_after_its_stop_timeout(tmp_path):
    sup, launcher = make(tmp_path, [svc("stubborn", 0, run={"stopTimeoutSeconds": 0.1})],
                         {"stubborn": Script(ignores_sigterm=True)})
    await sup.start_all()
    await sup.runners["stubborn"].stop()
    assert launcher.processes("stubborn")[0].returncode == SIGKILL_CODE
    assert sup.store.get("stubborn").status == ServiceState.stopped


@pytest.mark.parametrize("lifecycle, stop, expected", [
    (StackPhase.STARTING, None, StackPhase.STARTING),
    (StackPhase.RUNNING, None, StackPhase.RUNNING),
    (StackPhase.RUNNING, "base", StackPhase.DEGRADED),  # a blocking service stopped on request
    (StackPhase.RUNNING, "extra", StackPhase.RUNNING),  # a non-blocking one does not degrade the stack
    (StackPhase.STOPPING, "base", StackPhase.STOPPING),
], ids=["starting", "running", "blocking-stopped", "non-blocking-stopped", "stopping"])
async def test_the_stack_phase(tmp_path, lifecycle, stop, expected):
    sup, _ = make(tmp_path, [svc("base", 0), svc("extra", 0, blocking=False)], {})
    await sup.start_all()
    if stop:
        await sup.control("stop", stop)
    sup.store.set_lifecycle(lifecycle)
    assert sup.store.phase is expected
    assert sup.stack_json()["phase"] == expected.local
    await sup.stop_all()


async def test_a_second_interrupt_kills_everything_and_nothing_restarts(tmp_path):
    sup, launcher = make(tmp_path, [svc("a", 0), svc("b", 1, run={"stopTimeoutSeconds": 60})],
                         {"b": Script(ignores_sigterm=True)})
    await sup.start_all()
    sup._on_signal()  # Ctrl-C: shutdown requested
    stopping = asyncio.create_task(sup.stop_all())
    await asyncio.sleep(0.05)  # b ignores SIGTERM: the stop is waiting on it (for up to 60 s)
    sup._on_signal()  # Ctrl-C again
    await asyncio.wait_for(stopping, 10)  # b's stop timeout is 60 s: only the kill ends it this soon
    assert sup.killed and launcher.processes("b")[0].returncode == SIGKILL_CODE
    assert [len(launcher.processes(n)) for n in ("a", "b")] == [1, 1]  # nothing was restarted
