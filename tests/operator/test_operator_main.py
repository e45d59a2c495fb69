"""The operator started exactly as the chart starts it: its command and env, as a process, against the emulator.

The in-process tests (``test_operator_emulator.py``) drive ``build_registry`` in a thread; this one
runs ``python -m hippodrome_operator`` with the container's ``command`` and ``env`` taken from the
chart rendered by real Helm, logging in through a kubeconfig (the way it does outside a pod), and
sees it reconcile a stack, answer its liveness probe and stop on SIGTERM.  Regression: a registry
without login handlers died at start with ``LoginError: Ran out of valid credentials``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hd_testing import free_ports
from kmock_emulator import DEPLOYMENTS, STACKS, running_emulator
from operator_harness import NAMESPACE, load_fixture

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "hippodrome"
HELM = ROOT / ".tools" / "helm3" / "helm"

pytestmark = pytest.mark.timeout(90)


def chart_operator_container(liveness_port: int) -> dict[str, Any]:
    if not HELM.exists():
        reason = f"{HELM} is missing: run scripts/install-helm.sh"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    result = subprocess.run([str(HELM), "template", "hippodrome", str(CHART), "--namespace", NAMESPACE,
                             "--set", f"operator.livenessPort={liveness_port}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    operator = next(d for d in yaml.safe_load_all(result.stdout)
                    if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator"))
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    return container


def process_env(container: dict[str, Any], kubeconfig: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "HIPPODROME_"))}
    for item in container["env"]:
        assert "value" in item, f"the operator's env {item['name']} is not a plain value: {item}"
        env[item["name"]] = item["value"]
    env["KUBECONFIG"] = str(kubeconfig)  # outside a pod: the kubeconfig login
    return env


async def wait_for(predicate, process: subprocess.Popen, timeout: float, what: str):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = predicate()
        if value:
            return value
        assert process.poll() is None, f"the operator exited with {process.returncode} while waiting for {what}"
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_the_chart_command_logs_in_and_reconciles_a_stack(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    container = chart_operator_container(port)
    command = [*container["command"], *container.get("args", [])]
    assert command[:3] == ["python", "-m", "hippodrome_operator"]
    argv = [sys.executable, *command[1:]]  # the image's python is this interpreter here
    log = tmp_path / "operator.log"
    async with running_emulator(tmp_path) as (emu, kubeconfig):
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, cwd=ROOT, env=process_env(container, kubeconfig),
                                       stdout=out, stderr=subprocess.STDOUT)
        try:
            await emu.create(STACKS, NAMESPACE, load_fixture())
            def services() -> set[str]:
                return {d["metadata"]["labels"]["hippodrome.dev/service"] for d in emu.items(DEPLOYMENTS, NAMESPACE)}

            await wait_for(lambda: {"moto", "fake_cell"} <= services(), process, 30, "the first layer's Deployments")
            status = await wait_for(lambda: (emu.get(STACKS, NAMESPACE, "dev") or {}).get("status"), process, 30,
                                    "the stack's status")
            assert services() == {"moto", "fake_cell"}, "layer 0 first, and only layer 0"
            assert status["phase"] in ("Pending", "Progressing") and status["readyServices"] == "0/5"
            probe = container["livenessProbe"]["httpGet"]
            assert probe["port"] == "health"
            health = await asyncio.to_thread(requests.get, f"http://127.0.0.1:{port}{probe['path']}", timeout=5)
            assert health.status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            text = log.read_text(errors="replace")
    assert "LoginError" not in text and "Ran out of valid credentials" not in text, text[-2000:]
    assert code == 0, text[-2000:]


async def test_the_operator_waits_for_the_crd_before_watching(tmp_path: Path) -> None:
    """Regression: with scanning off kopf looks the CRD up once at start; started first (Tilt applies the
    CRD and the operator as separate resources), it never watched a stack."""
    (port,) = free_ports(1)
    container = chart_operator_container(port)
    argv = [sys.executable, *container["command"][1:]]
    async with running_emulator(tmp_path, with_crd=False) as (emu, kubeconfig):
        with open(tmp_path / "operator.log", "wb") as out:
            process = subprocess.Popen(argv, cwd=ROOT, env=process_env(container, kubeconfig), stdout=out,
                                       stderr=subprocess.STDOUT)
        try:
            await wait_for(lambda: "waiting for the hippodromestacks.hippodrome.dev CRD" in
                           (tmp_path / "operator.log").read_text(errors="replace"), process, 30, "the wait")
            emu.register_stack_crd()
            await emu.create(STACKS, NAMESPACE, load_fixture())
            await wait_for(lambda: emu.items(DEPLOYMENTS, NAMESPACE), process, 30, "layer 0, once the CRD is served")
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 20)


async def test_without_the_crd_the_operator_exits_naming_it(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    container = chart_operator_container(port)
    argv = [sys.executable, *container["command"][1:]]
    async with running_emulator(tmp_path, with_crd=False) as (_, kubeconfig):
        env = {**process_env(container, kubeconfig), "HIPPODROME_CRD_WAIT_SECONDS": "1"}
        result = await asyncio.to_thread(subprocess.run, argv, cwd=ROOT, env=env, capture_output=True, text=True,
                                         timeout=60)
    assert result.returncode == 1
    assert "Error: the HippodromeStack CRD (hippodromestacks.hippodrome.dev) is not served after 1s" in result.stderr


def test_a_bad_state_storage_setting_is_refused_by_name(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    container = chart_operator_container(port)
    env = {**process_env(container, tmp_path / "kubeconfig"), "HIPPODROME_STATE_STORAGE": "hostPath"}
    result = subprocess.run([sys.executable, *container["command"][1:]], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Error: HIPPODROME_STATE_STORAGE='hostPath': use pvc or emptyDir" in result.stderr
