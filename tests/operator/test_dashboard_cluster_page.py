"""The in-cluster dashboard serves the same page as the local engine, in a real headless browser:
services from the stack's status, their restarts, the port-forward health the CLI published,
dependency flags from the stack's own spec, controls through the control annotation (acknowledged
here by a stand-in for the operator), and no log pane nor shutdown (the cluster has neither).

The fetch/patch pair stands in for the API server, as in test_dashboard_cluster.py; the cluster
tier runs the same page against the real control plane.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import threading
from pathlib import Path

import pytest

from hd_testing import REPO, free_ports, stack_doc
from hippodrome_k8s.dashboard.cluster import ClusterStatusSource, cluster_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.browser


def entry(layer: int, port: int, status: str = "running", restarts: int = 0) -> dict:
    return {"status": status, "layer": layer, "port": port, "url": f"http://dev-x.ns.svc.cluster.local:{port}",
            "ready": status == "running", "restarts": restarts, "pid": None, "since": 1.0,
            "message": "" if status == "running" else "stopped on request", "blocking": True}


def body() -> dict:
    doc = stack_doc([
        {"name": "fake_cell", "port": 9001, "layer": 0, "run": {"command": ["x"]}},
        {"name": "controller", "port": 9002, "layer": 1, "env": {"CELL": "${services.fake_cell.url}"},
         "run": {"command": ["x"]}},
    ], 9000)
    doc["spec"]["dashboard"] = {"port": 9000}
    forwards = {"updatedAt": 1.0, "forwards": {"controller": {"state": "reconnecting", "target": None, "reconnects": 2},
                                               "fake_cell": {"state": "ok", "target": "pod/x", "reconnects": 0}}}
    doc["metadata"] = {"name": "dev", "generation": 1, "annotations": {"hippodrome.dev/forwards": json.dumps(forwards)}}
    doc["status"] = {"phase": "Ready", "profile": "full", "cell": "local", "observedGeneration": 1,
                     "services": {"fake_cell": entry(0, 9001), "controller": entry(1, 9002, restarts=3)}}
    return doc


class ClusterDashboard:
    """The in-cluster dashboard on a free loopback port, its loop in a thread; the stack in memory."""

    def __init__(self) -> None:
        self.body = body()
        self.patches: list[dict] = []
        self.port = free_ports(1)[0]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def fetch(self) -> dict:
        return copy.deepcopy(self.body)

    async def patch(self, change: dict) -> None:
        """What the operator does with a control request: act on it, then acknowledge it in the status."""
        self.patches.append(change)
        request = json.loads(change["metadata"]["annotations"]["hippodrome.dev/control"])
        services = self.body["status"]["services"]
        layer, port = services[request["service"]]["layer"], services[request["service"]]["port"]
        services[request["service"]] = entry(layer, port, "stopped" if request["action"] == "stop" else "running")
        self.body["status"]["phase"] = "Degraded" if request["action"] == "stop" else "Ready"
        self.body["status"]["lastControl"] = {**request, "result": "ok"}

    def _serve(self) -> None:
        from aiohttp import web

        async def main() -> None:
            source = ClusterStatusSource("dev", "ns", self.fetch, self.patch, token="t0k")
            runner = web.AppRunner(cluster_app(source, 9000), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self.stop = asyncio.Event()
            refresher = asyncio.create_task(source.run(0.1))
            self.ready.set()
            await self.stop.wait()
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
            await runner.cleanup()

        self.loop.run_until_complete(main())
        self.loop.close()

    def __enter__(self) -> "ClusterDashboard":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; scripts/test does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1100, "height": 800})
        finally:
            browser.close()


def test_the_cluster_serves_the_same_page_with_pods_restarts_and_forwards(page):
    with ClusterDashboard() as cluster:
        page.goto(f"http://127.0.0.1:{cluster.port}/")
        ctl, cell = 'tr[data-service="controller"]', 'tr[data-service="fake_cell"]'
        page.wait_for_selector(f'{ctl} td[data-status="running"]', timeout=15_000)
        assert "k8s" in page.locator("#stack").inner_text() and page.locator("#phase").inner_text() == "Ready"
        assert page.locator(f"{ctl} td.restarts").inner_text() == "3"
        assert page.locator(f"{ctl} .forward").inner_text() == "port-forward: reconnecting (2 reconnects)"
        assert page.locator(f"{cell} .forward").inner_text() == "port-forward: ok"
        assert page.locator("#logs-section").is_hidden()                      # logs: `hippodrome k8s logs`
        assert page.locator('button[data-stack-action="shutdown"]').is_hidden()  # `hippodrome k8s down`
        assert page.locator('button[data-stack-action="restart"]').is_visible()

        page.click(f'{cell} button[data-action="stop"]')
        page.wait_for_selector(f'{cell}[data-tone="bad"] td[data-status="stopped"]', timeout=15_000)
        page.wait_for_selector(f'{ctl}[data-flagged="true"]', timeout=10_000)
        assert page.locator(f"{ctl} ul.flags").inner_text() == "depends on fake_cell (stopped)"
        assert page.locator("#phase").inner_text() == "Degraded"
        request = json.loads(cluster.patches[0]["metadata"]["annotations"]["hippodrome.dev/control"])
        assert (request["action"], request["service"]) == ("stop", "fake_cell")
        (REPO / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "test-artifacts" / "dashboard-cluster.png"), full_page=True)

        page.click(f'{cell} button[data-action="start"]')
        page.wait_for_selector(f'{ctl}:not([data-flagged])', timeout=15_000)
        assert page.locator("#phase").inner_text() == "Ready"
