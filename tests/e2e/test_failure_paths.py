"""Failure paths on the running reference stack, each restored before the test ends.

Stopping the cell makes search_proxy answer 502 in JSON, and it recovers after `control start`;
a layer-2 service killed with SIGKILL is restarted by the supervisor and the dashboard shows it.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import requests

from e2e_support import DASHBOARD


def status() -> dict:
    return requests.get(DASHBOARD + "/api/status", timeout=5).json()


def wait_until(predicate, timeout: float = 60.0, what: str = "") -> dict:
    deadline = time.monotonic() + timeout
    seen = status()
    while time.monotonic() < deadline:
        seen = status()
        if predicate(seen):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {seen}")


def test_stopped_cell_gives_json_502_and_recovers(stack, control):
    urls = {n: i["url"] for n, i in stack["status"].items()}
    key = stack["env"]["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
    name = f"outage-{uuid.uuid4().hex[:6]}"
    created = requests.post(f"{urls['controller']}/api/v2/indexes/{name}", headers={"x-api-key": key}, json={}, timeout=30)
    assert created.status_code == 200, created.text
    search = f"{urls['search_proxy']}/indexes/{name}/search"
    try:
        assert requests.post(search, json={"q": "anything"}, headers={"x-api-key": key}, timeout=10).status_code == 200
        control("stop", "fake_cell")
        assert status()["fake_cell"]["status"] == "stopped"
        outage = requests.post(search, json={"q": "anything else"}, headers={"x-api-key": key}, timeout=30)
        assert outage.status_code == 502
        assert outage.headers["Content-Type"].startswith("application/json")
        assert outage.json()["message"]
    finally:
        control("start", "fake_cell")
        wait_until(lambda s: s["fake_cell"]["status"] == "running" and s["fake_cell"]["ready"], what="fake_cell running")
    recovered = requests.post(search, json={"q": "recovered"}, headers={"x-api-key": key}, timeout=10)
    assert recovered.status_code == 200, recovered.text
    requests.delete(f"{urls['controller']}/api/v2/indexes/{name}", headers={"x-api-key": key}, timeout=30)


def test_a_killed_layer_2_service_is_restarted(stack):
    before = status()["ecom_indexer"]
    assert before["status"] == "running" and before["layer"] == 2
    os.kill(before["pid"], signal.SIGKILL)
    restarting = wait_until(lambda s: s["ecom_indexer"]["pid"] != before["pid"] and s["ecom_indexer"]["restarts"] > before["restarts"],
                            timeout=30, what="ecom_indexer to be restarted")
    assert restarting["ecom_indexer"]["exitCode"] in (None, -9)
    after = wait_until(lambda s: s["ecom_indexer"]["status"] == "running" and s["ecom_indexer"]["ready"], what="ecom_indexer running")
    assert after["ecom_indexer"]["restarts"] == before["restarts"] + 1
    assert after["ecom_indexer"]["pid"] not in (None, before["pid"])
    assert all(i["status"] == "running" for i in after.values())
