"""Dependency-aware health, pure: which service depends on which (from the stack's references), which
dependencies are down as each service sees them, and the tone and words the dashboard shows."""

from __future__ import annotations

import pytest

from hd_testing import stack_doc
from hippodrome_k8s.core.dependencies import Flag, dependencies, down_state, flags
from hippodrome_k8s.core.health import BAD, OFF, OK, WARN, label_and_tone, stack_health
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.model import Cell


def _stack():
    services = [
        {"name": "moto", "port": 9103, "layer": 0, "env": {"R": "${aws.resources}"}, "run": {"command": ["x"]}},
        {"name": "fake_cognito", "port": 9112, "layer": 0, "env": {"C": "${cognito.config}"}, "run": {"command": ["x"]}},
        {"name": "fake_cell", "port": 9101, "layer": 0, "cells": ["local"], "run": {"command": ["x"]}},
        {"name": "controller", "port": 9102, "layer": 1, "run": {"command": ["x"]},
         "env": {"CELL": "${cell.url}", "T": "${tables.accounts}", "LINK": "${links.proxy}"}},
        {"name": "proxy", "port": 9105, "layer": 2, "run": {"command": ["x", "--up=${services.controller.url}"]},
         "env": {"REGION": "${aws.region}", "POOL": "${cognito.pools.main.id}"}},
        {"name": "worker", "port": 9107, "layer": 3, "run": {"command": ["x"]},
         "env": {"P": "${services.proxy.host}:${services.proxy.port}", "Q": "${queues.q.url}"}},
        {"name": "console", "port": 9108, "layer": 3, "blocking": False, "run": {"command": ["x"]},
         "env": {"SELF": "${services.console.url}", "K": "${accounts.demo.id}"}},
    ]
    doc = stack_doc(services, 9100, aws={"tables": [{"name": "accounts", "hashKey": {"name": "id"}}], "queues": [{"name": "q"}]},
                    cognito={"userPools": [{"name": "main"}]}, seedData={"accounts": [{"name": "demo"}]})
    return load_stack_data(doc)


ALL = ["moto", "fake_cognito", "fake_cell", "controller", "proxy", "worker", "console"]


@pytest.mark.parametrize("cell, selected, expected", [
    (Cell.local, ALL, {
        "moto": (), "fake_cognito": (), "fake_cell": (),      # their own config is no dependency on themselves
        "controller": ("fake_cell", "moto"),                     # ${cell.url} is the local cell; a table is AWS; a link is none
        "proxy": ("controller", "fake_cognito"),                 # a reference in the command counts; aws.region does not
        "worker": ("moto", "proxy"),
        "console": (),                                           # itself and seed values: nothing
    }),
    (Cell.staging, [n for n in ALL if n != "fake_cell"], {      # a remote cell is no service of ours
        "moto": (), "fake_cognito": (), "controller": ("moto",), "proxy": ("controller", "fake_cognito"),
        "worker": ("moto", "proxy"), "console": (),
    }),
    (Cell.local, ["moto", "fake_cell", "controller"], {         # only selected services count
        "moto": (), "fake_cell": (), "controller": ("fake_cell", "moto"),
    }),
])
def test_dependencies_come_from_the_references(cell, selected, expected):
    assert dependencies(_stack(), selected, cell) == expected


@pytest.mark.parametrize("status, ready, code, expected", [
    ("running", True, None, None),
    ("pending", False, None, None),          # not started yet: not a failure
    ("starting", False, None, None),         # first start in progress
    ("starting", False, 3, "restarting"),    # exited, waiting to be respawned
    ("running", False, None, "not ready"),
    ("stopping", False, None, "stopped"),
    ("stopped", False, 0, "stopped"),
    ("failed", False, 1, "failed"),
])
def test_when_a_dependency_counts_as_down(status, ready, code, expected):
    assert down_state(status, ready, 0, code) == expected


def entry(status="running", ready=True, blocking=True, exitCode=None):
    return {"status": status, "ready": ready, "blocking": blocking, "exitCode": exitCode, "restarts": 0}


DEPS = {"cell": (), "moto": (), "api": ("cell", "moto"), "proxy": ("api",), "worker": ("proxy",)}


@pytest.mark.parametrize("states, expected", [
    ({}, {}),
    ({"cell": entry("stopped", False)}, {
        "api": [Flag("cell", "stopped")],
        "proxy": [Flag("cell", "stopped", ("api",))],
        "worker": [Flag("cell", "stopped", ("proxy", "api"))],
    }),
    ({"cell": entry("failed", False), "moto": entry("stopping", False)}, {
        "api": [Flag("cell", "failed"), Flag("moto", "stopped")],
        "proxy": [Flag("cell", "failed", ("api",)), Flag("moto", "stopped", ("api",))],
        "worker": [Flag("cell", "failed", ("proxy", "api")), Flag("moto", "stopped", ("proxy", "api"))],
    }),
    # the nearest down service is reported, not what lies behind it
    ({"cell": entry("stopped", False), "api": entry("failed", False)}, {
        "api": [Flag("cell", "stopped")], "proxy": [Flag("api", "failed")], "worker": [Flag("api", "failed", ("proxy",))],
    }),
])
def test_flags_name_every_dependency_that_is_down(states, expected):
    statuses = {name: states.get(name, entry()) for name in DEPS}
    got = {name: found for name, found in flags(DEPS, statuses).items() if found}
    assert got == expected


def test_a_dependency_cycle_does_not_loop():
    deps = {"a": ("b",), "b": ("a",)}
    assert flags(deps, {"a": entry(), "b": entry("stopped", False)}) == {"a": [Flag("b", "stopped")], "b": []}


@pytest.mark.parametrize("flag, text", [
    (Flag("fake_cell", "stopped"), "depends on fake_cell (stopped)"),
    (Flag("fake_cell", "failed", ("api", "proxy")), "depends on fake_cell (failed) via api → proxy"),
])
def test_flag_text(flag, text):
    assert flag.text == text


@pytest.mark.parametrize("e, label, tone", [
    (entry(), "running", OK),
    (entry(ready=False), "running, not ready", WARN),
    (entry("pending", False), "pending", WARN),
    (entry("starting", False), "starting", WARN),
    (entry("starting", False, exitCode=3), "restarting (exit 3)", BAD),
    (entry("stopping", False), "stopping", WARN),
    (entry("stopped", False), "stopped by user", BAD),           # a blocking service the stack needs
    (entry("stopped", False, blocking=False), "stopped by user", OFF),
    (entry("failed", False), "failed", BAD),
    (entry("disabled", False), "disabled", OFF),
])
def test_label_and_tone(e, label, tone):
    assert label_and_tone(e) == (label, tone)


def test_stack_health_flags_dependents_and_says_who_needs_whom():
    statuses = {name: entry() for name in DEPS} | {"cell": entry("stopped", False)}
    health = stack_health(statuses, DEPS)
    assert health["cell"] == {"tone": BAD, "label": "stopped by user", "flags": [], "dependsOn": [], "neededBy": ["api"]}
    assert health["api"]["tone"] == WARN and health["api"]["flags"] == ["depends on cell (stopped)"]
    assert health["moto"]["tone"] == OK and health["moto"]["neededBy"] == ["api"]
    started = stack_health({name: entry() for name in DEPS}, DEPS)
    assert all(h["tone"] == OK and h["flags"] == [] for h in started.values())
