"""The reference stack (hippodrome.yaml, profile full), started once for tests/e2e through the CLI.

If a stack is already running for the repository (a developer's), it is reused and left running;
otherwise one is started with HIPPODROME_RANDOM_SEED=42 and shut down when tests/e2e is done.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from e2e_support import DASHBOARD, REPO, hippodrome  # noqa: E402


def _running() -> bool:
    try:
        requests.get(DASHBOARD + "/healthz", timeout=1)
    except requests.RequestException:
        return False
    return (REPO / ".hippodrome" / "run.json").exists()


@pytest.fixture(scope="package")
def stack():
    """The running reference stack: {"env": hippodrome env as a dict, "status": /api/status at start}."""
    started_here = False
    if not _running():
        up = hippodrome("up", "--detach", env={"HIPPODROME_RANDOM_SEED": "42"})
        if up.returncode != 0:
            pytest.fail(f"hippodrome up failed:\n{up.stdout}\n{up.stderr}")
        started_here = True
    else:
        running = requests.get(DASHBOARD + "/api/stack", timeout=5).json()
        if running.get("profile") != "full" or running.get("cell") != "local":
            pytest.fail(f"a stack with profile {running.get('profile')} / cell {running.get('cell')} is running; "
                        "tests/e2e need profile full with --cell local: `hippodrome control shutdown`, then rerun "
                        "(the tests start one themselves)")
    env_out = hippodrome("env")
    env = dict(line.split("=", 1) for line in env_out.stdout.splitlines() if "=" in line)
    env = {k: v.strip("'") for k, v in env.items()}
    status = requests.get(DASHBOARD + "/api/status", timeout=5).json()
    yield {"env": env, "status": status, "token": json.loads((REPO / ".hippodrome" / "run.json").read_text())["token"]}
    if started_here:
        down = hippodrome("control", "shutdown")
        assert down.returncode == 0, down.stderr


@pytest.fixture
def control(stack):
    def post(action: str, service: str | None = None) -> dict:
        r = requests.post(f"{DASHBOARD}/api/control/{action}", json={"service": service},
                          headers={"X-Hippodrome-Token": stack["token"]}, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()

    return post
