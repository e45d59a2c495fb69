"""`hippodrome k8s up --profile ecom` on a real kind cluster, through the real CLI.

Slow (image builds, a cluster): minutes, not seconds.  Uses the repository's hippodrome.yaml and
the fixed ports 9000-9019, so run it on a machine where no other stack uses them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hd_testing import READINESS_SCRIPT

pytestmark = pytest.mark.kind

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "hippodrome-test"


def hippodrome(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli.main", "k8s", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)


def api_status(timeout: float = 2.0) -> dict:
    with urllib.request.urlopen("http://127.0.0.1:9000/api/status", timeout=timeout) as response:
        return json.loads(response.read())


def wait_all_ready(deadline_s: float = 300) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            status = api_status()
            if status and all(s["ready"] for s in status.values() if s.get("status") != "disabled"):
                return status
        except OSError:
            pass
        assert time.monotonic() < deadline, "the stack never became ready through the forwards"
        time.sleep(1)


@pytest.fixture(scope="module")
def stack():
    up = hippodrome("up", "--profile", "ecom", "--cluster", CLUSTER, "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    yield up
    down = hippodrome("down", "--delete-cluster", timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr


def test_readiness_through_the_forwards(stack):
    status = wait_all_ready()
    assert {"moto", "fake_cognito", "controller"} <= set(status)
    for s in status.values():
        assert {"status", "layer", "port", "url", "ready", "restarts", "since", "message"} <= set(s)


def test_kubectl_get_hippodromestacks(stack):
    out = subprocess.run(["kubectl", "--context", f"kind-{CLUSTER}", "get", "hippodromestacks", "-A"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "Ready" in out.stdout


def test_the_stateful_fakes_keep_their_data_in_bound_claims(stack):
    state = json.loads((ROOT / ".hippodrome/k8s/state.json").read_text())
    out = subprocess.run(["kubectl", "--context", state["context"], "-n", state["namespace"], "get", "pvc", "-o",
                          "jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}"],
                         capture_output=True, text=True, timeout=30)
    claims = dict(pair.split("=") for pair in out.stdout.split())
    assert claims.get("dev-fake-cell-state") == "Bound" and claims.get("dev-moto-state") == "Bound", out.stdout


def test_status_shows_forward_health(stack):
    out = hippodrome("status", timeout=60)
    assert out.returncode == 0 and "port-forwards (pid" in out.stdout and " ok " in out.stdout


def test_deleted_pod_and_its_forward_recover(stack):
    wait_all_ready()
    state = json.loads((ROOT / ".hippodrome/k8s/state.json").read_text())
    subprocess.run(["kubectl", "--context", state["context"], "-n", state["namespace"], "delete", "pod", "-l",
                    f"hippodrome.dev/stack={state['stack']},hippodrome.dev/service=controller", "--wait=false"],
                   check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:9002/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the controller forward did not recover"
        time.sleep(0.5)
    health = json.loads((ROOT / ".hippodrome/k8s/forwards.json").read_text())["forwards"]["controller"]
    assert health["state"] == "ok" and health["reconnects"] >= 1




def test_the_seeds_readiness_script_passes_through_the_forwards(stack):
    wait_all_ready()
    with urllib.request.urlopen("http://127.0.0.1:9000/api/status", timeout=5) as response:
        raw = response.read().decode()
    check = subprocess.run([sys.executable, "-c", READINESS_SCRIPT], input=raw, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert "All services ready." in check.stdout


def test_the_smoke_suite_passes_through_the_forwards(stack):
    from hippodrome_k8s.cli.smoke import build_checks, format_results, run_checks

    status = wait_all_ready()
    env_out = hippodrome("env", timeout=60)
    assert env_out.returncode == 0, env_out.stderr
    env = dict(line.split("=", 1) for line in env_out.stdout.splitlines() if "=" in line)
    local = {name: dict(info, url=f"http://127.0.0.1:{info['port']}") for name, info in status.items()}
    results = run_checks(build_checks(env, local))
    assert all(r.ok for r in results), format_results(results, 0.0)
