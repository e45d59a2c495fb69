"""The in-cluster dashboard serves the local /api/status contract from the CR's status."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hippodrome_k8s.dashboard.cluster import ClusterStatusSource, cluster_app
from hippodrome_k8s.dashboard.server import TOKEN_HEADER, build_app

HOST = {"Host": "127.0.0.1:9000"}  # what a port-forward sends; the server binds an ephemeral port here


def stack(phase: str = "Ready", last: dict | None = None) -> dict:
    svc = lambda layer, port: {"status": "running", "layer": layer, "port": port,  # noqa: E731
                               "url": f"http://dev-x.ns.svc.cluster.local:{port}", "ready": True, "restarts": 0,
                               "pid": None, "since": 1.0, "message": "", "blocking": True}
    return {"metadata": {"name": "dev", "generation": 2}, "spec": {"profile": "core", "cell": "local"},
            "status": {"phase": phase, "observedGeneration": 2, "currentLayer": 1, "readyServices": "2/2",
                       "services": {"moto": svc(0, 9003), "controller": svc(1, 9002)},
                       "conditions": [], **({"lastControl": last} if last else {})}}


@pytest.fixture
async def client():
    state = {"body": stack()}
    patches = []

    async def fetch():
        return state["body"]

    async def patch(body):
        patches.append(body)
        request = json.loads(body["metadata"]["annotations"]["hippodrome.dev/control"])
        state["body"] = stack(last={**request, "result": "ok"})  # the operator acknowledges

    source = ClusterStatusSource("dev", "ns", fetch, patch, token="t0k")
    await source.refresh()
    async with TestClient(TestServer(cluster_app(source, 9000))) as c:
        c.patches = patches
        yield c


async def test_status_has_the_local_shape_and_passes_the_readiness_script(client) -> None:
    response = await client.get("/api/status", headers=HOST)
    data = await response.json()
    assert response.status == 200
    for info in data.values():
        assert {"status", "layer", "port", "url", "ready", "restarts", "pid", "since", "message"} <= set(info)
    assert data["moto"]["url"] == "http://127.0.0.1:9003"
    assert data["moto"]["clusterUrl"].endswith(".svc.cluster.local:9003")
    # the seed's readiness check, verbatim in logic
    not_running = [n for n, i in data.items() if i.get("status") != "running"]
    assert not_running == []


async def test_stack_and_healthz(client) -> None:
    stack_json = await (await client.get("/api/stack", headers=HOST)).json()
    assert stack_json["engine"] == "k8s" and stack_json["phase"] == "Ready" and stack_json["ready"] == 2
    assert stack_json["layers"] == [["moto"], ["controller"]]
    assert (await client.get("/healthz", headers=HOST)).status == 200


async def test_control_becomes_the_annotation_and_waits_for_the_operator(client) -> None:
    response = await client.post("/api/control/restart", headers={**HOST, TOKEN_HEADER: "t0k"},
                                 json={"service": "controller"})
    body = await response.json()
    assert response.status == 200 and body["result"] == "ok"
    request = json.loads(client.patches[0]["metadata"]["annotations"]["hippodrome.dev/control"])
    assert request["action"] == "restart" and request["service"] == "controller" and request["id"] == body["id"]
    refused = await client.post("/api/control/shutdown", headers={**HOST, TOKEN_HEADER: "t0k"})
    assert refused.status == 409


async def test_stack_data_carries_the_published_port_forward_health() -> None:
    body = stack()
    forwards = {"updatedAt": 1.0, "forwards": {"controller": {"state": "reconnecting", "target": None, "reconnects": 2}}}
    body["metadata"]["annotations"] = {"hippodrome.dev/forwards": json.dumps(forwards)}

    async def fetch():
        return body

    async def patch(_):
        raise AssertionError("reading must not patch")

    source = ClusterStatusSource("dev", "ns", fetch, patch, token="t")
    await source.refresh()
    assert source.stack_json()["forwards"] == forwards
    body["metadata"]["annotations"] = {"hippodrome.dev/forwards": "{not json"}
    await source.refresh()
    assert source.stack_json()["forwards"] is None


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:9000", True),
    ("127.0.0.1:9010", True),       # the stack's dashboard.port forwarded to the pod's 9000 (regression: 403)
    ("localhost:9017", True),
    ("[::1]:9000", True),
    ("evil.example:9000", False),   # DNS rebinding: another name
    ("127.0.0.1.evil.example:9000", False),
    ("10.0.0.7:9000", False),
])
async def test_the_cluster_dashboard_answers_loopback_on_any_forwarded_port(client, host, allowed) -> None:
    response = await client.get("/api/status", headers={"Host": host})
    assert (response.status == 200) is allowed, await response.text()


async def test_a_control_request_from_the_forwarded_page_is_accepted_and_from_elsewhere_refused(client) -> None:
    good = {"Host": "127.0.0.1:9010", "Origin": "http://127.0.0.1:9010", TOKEN_HEADER: "t0k"}
    response = await client.post("/api/control/restart", json={"service": "moto"}, headers=good)
    assert response.status == 200, await response.text()
    bad = {**good, "Origin": "http://evil.example:9010"}
    assert (await client.post("/api/control/restart", json={"service": "moto"}, headers=bad)).status == 403


async def test_the_local_dashboard_still_answers_only_on_its_own_port() -> None:
    source = ClusterStatusSource("dev", "ns", lambda: None, lambda body: None, token="t")
    async with TestClient(TestServer(build_app(source, 9000))) as c:
        assert (await c.get("/healthz", headers={"Host": "127.0.0.1:9000"})).status == 200
        assert (await c.get("/healthz", headers={"Host": "127.0.0.1:9010"})).status == 403
