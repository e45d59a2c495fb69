"""The event stream's messages, pure: what turns one view of the stack into the next."""

from __future__ import annotations

import json

import pytest

from hippodrome_k8s.dashboard.view import View, diff, sse


def e(status="running", ready=True, uptime=1.0, **kw):
    return {"status": status, "ready": ready, "uptime": uptime, "restarts": 0, **kw}


BASE = View({"a": e(), "b": e()}, {"phase": "running", "ready": 2, "uptime": 10.0, "timings": {"rounds": []}})


@pytest.mark.parametrize("new, expected", [
    # nothing but the clock moved: nothing to send
    (View({"a": e(uptime=5.0), "b": e(uptime=5.0)}, {**BASE.stack, "uptime": 14.0}), []),
    (View({"a": e("stopped", False, None), "b": e()}, {**BASE.stack, "phase": "degraded", "ready": 1}), [
        ("status", {"changed": {"a": e("stopped", False, None)}, "removed": []}),
        ("stack", {"phase": "degraded", "ready": 1}),
    ]),
    # a service that went away, and one that came
    (View({"b": e(), "c": e("pending", False, None)}, BASE.stack), [
        ("status", {"changed": {"c": e("pending", False, None)}, "removed": ["a"]}),
    ]),
    # a new stack key is a change; whole values are sent, not deltas
    (View(BASE.status, {**BASE.stack, "timings": {"rounds": [1]}, "failure": None}), [
        ("stack", {"timings": {"rounds": [1]}, "failure": None}),
    ]),
])
def test_diff(new, expected):
    assert diff(BASE, new) == expected


def test_a_client_with_nothing_gets_a_snapshot():
    assert diff(None, BASE) == [("snapshot", {"status": dict(BASE.status), "stack": dict(BASE.stack)})]


def test_applying_the_messages_gives_the_new_view():
    new = View({"b": e(restarts=1), "c": e()}, {**BASE.stack, "phase": "degraded"})
    status, stack = {k: dict(v) for k, v in BASE.status.items()}, dict(BASE.stack)
    for kind, data in diff(BASE, new):
        if kind == "status":
            status.update(data["changed"])
            for name in data["removed"]:
                del status[name]
        else:
            stack.update(data)
    assert status == new.status and stack == new.stack


def test_sse_framing_keeps_one_event_per_block():
    frame = sse("status", {"text": "two\nlines"}).decode()
    assert frame.startswith("event: status\ndata: ") and frame.endswith("\n\n") and frame.count("\n") == 3
    assert json.loads(frame.split("data: ", 1)[1]) == {"text": "two\nlines"}
