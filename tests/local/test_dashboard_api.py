"""The dashboard's HTTP API on a real supervisor: the /api/status contract, JSON errors, and the control defences."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from hd_testing import free_ports, stack_doc, svc
from hippodrome_k8s.dashboard.server import start_dashboard
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.local.supervisor import Supervisor
from hippodrome_k8s.core.resolver import ResolveOptions, resolve


@pytest.fixture
async def running(tmp_path):
    dash, port = free_ports(2)
    stack = load_stack_data(stack_doc([{"name": "web", "port": port, "layer": 0, "run": {"command": svc()}}], dash))
    sup = Supervisor(resolve(stack, ResolveOptions(project_root=str(tmp_path))), project_root=tmp_path, console=None)
    sup.launcher.start_watchdog()
    dashboard = await start_dashboard(sup)
    await sup.start_all()
    async with aiohttp.ClientSession() as http:
        yield sup, f"http://127.0.0.1:{dash}", http
    await sup.stop_all()
    await dashboard.close()
    await sup.prober.close()
    sup.launcher.stop_watchdog()
    sup.close_logs()


async def test_status_contract(running):
    sup, url, http = running
    async with http.get(url + "/api/status") as r:
        assert r.status == 200
        body = await r.json()
    web = body["web"]
    assert {"status", "layer", "port", "url", "ready", "restarts", "pid", "since", "message"} <= set(web)
    assert web["status"] == "running" and web["ready"] is True and web["pid"] == sup.store.get("web").pid
    async with http.get(url + "/api/stack") as r:
        stack = await r.json()
    assert stack["name"] == "test" and stack["layers"] == [["web"]] and stack["tablePrefix"] == "t-"
    async with http.get(url + "/api/logs/web?lines=5") as r:
        assert "svc listening" in "\n".join((await r.json())["lines"])
    async with http.get(url + "/healthz") as r:
        assert r.status == 200


async def test_status_is_answered_from_state_not_by_probing(running):
    sup, url, http = running
    calls = []
    real_probe = sup.prober.probe

    async def counting_probe(*args, **kwargs):
        calls.append(args)
        return await real_probe(*args, **kwargs)

    sup.prober.probe = counting_probe  # the running service is probed every 5 s; requests must add nothing
    for _ in range(20):
        async with http.get(url + "/api/status") as r:
            assert r.status == 200
    assert len(calls) <= 1


@pytest.mark.parametrize("path,method,status", [("/nope", "GET", 404), ("/api/status", "POST", 405),
                                                ("/api/logs/nope", "GET", 404), ("/api/status?log=x", "GET", 400)])
async def test_errors_are_json(running, path, method, status):
    _, url, http = running
    async with http.request(method, url + path) as r:
        assert r.status == status
        assert r.content_type == "application/json"
        assert (await r.json())["error"]


async def test_control_needs_the_token(running):
    sup, url, http = running
    async with http.post(url + "/api/control/stop", json={"service": "web"}) as r:
        assert r.status == 403
    async with http.post(url + "/api/control/stop", json={"service": "web"}, headers={"X-Hippodrome-Token": "guess"}) as r:
        assert r.status == 403
    assert sup.store.get("web").status.value == "running"


async def test_control_from_another_origin_is_refused_even_with_the_token(running):
    sup, url, http = running
    headers = {"X-Hippodrome-Token": sup.token, "Origin": "http://evil.example"}
    async with http.post(url + "/api/control/stop", json={"service": "web"}, headers=headers) as r:
        assert r.status == 403 and "cross-origin" in (await r.json())["error"]
    assert sup.store.get("web").status.value == "running"


async def test_a_rebinding_host_is_refused(running):
    sup, url, http = running
    async with http.get(url + "/", headers={"Host": "attacker.example:9000"}) as r:
        assert r.status == 403
        assert sup.token not in await r.text()
    headers = {"X-Hippodrome-Token": sup.token, "Host": "attacker.example"}
    async with http.post(url + "/api/control/stop", json={"service": "web"}, headers=headers) as r:
        assert r.status == 403


async def test_control_with_the_token_works_and_validates_its_body(running):
    sup, url, http = running
    headers = {"X-Hippodrome-Token": sup.token}
    async with http.post(url + "/api/control/dance", json={}, headers=headers) as r:
        assert r.status == 404
    async with http.post(url + "/api/control/stop", data="not json", headers=headers) as r:
        assert r.status == 400
    async with http.post(url + "/api/control/stop", json={"service": 3}, headers=headers) as r:
        assert r.status == 422
    async with http.post(url + "/api/control/stop", json={"service": "nope"}, headers=headers) as r:
        assert r.status == 409 and "no service named 'nope'" in (await r.json())["error"]
    old = sup.store.get("web").pid
    async with http.post(url + "/api/control/restart", json={"service": "web"}, headers=headers) as r:
        assert r.status == 200 and (await r.json())["services"] == ["web"]
    snap = await asyncio.wait_for(sup.store.wait_until(lambda s: s["web"].ready and s["web"].pid != old), 10)
    assert snap["web"].restarts == 1


@pytest.mark.parametrize("depth", [900, 1_000, 5_000])
async def test_a_control_body_nested_too_deep_is_a_400_not_a_500(running, depth):
    sup, url, http = running
    body = '{"service": ' + "[" * depth + "]" * depth + "}"
    headers = {"X-Hippodrome-Token": sup.token, "Content-Type": "application/json"}
    async with http.post(url + "/api/control/stop", data=body, headers=headers) as r:
        assert r.status == 400 and r.content_type == "application/json"
        assert "deeper than 64" in (await r.json())["error"]
    assert sup.store.get("web").status.value == "running"


async def test_a_token_that_is_not_utf8_is_a_400_not_a_500(running):
    sup, url, _ = running
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/control/stop HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Hippodrome-Token: \xff\xfe\r\n"
                 b"Content-Length: 0\r\nConnection: close\r\n\r\n" % port)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/json" in head
    assert "X-Hippodrome-Token" in json.loads(body)["error"]
    assert sup.store.get("web").status.value == "running"


async def test_what_aiohttp_refuses_itself_is_json_with_its_status(running):
    _, url, http = running
    async with http.get(url + "/" + "a" * 100_000) as r:
        assert r.status == 400 and r.content_type == "application/json"
        assert "8190 bytes" in (await r.json())["error"]


async def test_the_page_carries_the_token_and_refuses_framing(running):
    sup, url, http = running
    async with http.get(url + "/") as r:
        page = await r.text()
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "Access-Control-Allow-Origin" not in r.headers
    assert f'content="{sup.token}"' in page


async def test_a_taken_dashboard_port_is_a_clear_error(tmp_path):
    import os
    import socket

    from hippodrome_k8s.core.errors import PortInUseError

    dash, port = free_ports(2)
    holder = socket.socket()
    holder.bind(("127.0.0.1", dash))
    holder.listen()
    stack = load_stack_data(stack_doc([{"name": "web", "port": port, "layer": 0, "run": {"command": svc()}}], dash))
    sup = Supervisor(resolve(stack, ResolveOptions(project_root=str(tmp_path))), project_root=tmp_path, console=None)
    try:
        with pytest.raises(PortInUseError) as caught:
            await start_dashboard(sup)
        assert f"127.0.0.1:{dash}" in str(caught.value) and f"held by pid {os.getpid()}" in str(caught.value)
    finally:
        holder.close()
        sup.close_logs()
