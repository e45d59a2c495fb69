"""Item 2: the operator runs as the chart runs it — `python -m hippodrome_operator` with the chart's env —
logged in as the chart's ServiceAccount, so the real API server enforces the chart's RBAC on every call.

The first test is the operator's whole round trip under that identity (finalizer, a claim, layer by
layer, status); the second takes one verb away from the chart's Role and sees the same stack fail,
so a permission the operator needs and the chart forgot cannot go unnoticed.
"""

from __future__ import annotations


import requests
import yaml

from chart_operator import get_json, release_stacks, start_operator, wait_for, without_verb
from cluster_stacks import audit_events, describe, layered, service, stack, writes_by
from hd_testing import free_ports


def _apply(cp, namespace: str, body: dict) -> None:
    cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(body))


def _status(cp, namespace: str, name: str) -> dict:
    return get_json(cp, "-n", namespace, "get", "hippodromestack", name).get("status") or {}


def test_the_operator_reconciles_a_stack_as_the_charts_service_account(crd, namespace, chart_operator):
    cp, op = crd, chart_operator
    _apply(cp, namespace, layered("dev", free_ports(5)))
    status = wait_for(lambda: (s := _status(cp, namespace, "dev")).get("phase") == "Ready" and s, "phase Ready",
                      timeout=90, operator=op)
    assert status["readyServices"] == "5/5" and status["currentLayer"] == 2

    deployments = get_json(cp, "-n", namespace, "get", "deployments")["items"]
    assert sorted(d["metadata"]["labels"]["hippodrome.dev/service"] for d in deployments) == list("abcde")
    (claim,) = get_json(cp, "-n", namespace, "get", "persistentvolumeclaims")["items"]
    assert claim["status"]["phase"] == "Bound"          # the stateful service's data, on a real volume
    stored = get_json(cp, "-n", namespace, "get", "hippodromestack", "dev")
    assert "hippodrome.dev/finalizer" in stored["metadata"]["finalizers"]

    writes = writes_by(audit_events(cp.audit_log), op.username, namespace)
    made = {(e["verb"], e["objectRef"]["resource"], e["objectRef"].get("subresource")) for e in writes}
    assert {("create", "deployments", None), ("create", "services", None), ("create", "persistentvolumeclaims", None),
            ("patch", "hippodromestacks", None), ("patch", "hippodromestacks", "status")} <= made, made
    refused = [describe(e) for e in writes if e["responseStatus"]["code"] >= 400 and e["responseStatus"]["code"] != 409]
    assert not refused, f"the API server refused the operator: {refused}"
    assert "forbidden" not in op.log.lower(), op.log[-3000:]       # neither kopf nor the adapter was refused
    health = requests.get(f"http://127.0.0.1:{op.liveness_port}/healthz", timeout=5)
    assert health.status_code == 200


def test_a_role_missing_one_verb_fails_the_operator(crd, namespace, tmp_path):
    """The chart's Role without `create` on Deployments: the API server answers 403 and the stack says so."""
    cp = crd
    op = start_operator(cp, namespace, tmp_path, free_ports(1)[0],
                        rbac_edit=lambda rbac: without_verb(rbac, "deployments", "create"))
    try:
        _apply(cp, namespace, stack("dev", [service("a", 0, free_ports(1)[0])]))
        status = wait_for(lambda: (s := _status(cp, namespace, "dev")).get("phase") == "Failed" and s,
                          "phase Failed", timeout=60, operator=op)
        assert "forbidden" in status["message"].lower(), status["message"]
        assert get_json(cp, "-n", namespace, "get", "deployments")["items"] == []
        refused = [e for e in writes_by(audit_events(cp.audit_log), op.username, namespace)
                   if e["verb"] == "create" and e["objectRef"]["resource"] == "deployments"]
        assert refused and {e["responseStatus"]["code"] for e in refused} == {403}, [describe(e) for e in refused]
    finally:
        op.stop()
        release_stacks(cp, namespace)
