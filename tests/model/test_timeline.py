"""Start-up timings, pure: rounds recorded from spawn/healthy/ended events, and the critical path."""

from __future__ import annotations

import pytest

from hippodrome_k8s.core.timeline import (MAX_ROUNDS, Attempt, Round, Timeline, begin, critical_path, ended, healthy,
                                          last_up, round_json, spawned, timeline_json)


def a(name, layer, spawn, ok, blocking=True):
    return Attempt(name, layer, blocking, spawned=spawn, healthy=ok, spawns=1 if spawn is not None else 0,
                   outcome="healthy" if ok is not None else "")


def rnd(*attempts, started=0.0):
    return Round(1, "up", started, {x.service: x for x in attempts})


@pytest.mark.parametrize("attempts, path, total, critical", [
    # one service: its own time; the rest is spawning
    ([a("s", 0, 0.1, 0.6)], ("s",), 0.6, 0.5),
    # layered: layer 1 starts when the slowest blocking service of layer 0 is healthy
    ([a("moto", 0, 0.1, 2.0), a("cell", 0, 0.1, 1.0), a("api", 1, 2.05, 3.0)], ("moto", "api"), 3.0, 2.85),
    # the last blocking healthy ends the path, even in a lower layer than a quicker one
    ([a("db", 0, 0.0, 1.0), a("slow", 1, 1.0, 9.0), a("quick", 2, 1.0, 2.0)], ("db", "slow"), 9.0, 9.0),
    # a non-blocking service never gates, nor ends the path, however slow
    ([a("db", 0, 0.0, 1.0), a("console", 0, 0.0, 5.0, blocking=False), a("api", 1, 1.0, 2.0)], ("db", "api"), 2.0, 2.0),
    # three layers, the gate of layer 2 is in layer 0 (layer 1's service was quicker)
    ([a("a", 0, 0.0, 3.0), a("b", 0, 0.0, 1.0), a("c", 1, 1.0, 1.5), a("d", 2, 3.1, 4.0)], ("a", "d"), 4.0, 3.9),
    # only non-blocking services: the last healthy ends it
    ([a("x", 0, 0.0, 1.0, blocking=False), a("y", 0, 0.0, 2.0, blocking=False)], ("y",), 2.0, 2.0),
    # a blocking service that never turned healthy: the round is unfinished; the path covers what finished
    ([a("db", 0, 0.0, 1.0), a("api", 1, 1.0, None)], ("db",), None, 1.0),
    ([], (), None, 0.0),
])
def test_critical_path(attempts, path, total, critical):
    t = critical_path(rnd(*attempts))
    assert t.path == path
    assert (t.total is None and total is None) or t.total == pytest.approx(total)
    assert t.critical == pytest.approx(critical)
    if total is not None:
        assert t.overhead == pytest.approx(total - critical)


SERVICES = {"db": (0, True), "api": (1, True), "ui": (1, False)}


def test_an_up_then_a_crash_then_a_control_restart():
    tl = begin(Timeline(SERVICES), "up", ["db", "api", "ui"], 100.0)
    tl = spawned(tl, "db", 100.1)
    tl = spawned(tl, "ui", 100.1)
    tl = healthy(tl, "db", 100.5)
    tl = spawned(tl, "api", 100.6)
    tl = spawned(tl, "api", 101.0)          # it crashed while starting and was respawned: same attempt
    tl = healthy(tl, "api", 101.4)
    tl = healthy(tl, "api", 102.0)          # healthy again after a failed probe: not a start
    up = last_up(tl)
    assert up is not None and up.attempts["api"] == Attempt("api", 1, True, 100.6, 101.4, 2, "healthy")
    assert up.attempts["ui"].open           # still starting
    tl = spawned(tl, "db", 110.0)           # a crash respawn opens a round of its own
    tl = healthy(tl, "db", 110.3)
    assert [r.kind for r in tl.rounds] == ["up", "crash"]
    tl = ended(tl, "ui", "failed")
    tl = begin(tl, "restart", ["api"], 120.0)
    tl = spawned(tl, "api", 120.2)
    tl = ended(tl, "api", "stopped")        # stopped before it turned healthy
    data = timeline_json(tl)
    assert data["lastUp"] == 1 and [r["kind"] for r in data["rounds"]] == ["up", "crash", "restart"]
    first = data["rounds"][0]
    assert first["criticalPath"] == ["db", "api"]
    assert first["figures"] == {"total": 1.4, "criticalPath": 1.2, "overhead": 0.2}
    by_name = {s["name"]: s for s in first["services"]}
    assert by_name["api"] == {"name": "api", "layer": 1, "blocking": True, "spawn": 0.6, "healthy": 1.4, "seconds": 0.8,
                              "spawns": 2, "outcome": "healthy", "critical": True}
    assert by_name["ui"]["outcome"] == "failed" and by_name["ui"]["critical"] is False
    assert data["rounds"][2]["services"][0]["outcome"] == "stopped"
    assert data["rounds"][2]["figures"]["total"] is None


def test_old_rounds_are_dropped_but_the_last_up_is_kept():
    tl = begin(Timeline(SERVICES), "up", ["db"], 0.0)
    for i in range(MAX_ROUNDS + 5):
        tl = spawned(tl, "db", float(i))
        tl = healthy(tl, "db", i + 0.5)
    assert len(tl.rounds) == MAX_ROUNDS + 1
    assert tl.rounds[0].kind == "up" and tl.rounds[-1].id == MAX_ROUNDS + 5


def test_a_round_names_only_known_services_and_offsets_are_from_its_request():
    tl = begin(Timeline(SERVICES), "start", ["db", "nope"], 50.0)
    tl = spawned(tl, "db", 50.25)
    assert list(tl.rounds[0].attempts) == ["db"]
    assert round_json(tl.rounds[0])["services"][0]["spawn"] == 0.25
