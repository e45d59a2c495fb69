"""`hippodrome k8s up --profile ecom` on a real kind cluster, through the real CLI.

The cluster is pytest-kind-ng's (``kind_cluster``, tests/kind/conftest.py): created from kind/kind-config.yaml
with the pinned node image (or found, and then kept), with a kubeconfig of its own that every command here
uses (``KUBECONFIG``), so ~/.kube/config is not touched.  ``hippodrome k8s up --cluster <it>`` reuses it.

Slow (image builds, a cluster): minutes, not seconds.  Uses the repository's hippodrome.yaml and
the fixed ports 9000-9019, so run it on a machine where no other stack uses them: scripts/test-kind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hd_testing import READINESS_SCRIPT
from kindtier import PROFILE

pytestmark = pytest.mark.kind

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kind_env(kind_plan, kind_cluster) -> dict[str, str]:
    """The tier's PATH (the explicit kind/kubectl first, then this interpreter's scripts: Tilt runs
    `hippodrome`) and the cluster's kubeconfig."""
    env = kind_plan.env(kind_cluster.kubeconfig_path)
    env["PATH"] = os.pathsep.join([env["PATH"], str(Path(sys.executable).parent)])
    return env


def hippodrome(env: dict[str, str], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, env=env)


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
def stack(kind_cluster, kind_env):
    """The ecom stack on the tier's cluster; `k8s down` afterwards (the cluster is the fixture's to delete)."""
    up = hippodrome(kind_env, "up", "--profile", PROFILE, "--cluster", kind_cluster.name, "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    yield json.loads((ROOT / ".hippodrome/k8s/state.json").read_text())
    down = hippodrome(kind_env, "down", timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr


def test_readiness_through_the_forwards(stack):
    status = wait_all_ready()
    assert {"moto", "fake_cognito", "controller"} <= set(status)
    for s in status.values():
        assert {"status", "layer", "port", "url", "ready", "restarts", "since", "message"} <= set(s)


def test_kubectl_get_hippodromestacks(stack, kind_cluster):
    out = kind_cluster.kubectl("get", "hippodromestacks", "-A")
    row = next((line for line in out.splitlines() if stack["stack"] in line.split()), "")
    assert stack["namespace"] in row.split() and "Ready" in row.split(), out


def test_the_stateful_fakes_keep_their_data_in_bound_claims(stack, kind_cluster):
    out = kind_cluster.kubectl("-n", stack["namespace"], "get", "pvc", "-o",
                               "jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}")
    claims = dict(pair.split("=") for pair in out.split())
    assert claims.get("dev-fake-cell-state") == "Bound" and claims.get("dev-moto-state") == "Bound", out


def test_status_shows_forward_health(stack, kind_env):
    out = hippodrome(kind_env, "status", timeout=60)
    assert out.returncode == 0 and "port-forwards (pid" in out.stdout and " ok " in out.stdout


def test_the_dashboard_service_answers_the_same_through_a_plain_port_forward(stack, kind_cluster):
    """pytest-kind-ng's port_forward (one `kubectl port-forward`, a random local port) reaches the in-cluster
    dashboard Service directly; it serves the same services as the CLI's supervised forward on 9000."""
    service = kind_cluster.kubectl("-n", stack["namespace"], "get", "service", "-l",
                                   "app.kubernetes.io/component=dashboard", "-o", "jsonpath={.items[0].metadata.name}")
    through_cli = wait_all_ready()
    with kind_cluster.port_forward(f"service/{service}", 9000, "-n", stack["namespace"]) as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as response:
            direct = json.loads(response.read())
    assert set(direct) == set(through_cli) and all(s["ready"] for s in direct.values()
                                                   if s.get("status") != "disabled"), direct


def test_deleted_pod_and_its_forward_recover(stack, kind_cluster):
    wait_all_ready()
    kind_cluster.kubectl("-n", stack["namespace"], "delete", "pod", "-l",
                         f"hippodrome.dev/stack={stack['stack']},hippodrome.dev/service=controller", "--wait=false")
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


def test_the_smoke_suite_passes_through_the_forwards(stack, kind_env):
    """`hippodrome smoke`'s checks (it reads the local engine's run; here they get `hippodrome k8s env`)."""
    from hippodrome_k8s.cli.smoke import build_checks, format_results, run_checks

    status = wait_all_ready()
    env_out = hippodrome(kind_env, "env", timeout=60)
    assert env_out.returncode == 0, env_out.stderr
    env = dict(line.split("=", 1) for line in env_out.stdout.splitlines() if "=" in line)
    local = {name: dict(info, url=f"http://127.0.0.1:{info['port']}") for name, info in status.items()}
    results = run_checks(build_checks(env, local))
    assert all(r.ok for r in results), format_results(results, 0.0)


def test_tilt_ci_beside_the_cli_forwards(stack, kind_cluster, kind_env):
    """Last: `tilt ci` on the same cluster and profile, the ports left to the CLI's forwards (README, Tilt)."""
    tilt = shutil.which("tilt", path=kind_env["PATH"])
    if tilt is None:
        pytest.skip("tilt is not on PATH (optional: https://docs.tilt.dev/install.html)")
    env = dict(kind_env, HIPPODROME_FORWARDS="cli", HIPPODROME_PROFILE=PROFILE,
               HIPPODROME_KIND_CLUSTER=kind_cluster.name)
    result = subprocess.run([tilt, "ci", "--timeout", "20m"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1500)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    wait_all_ready()  # the CLI's forwards still serve the stack
