"""console: the Node.js page, its JSON API in front of the controller, and `npm ci` working."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import ROOT, Stack, assert_json_error, dead_url

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def console(stack: Stack) -> str:
    stack.ensure("controller", "console")
    return stack.url("console")


def test_page_and_healthz(console: str) -> None:
    assert requests.get(console + "/healthz", timeout=5).json()["status"] == "ok"
    page = requests.get(console + "/", timeout=5)
    assert page.status_code == 200 and "Hippodrome console" in page.text
    assert "fetch('/api/indexes'" in requests.get(console + "/app.js", timeout=5).text


def test_lists_the_accounts_indexes(stack: Stack, console: str) -> None:
    requests.post(f"{stack.url('controller')}/api/v2/indexes/console-ix", headers={"x-api-key": stack.demo_key},
                  timeout=10)
    r = requests.get(console + "/api/indexes", headers={"x-api-key": stack.demo_key}, timeout=10)
    assert r.status_code == 200, r.text
    assert "console-ix" in [i["indexName"] for i in r.json()["results"]]
    assert_json_error(requests.get(console + "/api/indexes", headers={"x-api-key": "wrong"}, timeout=10), 401)


def test_default_key_from_env(stack: Stack) -> None:
    proc = stack.start_extra("console", CONSOLE_API_KEY=stack.demo_key)
    assert requests.get(proc.url + "/api/config", timeout=5).json()["hasDefaultKey"] is True
    assert requests.get(proc.url + "/api/indexes", timeout=10).status_code == 200
    proc.stop()


def test_errors_are_json(stack: Stack, console: str) -> None:
    assert_json_error(requests.get(console + "/nope", timeout=5), 404)
    assert_json_error(requests.post(console + "/api/indexes", timeout=5), 405)
    keyless = stack.start_extra("console", CONSOLE_API_KEY="")  # the stack file gives the console the demo key
    assert_json_error(requests.get(keyless.url + "/api/indexes", timeout=5), 401)
    keyless.stop()
    broken = stack.start_extra("console", CONTROLLER_URL=dead_url())
    assert_json_error(requests.get(broken.url + "/api/indexes", headers={"x-api-key": stack.demo_key}, timeout=10),
                      502)
    broken.stop()


def test_npm_ci_works_offline(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "examples" / "console" / name, tmp_path / name)
    done = subprocess.run(["npm", "ci", "--offline", "--no-audit", "--no-fund"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
