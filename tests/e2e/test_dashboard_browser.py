"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Skipped, with the reason printed, where chromium or playwright is missing (scripts/test installs both).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e_support import DASHBOARD, REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; scripts/test does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            yield page
        finally:
            browser.close()


def test_dashboard_shows_every_service_and_restarts_one(stack, page):
    services = set(stack["status"])
    page.goto(DASHBOARD + "/")
    for name in services:
        page.wait_for_selector(f'tr[data-service="{name}"] td[data-status="running"]', timeout=30_000)
    assert page.locator("tr[data-service]").count() == len(services)
    assert "ready" in page.locator("#stack").inner_text()

    target = "exporters" if "exporters" in services else sorted(services)[-1]
    row = f'tr[data-service="{target}"]'
    restarts_before = int(page.locator(f"{row} td").nth(3).inner_text())
    page.click(f'{row} button[data-action="restart"]')
    # it goes through stopped/starting (the page refreshes right after the control call) ...
    page.wait_for_selector(f'{row} td[data-status]:not([data-status="running"])', timeout=10_000)
    # ... and back to running, with one more restart counted
    page.wait_for_function(
        """([sel, before]) => {
            const row = document.querySelector(sel);
            return row && row.querySelector("td[data-status]").dataset.status === "running"
                && Number(row.children[3].textContent) > before;
        }""",
        arg=[row, restarts_before], timeout=60_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert page.locator("#error").inner_text() == ""


def test_another_origin_cannot_control_the_stack(stack, page):
    """A page served from another origin tries to stop a service; the dashboard refuses."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Evil(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = b"<html><body>evil</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        outcome = page.evaluate("""async (url) => {
            const results = {};
            try {   // a simple (no-preflight) cross-origin POST: no token, reaches the server, must be refused
                const r = await fetch(url + "/api/control/stop", {method: "POST", mode: "no-cors",
                    headers: {"Content-Type": "text/plain"}, body: '{"service": "exporters"}'});
                results.simple = r.type;
            } catch (e) { results.simple = "error"; }
            try {   // with a guessed token header: the browser's CORS preflight is never approved
                await fetch(url + "/api/control/stop", {method: "POST",
                    headers: {"Content-Type": "application/json", "X-Hippodrome-Token": "guess"},
                    body: JSON.stringify({service: "exporters"})});
                results.preflighted = "sent";
            } catch (e) { results.preflighted = "blocked"; }
            try {   // reading the dashboard page (which holds the token) cross-origin
                await (await fetch(url + "/")).text();
                results.read = "read";
            } catch (e) { results.read = "blocked"; }
            return results;
        }""", DASHBOARD)
    finally:
        server.shutdown()
        server.server_close()
    assert outcome["preflighted"] == "blocked"
    assert outcome["read"] == "blocked"
    import requests

    status = requests.get(DASHBOARD + "/api/status", timeout=5).json()
    target = "exporters" if "exporters" in status else sorted(status)[-1]
    assert status[target]["status"] in ("running", "starting")  # nothing was stopped
