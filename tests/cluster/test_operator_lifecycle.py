"""Item 5: the operator's lifecycle on a real API server, with the chart's command and identity.

- `hippodrome k8s control restart|stop|start` (the CLI, as a process) through the `hippodrome.dev/control`
  annotation: a new pod, zero replicas, one again, each acknowledged in `status.lastControl`.
- A stack the CRD accepts but the model refuses: phase Failed with the reason, and no retry storm — at most
  3 writes by the operator in 30 s, counted from the API server's audit log.
- Deletion: the finalizer holds the stack while the children go in reverse layer order (each layer gone
  before the next is deleted, read from a watch), then garbage collection leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from chart_operator import REPO, get_json, wait_for
from cluster_stacks import audit_events, describe, layered, service, stack, writes_by
from hd_testing import free_ports
from hippodrome_k8s.host.project import write_atomic
from hippodrome_k8s.k8s import driver
from recorder import Recorder

SERVICE, LAYER = "hippodrome.dev/service", "hippodrome.dev/layer"


def _apply(cp, namespace: str, body: dict) -> None:
    cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(body))


def _status(cp, namespace: str, name: str = "dev") -> dict:
    return get_json(cp, "-n", namespace, "get", "hippodromestack", name).get("status") or {}


def _ready(cp, namespace: str, op, name: str = "dev") -> dict:
    return wait_for(lambda: (s := _status(cp, namespace, name)).get("phase") == "Ready" and s, "phase Ready",
                    timeout=90, operator=op)


def _cli(root: Path, cp, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **cp.env(), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", *args, "--project-root", str(root)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _run_state(root: Path, cp, namespace: str) -> None:
    """What `hippodrome k8s up` leaves for the later commands, pointing at this namespace (test_cli_context.py
    brings a stack up through `k8s up` itself)."""
    context = yaml.safe_load(cp.kubeconfig.read_text())["current-context"]
    state = driver.RunState(cluster="", context=context, namespace=namespace, stack="dev", profile="full",
                            cell="local", seed="42", tablePrefix="t-", runDir=str(root / "run"), testEnv={}, forwards=())
    write_atomic(driver.state_path(root), json.dumps(state.to_json()))


def test_control_restart_stop_start_through_the_cli(crd, namespace, chart_operator, tmp_path):
    cp, op = crd, chart_operator
    _apply(cp, namespace, layered("dev", free_ports(5)))
    _ready(cp, namespace, op)
    _run_state(tmp_path, cp, namespace)

    def pods(name: str) -> set[str]:
        items = get_json(cp, "-n", namespace, "get", "pods", "-l", f"{SERVICE}={name}")["items"]
        return {p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")}

    before = pods("b")
    restarted = _cli(tmp_path, cp, "control", "restart", "b")
    assert restarted.returncode == 0 and "restart: b: ok" in restarted.stdout, restarted.stdout + restarted.stderr
    assert _status(cp, namespace)["lastControl"]["result"] == "ok"
    template = get_json(cp, "-n", namespace, "get", "deployment", "dev-b")["spec"]["template"]["metadata"]
    assert "hippodrome.dev/restartedAt" in template["annotations"]
    wait_for(lambda: pods("b") and not pods("b") & before, "b's pod to be replaced", operator=op)

    stopped = _cli(tmp_path, cp, "control", "stop", "b")
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: _status(cp, namespace)["services"]["b"]["status"] == "stopped", "b stopped", operator=op)
    assert get_json(cp, "-n", namespace, "get", "deployment", "dev-b")["spec"]["replicas"] == 0
    wait_for(lambda: not pods("b"), "b's pod to go", operator=op)

    started = _cli(tmp_path, cp, "control", "start", "b")
    assert started.returncode == 0, started.stderr
    status = wait_for(lambda: (s := _status(cp, namespace))["services"]["b"]["ready"] and s, "b ready", operator=op)
    assert status["phase"] == "Ready" and get_json(cp, "-n", namespace, "get", "deployment", "dev-b")["spec"]["replicas"] == 1

    unknown = _cli(tmp_path, cp, "control", "restart", "nope")
    assert unknown.returncode == 1 and "no selected service named 'nope'" in unknown.stderr, unknown.stderr


def test_an_invalid_stack_fails_once_without_a_retry_storm(crd, namespace, chart_operator):
    """Valid for the CRD, invalid for the model (a reference to a service that does not exist)."""
    cp, op = crd, chart_operator
    body = stack("dev", [service("a", 0, free_ports(1)[0], env={"PEER": "${services.nope.url}"})])
    _apply(cp, namespace, body)
    created = get_json(cp, "-n", namespace, "get", "hippodromestack", "dev")["metadata"]["creationTimestamp"]
    status = wait_for(lambda: (s := _status(cp, namespace)).get("phase") == "Failed" and s, "phase Failed", operator=op)
    assert "nope" in status["message"], status["message"]
    window_end = dt.datetime.fromisoformat(created.replace("Z", "+00:00")) + dt.timedelta(seconds=30)
    time.sleep(max(0.0, (window_end - dt.datetime.now(dt.timezone.utc)).total_seconds()))
    writes = [e for e in writes_by(audit_events(cp.audit_log), op.username, namespace, since=created)
              if e["requestReceivedTimestamp"] < window_end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    print(f"operator writes in the first 30 s: {[describe(e) for e in writes]}")
    assert 1 <= len(writes) <= 3, [describe(e) for e in writes]
    assert get_json(cp, "-n", namespace, "get", "deployments")["items"] == []
    assert _status(cp, namespace)["message"] == status["message"]


def test_deletion_tears_down_in_reverse_layer_order_behind_the_finalizer(crd, namespace, chart_operator):
    cp, op = crd, chart_operator
    _apply(cp, namespace, layered("dev", free_ports(5)))
    _ready(cp, namespace, op)
    with Recorder(cp.kubeconfig, "deployments", namespace) as deployments, \
            Recorder(cp.kubeconfig, "hippodromestacks", namespace) as stacks:
        cp.kubectl_run("-n", namespace, "delete", "hippodromestack", "dev", "--wait=false")
        wait_for(lambda: any(e.type == "DELETED" for e in stacks.events), "the stack to be gone", timeout=90,
                 operator=op)
    phases = [(e.obj.get("status") or {}).get("phase") for e in stacks.events]
    assert "Terminating" in phases, phases
    held = [e.obj for e in stacks.events if e.obj["metadata"].get("deletionTimestamp")]
    assert held and all("hippodrome.dev/finalizer" in o["metadata"].get("finalizers", []) for o in held[:-1])

    asked, gone = {}, {}                              # service -> index in the watch of its deletion / removal
    for i, event in enumerate(deployments.events):
        name = event.obj["metadata"]["labels"][SERVICE]
        if event.obj["metadata"].get("deletionTimestamp"):
            asked.setdefault(name, i)
        if event.type == "DELETED":
            gone[name] = i
    layer = {e.obj["metadata"]["labels"][SERVICE]: int(e.obj["metadata"]["labels"][LAYER]) for e in deployments.events}
    assert sorted(gone) == list("abcde"), gone
    for upper in layer:
        for lower in layer:
            if layer[upper] > layer[lower]:
                assert gone[upper] < asked[lower], f"{lower} (layer {layer[lower]}) was deleted before {upper} " \
                                                   f"(layer {layer[upper]}) was gone"

    def left() -> list[str]:
        items = get_json(cp, "-n", namespace, "get", "deployments,replicasets,pods,services")["items"]
        return [f"{o['kind']}/{o['metadata']['name']}" for o in items]
    wait_for(lambda: not left(), "garbage collection", timeout=60)
    (claim,) = get_json(cp, "-n", namespace, "get", "persistentvolumeclaims")["items"]
    assert claim["metadata"]["labels"][SERVICE] == "a", "the stateful service's data is kept (k8s down --delete-data)"
    assert not [describe(e) for e in writes_by(audit_events(cp.audit_log), op.username, namespace)
                if e["responseStatus"]["code"] == 403]
