"""Server push and the log API on a real supervisor over real HTTP: /api/events carries state changes
and log lines; a stream that falls behind is dropped without holding anyone up; /api/logs pages,
interleaves, streams and serves the whole file; /api/stack has health and timings."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from hd_testing import free_ports, stack_doc, svc
from hippodrome_k8s.core.contract import StackPhase
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.resolver import ResolveOptions, resolve
from hippodrome_k8s.dashboard.events import RESET, EventHub
from hippodrome_k8s.dashboard.server import start_dashboard
from hippodrome_k8s.local.supervisor import Supervisor


@pytest.fixture
async def running(tmp_path):
    dash, cell, web = free_ports(3)
    stack = load_stack_data(stack_doc([
        {"name": "cell", "port": cell, "layer": 0, "run": {"command": svc()}},
        {"name": "web", "port": web, "layer": 1, "env": {"CELL": "${services.cell.url}"},
         "run": {"command": svc("--chatter", "0.05")}},
    ], dash))
    sup = Supervisor(resolve(stack, ResolveOptions(project_root=str(tmp_path))), project_root=tmp_path, console=None)
    sup.launcher.start_watchdog()
    dashboard = await start_dashboard(sup)
    await sup.start_all()
    sup.store.set_lifecycle(StackPhase.RUNNING)  # as Supervisor.run does once every layer is up
    async with aiohttp.ClientSession() as http:
        yield sup, f"http://127.0.0.1:{dash}", http
    await sup.stop_all()
    await dashboard.close()
    await sup.prober.close()
    sup.launcher.stop_watchdog()
    for log in sup.logs.values():
        log.close()


async def events(response, until, timeout: float = 15.0) -> list[tuple[str, dict]]:
    """Read Server-Sent Events until ``until(received)`` holds."""
    received: list[tuple[str, dict]] = []
    kind = None

    async def read() -> None:
        nonlocal kind
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                received.append((kind, json.loads(line[6:])))
                if until(received):
                    return

    await asyncio.wait_for(read(), timeout)
    return received


async def test_the_stream_starts_with_a_snapshot_then_carries_changes(running):
    sup, url, http = running
    async with http.get(url + "/api/events") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
        [(kind, snap)] = await events(r, lambda got: len(got) >= 1)
        assert kind == "snapshot" and set(snap["status"]) == {"cell", "web"}
        assert snap["stack"]["health"]["web"]["dependsOn"] == ["cell"] and snap["stack"]["phase"] == "running"
        await sup.control("stop", "cell")
        got = await events(r, lambda got: any(k == "stack" and d.get("phase") == "degraded" for k, d in got)
                           and any(k == "status" and d["changed"].get("cell", {}).get("status") == "stopped" for k, d in got))
        kinds = {k for k, _ in got}
        assert kinds <= {"status", "stack"}  # no log lines on a stream that did not ask for them
        health = [d["health"] for k, d in got if k == "stack" and "health" in d][-1]
        assert health["web"]["flags"] == ["depends on cell (stopped)"] and health["cell"]["tone"] == "bad"


async def test_the_page_stream_carries_new_log_lines_in_order(running):
    sup, url, http = running
    async with http.get(url + "/api/events?logs=1") as r:
        got = await events(r, lambda got: sum(len(d["lines"]) for k, d in got if k == "log") >= 10)
    lines = [x for k, d in got if k == "log" for x in d["lines"]]
    seqs = [x["seq"] for x in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert any(x["service"] == "web" and x["text"].startswith("tick ") for x in lines)


async def test_the_log_api_pages_interleaves_follows_and_serves_the_file(running):
    sup, url, http = running
    await asyncio.sleep(0.3)
    async with http.get(url + "/api/logs/web?n=3") as r:
        last3 = await r.json()
    assert len(last3["lines"]) == 3 and all(x["service"] == "web" for x in last3["entries"])
    assert last3["next"] == last3["entries"][-1]["seq"]
    await asyncio.sleep(0.3)
    async with http.get(url + f"/api/logs/web?since={last3['next']}&n=1000") as r:
        newer = await r.json()
    assert newer["entries"] and all(x["seq"] > last3["next"] for x in newer["entries"])
    async with http.get(url + "/api/logs/web?lines=2") as r:  # the older parameter name still works
        assert len((await r.json())["lines"]) == 2
    async with http.get(url + "/api/logs?n=1000") as r:
        every = (await r.json())["entries"]
    assert {"cell", "web", "hippodrome"} <= {x["service"] for x in every}
    assert [x["seq"] for x in every] == sorted(x["seq"] for x in every)
    async with http.get(url + "/api/logs/web?follow=1&n=2") as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        got = await events(r, lambda got: sum(len(d["lines"]) for _, d in got) >= 5)
    followed = [x for _, d in got for x in d["lines"]]
    assert {x["service"] for x in followed} == {"web"} and len(got[0][1]["lines"]) == 2
    assert [x["seq"] for x in followed] == sorted({x["seq"] for x in followed})  # no gap-filling repeats
    async with http.get(url + "/api/logs/web/file") as r:
        assert r.status == 200 and r.content_type == "text/plain" and "svc listening" in await r.text()
    for path in ("/api/logs/nope", "/api/logs/nope/file", "/api/logs/web?since=x"):
        async with http.get(url + path) as r:
            assert r.status in (400, 404) and (await r.json())["error"]


async def test_stack_has_the_timings_of_the_up_and_of_a_restart(running):
    sup, url, http = running
    await sup.control("restart", "web")
    async with http.get(url + "/api/stack") as r:
        stack = await r.json()
    rounds = stack["timings"]["rounds"]
    assert [r["kind"] for r in rounds] == ["up", "restart"] and stack["timings"]["lastUp"] == rounds[0]["id"]
    assert rounds[0]["criticalPath"] == ["cell", "web"] and rounds[0]["figures"]["total"] > 0
    assert [s["name"] for s in rounds[1]["services"]] == ["web"]
    assert stack["features"]["logs"] is True and stack["health"]["cell"]["neededBy"] == ["web"]


class _Source:
    """Just enough of a StatusSource for the hub: a counter that changes on demand."""

    def __init__(self):
        self.n = 0
        self.listeners = []

    def status_json(self):
        return {"s": {"status": "running", "n": self.n}}

    def stack_json(self):
        return {"phase": "running"}

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def change(self):
        self.n += 1
        for listener in self.listeners:
            listener()


async def test_a_client_that_falls_behind_is_dropped_and_the_others_carry_on():
    source = _Source()
    hub = EventHub(source, interval=0.0, queue_size=4)
    await hub.start()
    try:
        stuck = hub.connect(state=True, logs=None)   # never reads its queue
        reader = hub.connect(state=True, logs=None)
        seen = []
        for _ in range(20):
            source.change()                           # the source only sets a flag: it never waits for a client
            await asyncio.sleep(0.01)
            while not reader.queue.empty():
                seen.append(reader.queue.get_nowait())
        assert stuck.dropped and list(stuck.queue._queue) == [RESET, None]
        assert not reader.dropped and len(seen) >= 10
        assert b'"n":20' in seen[-1]
    finally:
        await hub.close()
    assert source.listeners == []
