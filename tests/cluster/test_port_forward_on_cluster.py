"""Item 7: port-forwards for real. `hippodrome k8s port-forward` (the CLI, as a process) holds a local port and
relays through `kubectl port-forward` -> the API server -> kwok -> a local HTTP server standing in for the
service's pod (stand_ins.py). The pod is then replaced; the same local port reaches the new pod, and the
forward's health counts the reconnect.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import requests
import yaml

from chart_operator import REPO, get_json, wait_for
from cluster_stacks import service, stack
from hd_testing import free_ports
from hippodrome_k8s.host.project import write_atomic
from hippodrome_k8s.k8s import driver
from hippodrome_k8s.k8s.portforward import ForwardSpec, read_health_file
from stand_ins import StandIns

SERVICE = "hippodrome.dev/service"


def _answer(port: int) -> str | None:
    try:
        r = requests.get(f"http://127.0.0.1:{port}/", timeout=3)
        return r.text.strip() if r.status_code == 200 else None
    except requests.RequestException:
        return None


def test_k8s_port_forward_reaches_the_pod_and_follows_its_replacement(crd, namespace, chart_operator, tmp_path):
    cp, op = crd, chart_operator
    remote, local = free_ports(2)
    root = tmp_path / "project"
    env = {**os.environ, **cp.env(), "NO_COLOR": "1"}
    with StandIns(cp, namespace, SERVICE, "web") as pods:
        cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(stack("dev", [service("web", 0, remote)])))
        wait_for(lambda: get_json(cp, "-n", namespace, "get", "hippodromestack", "dev").get("status", {}).get("phase")
                 == "Ready", "phase Ready", operator=op)
        context = yaml.safe_load(cp.kubeconfig.read_text())["current-context"]
        state = driver.RunState(cluster="", context=context, namespace=namespace, stack="dev", profile="full",
                                cell="local", seed="42", tablePrefix="t-", runDir=str(root / "run"), testEnv={},
                                forwards=(ForwardSpec("web", "dev-web", remote, local),))
        write_atomic(driver.state_path(root), json.dumps(state.to_json()))

        forwards = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", "port-forward",
                                     "--project-root", str(root)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
        try:
            first = wait_for(lambda: _answer(local), "an answer through the forward", timeout=60)
            assert pods.live() == [first], "the answer comes from the pod's stand-in"

            cp.kubectl_run("-n", namespace, "delete", "pod", first, "--wait=false")
            second = wait_for(lambda: (a := _answer(local)) not in (None, first) and a, "the replacement's answer",
                              timeout=60)
            assert second in pods.live() and first in pods.retired
            health = wait_for(lambda: (h := (read_health_file(driver.forwards_path(root)) or {}).get("forwards", {})
                                       .get("web", {})).get("reconnects") and h, "the reconnect in the health file")
            assert health["state"] == "ok" and health["target"] == f"{second}:{remote}" and health["reconnects"] >= 1

            status = subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", "status", "--project-root",
                                     str(root)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
            row = next(line for line in status.stdout.splitlines() if line.startswith("web ") and "127.0.0.1:" in line)
            assert f"127.0.0.1:{local}" in row and " ok " in row and f"{second}:{remote}" in row, status.stdout
        finally:
            forwards.send_signal(signal.SIGTERM)
            out, _ = forwards.communicate(timeout=30)
    assert forwards.returncode == 0, out
    assert "port-forwards stopped." in out
    with socket.socket() as s:                         # the local port is free again (for a listener: asyncio's
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)      # too ignores the relays' TIME_WAIT)
        s.bind(("127.0.0.1", local))
        s.listen()
