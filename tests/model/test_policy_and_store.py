"""The pure parts of the local engine: restart backoff, the state machine, the reducer."""

from __future__ import annotations

import pytest

from hippodrome_k8s.core.backoff import RestartPolicy, failures_after_healthy, restart_delay
from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.local.states import ServiceStatus, can_move
from hippodrome_k8s.local.store import (
    Exited,
    Failed,
    Healthy,
    IllegalTransition,
    Spawned,
    Stopped,
    StopRequested,
    Unready,
    reduce,
)

POLICY = RestartPolicy(initial=0.5, factor=2, cap=30, reset_after=60)


@pytest.mark.parametrize("failures,delay", [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)])
def test_restart_delay_is_capped_exponential(failures, delay):
    assert restart_delay(POLICY, failures) == delay


@pytest.mark.parametrize("failures,healthy_for,expected", [
    (5, None, 5),      # never healthy: keep counting
    (5, 10.0, 5),      # healthy briefly: keep counting
    (5, 60.0, 0),      # healthy long enough: start over
    (0, 120.0, 0),
])
def test_failures_reset_after_a_healthy_period(failures, healthy_for, expected):
    assert failures_after_healthy(POLICY, failures, healthy_for) == expected


def status(**kw) -> ServiceStatus:
    return ServiceStatus(name="s", layer=0, port=9001, url="http://x", blocking=True, **kw)


def test_happy_path():
    s = reduce(status(), Spawned("s", 1.0, pid=10))
    assert (s.status, s.pid, s.ready, s.restarts) == (ServiceState.starting, 10, False, 0)
    s = reduce(s, Healthy("s", 2.0))
    assert (s.status, s.ready, s.since) == (ServiceState.running, True, 2.0)
    s = reduce(s, Unready("s", 3.0, "health check failed"))
    assert (s.status, s.ready, s.message) == (ServiceState.running, False, "health check failed")
    s = reduce(s, Healthy("s", 4.0))
    assert s.ready and s.since == 2.0  # same state: since unchanged
    s = reduce(s, StopRequested("s", 5.0))
    assert s.status == ServiceState.stopping
    s = reduce(s, Stopped("s", 6.0, code=0))
    assert (s.status, s.pid) == (ServiceState.stopped, None)


def test_crash_and_restart_counts():
    s = reduce(status(), Spawned("s", 1.0, pid=10))
    s = reduce(s, Exited("s", 2.0, code=3, restart_in=0.5))
    assert s.status == ServiceState.starting and "restarting in 0.5s" in s.message and s.exit_code == 3
    s = reduce(s, Spawned("s", 3.0, pid=11))
    assert s.restarts == 1 and s.pid == 11


def test_give_up():
    s = reduce(reduce(status(), Spawned("s", 1.0, pid=10)), Exited("s", 2.0, code=1, restart_in=None))
    assert s.status == ServiceState.failed
    s = reduce(s, Failed("s", 2.0, "gave up after 3 attempts"))
    assert s.message.endswith("3 attempts")


def test_stop_of_a_pending_service_is_immediate():
    s = reduce(status(), StopRequested("s", 1.0))
    assert s.status == ServiceState.stopped


@pytest.mark.parametrize("start,event", [
    (ServiceState.stopped, Healthy("s", 1.0)),
    (ServiceState.pending, Healthy("s", 1.0)),
    (ServiceState.stopping, Spawned("s", 1.0, pid=1)),
])
def test_illegal_transitions_are_refused(start, event):
    with pytest.raises(IllegalTransition):
        reduce(status(status=start), event)


def test_disabled_is_terminal():
    assert not any(can_move(ServiceState.disabled, t) for t in ServiceState)


@pytest.mark.parametrize("command, expected", [
    (["python", "-m", "svc"], ["/venv/bin/python", "-m", "svc"]),
    (("python3", "x.py"), ["/venv/bin/python", "x.py"]),
    (["node", "server.js"], ["node", "server.js"]),
    (["/usr/bin/python3", "x.py"], ["/usr/bin/python3", "x.py"]),
    (["python3.12", "x.py"], ["python3.12", "x.py"]),
    ([], []),
], ids=["python", "python3", "node", "absolute-path-kept", "versioned-kept", "empty"])
def test_plain_python_runs_under_hippodromes_own_interpreter(command, expected):
    from hippodrome_k8s.local.launcher import with_own_python

    assert with_own_python(command, "/venv/bin/python") == expected


def _health(**kw):
    from hippodrome_k8s.core.model import HealthCheck

    return HealthCheck(**{"startingPeriodSeconds": 0.1, "periodSeconds": 1, "failureThreshold": 2,
                          "startTimeoutSeconds": 10, **kw})


@pytest.mark.parametrize("probes, verdicts", [
    ([(False, 1), (True, 2)], ["none", "ready"]),
    ([(True, 1), (True, 2)], ["ready", "none"]),
    ([(True, 1), (False, 2), (False, 3), (True, 4)], ["ready", "none", "unready", "ready"]),
    ([(False, 5), (False, 11)], ["none", "give-up"]),
    ([(True, 1), (False, 20), (False, 21)], ["ready", "none", "unready"]),  # once healthy, never a start timeout
], ids=["becomes-ready", "stays-ready", "unready-after-threshold-then-back", "start-timeout", "no-timeout-after-healthy"])
def test_probe_tracker(probes, verdicts):
    from hippodrome_k8s.local.probe import ProbeTracker

    tracker = ProbeTracker(_health(), started=0.0)
    assert [tracker.observe(ok, now).value for ok, now in probes] == verdicts


def test_probe_tracker_period_is_fast_until_healthy():
    from hippodrome_k8s.local.probe import ProbeTracker

    tracker = ProbeTracker(_health(), started=0.0)
    periods = []
    for now in range(22):
        periods.append(tracker.period())
        tracker.observe(False, now * 0.01)
    assert periods == [0.01] * 20 + [0.1, 0.1]  # the first probes soon after the start, then startingPeriodSeconds
    tracker.observe(True, 3.0)
    assert tracker.period() == 1 and tracker.healthy_for(5.0) == 2.0


def _view(phase, **services):
    from hippodrome_k8s.cli.main import LocalView

    return LocalView({n: {"status": st, "layer": 0, "restarts": r, "message": m} for n, (st, r, m) in services.items()},
                     {"phase": phase, "failure": "x: gave up"})


@pytest.mark.parametrize("view, done, failure, last", [
    (_view("starting", a=("starting", 0, "")), False, None, None),
    (_view("running", a=("running", 0, ""), ui=("starting", 0, "npm ci")), False, None, None),
    (_view("running", a=("running", 0, ""), ui=("starting", 3, "crash")), True, None, "1 of 2 services running"),
    (_view("degraded", a=("running", 0, ""), ui=("failed", 1, "bad")), True, None, "1 of 2 services running"),
    (_view("running", a=("running", 0, "")), True, None, "All 1 services running"),
    (_view("failed", a=("failed", 3, "")), False, "the stack failed to start: x: gave up", None),
], ids=["starting", "non-blocking-still-starting", "non-blocking-crashlooping", "non-blocking-failed", "all-up", "failed"])
def test_when_up_detach_stops_waiting(view, done, failure, last):
    from hippodrome_k8s.cli.main import local_verdict

    verdict = local_verdict(view, "http://127.0.0.1:9000")
    assert (verdict.done, verdict.failure) == (done, failure)
    if last:
        assert verdict.result[-1].startswith(last)


def test_wait_with_progress_prints_changes_and_gives_up_at_the_deadline():
    from hippodrome_k8s.core.errors import HippodromeError
    from hippodrome_k8s.core.waiting import Verdict, wait_with_progress

    now = [0.0]
    polls = iter([None, "a", "a", "b"])
    echoed: list[str] = []
    with pytest.raises(HippodromeError, match="still waiting after b"):
        wait_with_progress(lambda: next(polls, "b"), lambda v: Verdict.waiting(),
                           lambda before, cur: [f"{before}->{cur}"] if before != cur else [], echoed.append,
                           timeout=3, interval=1, still_waiting=lambda last: f"still waiting after {last}",
                           clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert echoed == ["None->a", "a->b"]
