"""Item 6: `hippodrome k8s up --context NAME` brings a stack onto an existing cluster — here the real control
plane — through the whole CLI path: preflight (no kind, no docker with --no-build), the CRD, pyhelm3's
install or upgrade with the real Helm binary, the stack, per-layer progress until Ready; then
`k8s status` and `k8s down`.

kwok runs no containers, so the operator Deployment Helm installs sits Ready on the fake node doing nothing;
the test runs that Deployment's own command and env here, as its ServiceAccount (chart_operator.py), once
Helm has created it. (The chart is installed unchanged: no value scales the operator away.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chart_operator import REPO, get_json, release_stacks, start_installed_operator, wait_for
from cluster_stacks import layered
from hd_testing import free_ports
from hippodrome_k8s.k8s import driver
from hippodrome_k8s.k8s.helm import NAMESPACE, RELEASE
from hippodrome_k8s.k8s.portforward import read_health_file

HELM_DIR = REPO / ".tools" / "helm3"


@pytest.fixture
def cli_namespace(crd):
    """The CLI's own namespace, removed afterwards (the stack let go first, should the test have failed)."""
    yield NAMESPACE
    release_stacks(crd, NAMESPACE)
    crd.kubectl_run("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _env(cp) -> dict[str, str]:
    env = {**os.environ, **cp.env(), "NO_COLOR": "1", "HIPPODROME_RANDOM_SEED": "42"}
    env["PATH"] = f"{cp.bin_dir}{os.pathsep}{HELM_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


def _cli(cp, root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", *args, "--project-root", str(root)],
                          cwd=root, env=_env(cp), capture_output=True, text=True, timeout=timeout)


def test_k8s_up_on_an_existing_context_then_status_and_down(crd, cli_namespace, tmp_path):
    cp = crd
    if not (HELM_DIR / "helm").exists():
        pytest.skip(f"{HELM_DIR / 'helm'} is missing: run scripts/install-helm.sh (scripts/test does)")
    context = yaml.safe_load(cp.kubeconfig.read_text())["current-context"]
    root = tmp_path / "project"
    root.mkdir()
    ports = free_ports(6)
    doc = layered("dev", ports[:5])
    doc["spec"]["dashboard"] = {"port": ports[5], "allowPortOutsideRange": True}
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
    up_args = ["up", "--context", context, "--no-build", "--detach", "--wait-timeout", "180"]

    log = tmp_path / "up.log"
    with open(log, "w") as out:
        up = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", *up_args, "--project-root",
                               str(root)], cwd=root, env=_env(cp), stdout=out, stderr=subprocess.STDOUT, text=True)
    operator = None
    try:
        wait_for(lambda: up.poll() is not None or cp.kubectl_run("-n", NAMESPACE, "get", "deployment",
                                                                 f"{RELEASE}-operator", check=False).returncode == 0,
                 "helm to install the operator Deployment", timeout=180)
        assert up.poll() is None, log.read_text()
        operator = start_installed_operator(cp, NAMESPACE, f"{RELEASE}-operator", tmp_path, free_ports(1)[0])
        assert up.wait(300) == 0, log.read_text() + "\n--- operator:\n" + operator.log[-3000:]
        out = log.read_text()
        assert "preflight: kubectl v1.37" in out and "helm v3" in out and "kind" not in out.split("preflight:")[1].split("\n")[0]
        assert f"cluster: the existing cluster of context {context!r}" in out
        assert "not built or loaded (--no-build)" in out
        assert f"helm: {RELEASE} revision 1 (deployed)" in out
        for layer, name in ((0, "a"), (1, "d"), (2, "e")):
            assert f"layer {layer}  {name}" in out, out
        assert out.index("layer 0  a") < out.index("layer 1  d") < out.index("layer 2  e")
        assert "stack: Ready (5/5 services)" in out
        state = driver.read_state(root)
        assert (state.cluster, state.context, state.namespace) == ("", context, NAMESPACE)
        forwarder = read_health_file(driver.forwards_path(root))["pid"]

        again = _cli(cp, root, *up_args)                    # the upgrade path; the forwards are kept
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"helm: {RELEASE} revision 2 (deployed)" in again.stdout
        assert f"port-forwards running in the background (pid {forwarder})" in again.stdout

        status = _cli(cp, root, "status")
        assert status.returncode == 0, status.stderr
        assert f"dev: Ready · 5/5 ready · layer 2 · profile full · cell local · context {context} · " \
               f"namespace {NAMESPACE}" in status.stdout
        assert all(f" {name} " in status.stdout for name in "abcde") and "port-forwards (pid" in status.stdout

        down = _cli(cp, root, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"port-forwards stopped (pid {forwarder})" in down.stdout and "stack deleted." in down.stdout
        assert "kept 1 PersistentVolumeClaim(s)" in down.stdout
        assert get_json(cp, "-n", NAMESPACE, "get", "hippodromestacks")["items"] == []
        wait_for(lambda: not get_json(cp, "-n", NAMESPACE, "get", "deployments", "-l", "hippodrome.dev/stack=dev")["items"],
                 "the stack's Deployments to go", timeout=60)
        wait_for(lambda: not _alive(forwarder), "the background port-forwards to exit", timeout=20)
        assert not driver.state_path(root).exists()
    finally:
        if up.poll() is None:
            up.kill()
        if operator is not None:
            operator.stop()
        health = read_health_file(driver.forwards_path(root))
        if health:
            os.kill(health["pid"], signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
