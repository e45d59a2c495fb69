"""The dashboard as a person uses it, in a real headless browser (Debian's chromium driven by
Playwright), against a fixture stack started with `hippodrome up --detach` on free ports:

    layer 0   fake_cell (quick)        db (slow to turn healthy)
    layer 1   api  -> ${services.fake_cell.url}, ${services.db.url}; prints a line every 0.2 s
    layer 2   worker -> ${services.api.url}       ui (non-blocking; prints an error line at start)

Screenshots go to test-artifacts/ (kept by CI, never committed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from hd_testing import REPO, free_ports, stack_doc, svc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")}
ERROR_LINE = "ERROR: ui cannot reach its upstream (a fixture line)"
SERVICES = ["fake_cell", "db", "api", "worker", "ui"]

pytestmark = pytest.mark.browser


def hippodrome(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=CLEAN_ENV)


def fixture_doc(ports: list[int]) -> dict:
    dash, cell, db, api, worker, ui = ports
    return stack_doc([
        {"name": "fake_cell", "port": cell, "layer": 0, "run": {"command": svc("--delay", "0.1")}},
        {"name": "db", "port": db, "layer": 0, "run": {"command": svc("--delay", "1.5")}},
        {"name": "api", "port": api, "layer": 1, "env": {"CELL": "${services.fake_cell.url}", "DB": "${services.db.url}"},
         "run": {"command": svc("--chatter", "0.2")}},
        {"name": "worker", "port": worker, "layer": 2, "env": {"API": "${services.api.url}"}, "run": {"command": svc()}},
        {"name": "ui", "port": ui, "layer": 2, "blocking": False, "run": {"command": svc("--say", ERROR_LINE)}},
    ], dash)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import yaml

    root = tmp_path_factory.mktemp("dash")
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(fixture_doc(free_ports(6)), sort_keys=False))
    up = hippodrome("up", "--detach", cwd=root)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        info = json.loads((root / ".hippodrome" / "run.json").read_text())
        yield {"root": root, "url": info["dashboardUrl"], "token": info["token"]}
    finally:
        hippodrome("control", "shutdown", cwd=root)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; scripts/test does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(stack["url"] + "/")
    for name in SERVICES:
        page.wait_for_selector(f'tr[data-service="{name}"] td[data-status="running"]', timeout=30_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def api_status(stack) -> dict:
    return requests.get(stack["url"] + "/api/status", timeout=5).json()


def control(stack, action: str, service: str | None) -> None:
    r = requests.post(f"{stack['url']}/api/control/{action}", json={"service": service},
                      headers={"X-Hippodrome-Token": stack["token"]}, timeout=60)
    assert r.status_code == 200, r.text


def test_a_selection_in_a_log_line_survives_live_updates(stack, page):
    page.wait_for_selector('#log .line[data-service="api"]', timeout=15_000)
    selected = page.evaluate("""() => {
        const line = [...document.querySelectorAll('#log .line[data-service="api"]')].pop();
        const text = line.querySelector(".text").firstChild;
        const range = document.createRange();
        range.setStart(text, 0);
        range.setEnd(text, text.length);
        document.getSelection().removeAllRanges();
        document.getSelection().addRange(range);
        window.__selectedLine = line;
        return {text: document.getSelection().toString(), lines: document.querySelectorAll('#log .line').length};
    }""")
    assert selected["text"].startswith("tick ")
    restarts = api_status(stack)["worker"]["restarts"]
    control(stack, "restart", "worker")  # the table changes too, while the selection is held
    page.wait_for_function(f"""() => Number(document.querySelector('tr[data-service="worker"] td.restarts')
                               .textContent) > {restarts}""", timeout=15_000)
    page.wait_for_timeout(3000)
    after = page.evaluate("""() => ({text: document.getSelection().toString(),
        same: document.getSelection().anchorNode.parentElement.closest('.line') === window.__selectedLine,
        lines: document.querySelectorAll('#log .line').length})""")
    assert after["lines"] > selected["lines"] + 5, "the log kept streaming"
    assert after["text"] == selected["text"] and after["same"]
    shot(page, "selection")


def test_the_waterfall_shows_a_bar_per_service_with_the_critical_path(stack, page):
    rows = page.locator('#waterfall .wf-row')
    assert rows.count() == len(SERVICES)
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.service)")) == sorted(SERVICES)
    assert page.locator("#waterfall .wf-bar").count() == len(SERVICES)
    critical = page.locator('#waterfall .wf-row[data-critical="true"]').evaluate_all(
        "rows => rows.map(r => r.dataset.service)")
    assert critical == ["db", "api", "worker"]  # db gates layer 1 (it is the slow one); ui never gates
    assert "critical" in page.locator('#waterfall .wf-row[data-service="db"]').inner_text()
    figures = page.locator("#figures").inner_text()
    assert "critical path" in figures and "db → api → worker" in figures
    timings = requests.get(stack["url"] + "/api/stack", timeout=5).json()["timings"]
    up = next(r for r in timings["rounds"] if r["id"] == timings["lastUp"])
    assert up["criticalPath"] == critical and {s["name"] for s in up["services"]} == set(SERVICES)
    shot(page, "waterfall")


def test_stopping_the_cell_turns_it_red_and_flags_its_dependents_and_starting_clears_them(stack, page):
    cell, api, worker = ('tr[data-service="fake_cell"]', 'tr[data-service="api"]', 'tr[data-service="worker"]')
    assert page.locator(f'{cell} button[data-action="start"]').is_hidden()
    page.focus(f'{cell} button[data-action="stop"]')  # keyboard-reachable: focus it and press Enter
    page.keyboard.press("Enter")
    page.wait_for_selector(f'{cell}[data-tone="bad"] td[data-status="stopped"]', timeout=20_000)
    assert page.locator(f"{cell} .pill").inner_text() == "stopped by user"
    page.wait_for_selector(f'{api}[data-flagged="true"]', timeout=10_000)
    assert page.locator(f"{api} ul.flags").inner_text() == "depends on fake_cell (stopped)"
    assert page.locator(f"{worker} ul.flags").inner_text() == "depends on fake_cell (stopped) via api"
    assert page.locator('tr[data-service="db"] ul.flags li').count() == 0
    page.wait_for_selector('#stack[data-phase="degraded"]', timeout=10_000)
    assert page.locator(f'{cell} button[data-action="stop"]').is_hidden()  # controls fit the state
    shot(page, "cell-stopped")

    page.click(f'{cell} button[data-action="start"]')
    page.wait_for_selector(f'{cell}[data-tone="ok"] td[data-status="running"]', timeout=20_000)
    page.wait_for_selector(f'{api}:not([data-flagged])', timeout=10_000)
    assert page.locator("ul.flags li").count() == 0
    page.wait_for_selector('#stack[data-phase="running"]', timeout=10_000)
    assert page.locator(f'{cell} button[data-action="start"]').is_hidden()


def test_log_search_finds_a_line(stack, page):
    page.wait_for_selector("#log .line.err", timeout=15_000)
    assert ERROR_LINE in page.locator("#log .line.err").first.inner_text()  # error lines stand out
    page.fill("#log-search", "upstream (a fixture")
    visible = page.locator("#log .line:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#log .line:not([hidden])').length === 1")
    assert visible.first.get_attribute("data-service") == "ui" and ERROR_LINE in visible.first.inner_text()
    assert page.locator("#log-count").inner_text().startswith("1 matching")
    page.fill("#log-search", "/svc listening on .*pid/")
    page.select_option("#log-service", "worker")
    page.wait_for_function("""() => { const v = [...document.querySelectorAll('#log .line:not([hidden])')];
        return v.length >= 1 && v.every(l => l.dataset.service === 'worker'); }""")
    assert page.locator("#log-file").get_attribute("href").endswith("/api/logs/worker/file")
    whole = requests.get(stack["url"] + "/api/logs/worker/file", timeout=5)
    assert whole.status_code == 200 and "svc listening" in whole.text
    shot(page, "log-search")


def test_at_800_pixels_every_control_is_on_screen(stack, page):
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
    controls = page.locator("button:visible, select:visible, input:visible, a[href]:not(.skip):visible")
    assert controls.count() >= len(SERVICES) * 3 + 3
    for box in controls.evaluate_all("els => els.map(e => { const r = e.getBoundingClientRect(); "
                                     "return {left: r.left, right: r.right, width: r.width, what: e.outerHTML.slice(0, 80)}; })"):
        assert box["width"] > 0 and box["left"] >= 0 and box["right"] <= 800, box
    shot(page, "800px")
    # a stack-wide action asks first; Escape cancels it
    restarts = {n: s["restarts"] for n, s in api_status(stack).items()}
    page.click('button[data-stack-action="stop"]')
    assert page.locator("#confirm").is_visible() and "Stop every service" in page.locator("#confirm").inner_text()
    shot(page, "800px-confirm")
    page.keyboard.press("Escape")
    assert page.locator("#confirm").is_hidden()
    page.wait_for_timeout(500)
    assert {n: s["restarts"] for n, s in api_status(stack).items()} == restarts
    assert all(s["status"] == "running" for s in api_status(stack).values())


class _Evil(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b"<html><body>evil</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_control_still_refuses_a_foreign_origin(stack, browser):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        outcome = page.evaluate("""async (url) => {
            const results = {};
            try {
                await fetch(url + "/api/control/stop", {method: "POST",
                    headers: {"Content-Type": "application/json", "X-Hippodrome-Token": "guess"},
                    body: JSON.stringify({service: "fake_cell"})});
                results.preflighted = "sent";
            } catch (e) { results.preflighted = "blocked"; }
            try { await (await fetch(url + "/")).text(); results.read = "read"; } catch (e) { results.read = "blocked"; }
            try { await (await fetch(url + "/api/events")).text(); results.events = "read"; } catch (e) { results.events = "blocked"; }
            return results;
        }""", stack["url"])
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert outcome == {"preflighted": "blocked", "read": "blocked", "events": "blocked"}
    evil = requests.post(stack["url"] + "/api/control/stop", json={"service": "fake_cell"}, timeout=5,
                         headers={"X-Hippodrome-Token": stack["token"], "Origin": "http://evil.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["error"]
    time.sleep(0.2)
    assert api_status(stack)["fake_cell"]["status"] == "running"
