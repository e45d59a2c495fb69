"""Item 4: layer gating with the real Deployment controller, scheduler and kwok.

The stack is named `held`, so kwok holds every pod of it Running but not Ready until the test annotates
it (cp_config.POD_HOLD / POD_RELEASE): the test decides when each service becomes ready and watches
the operator wait. A watch of the namespace's Deployments, started before the stack is applied,
records every change in order; at each Deployment's creation, every blocking Deployment of a lower
layer must be rolled out by `kubectl rollout status`'s rule (computed here, independently of the
operator's code). A spec change mid-rollout (an env var of `b`) must close the gate again until `b`'s
new pod is ready — while its old pod still counts as available.
"""

from __future__ import annotations

import copy

import yaml

from chart_operator import get_json, wait_for
from cluster_stacks import layered
from cp_config import HELD_INSTANCE, RELEASE_ANNOTATION
from hd_testing import free_ports
from recorder import Recorder

SERVICE = "hippodrome.dev/service"
LAYER = "hippodrome.dev/layer"
HASH = "hippodrome.dev/spec-hash"


def rolled_out(dep: dict) -> bool:
    """`kubectl rollout status`: this generation observed, every replica updated, no old one left, all available."""
    meta, spec, status = dep["metadata"], dep["spec"], dep.get("status") or {}
    updated = status.get("updatedReplicas") or 0
    return ((status.get("observedGeneration") or 0) >= meta["generation"] and updated >= spec.get("replicas", 1)
            and (status.get("replicas") or 0) <= updated and (status.get("availableReplicas") or 0) >= updated)


def gate_violations(events) -> list[str]:
    """Replay the watch: a Deployment created while a blocking lower-layer one was not rolled out."""
    latest: dict[str, dict] = {}
    problems = []
    for event in events:
        dep = event.obj
        labels = dep["metadata"]["labels"]
        if event.type == "ADDED":
            layer = int(labels[LAYER])
            for name, other in latest.items():
                if int(other["metadata"]["labels"][LAYER]) < layer and _blocking(other) and not rolled_out(other):
                    problems.append(f"{labels[SERVICE]} (layer {layer}) created while {name} was not rolled out")
        latest[labels[SERVICE]] = dep
    return problems


def _blocking(dep: dict) -> bool:
    return dep["metadata"]["labels"][SERVICE] != "c"          # the stack's one non-blocking service


def _state_at_creation(events, created: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for event in events:
        service = event.obj["metadata"]["labels"][SERVICE]
        if event.type == "ADDED" and service == created:
            return latest
        latest[service] = event.obj
    raise AssertionError(f"{created} was never created")


def test_layers_open_only_when_every_blocking_lower_layer_is_rolled_out(crd, namespace, chart_operator):
    cp, op = crd, chart_operator
    body = layered(HELD_INSTANCE, free_ports(5), namespace)

    def status() -> dict:
        return get_json(cp, "-n", namespace, "get", "hippodromestack", HELD_INSTANCE).get("status") or {}

    def service(name: str) -> dict:
        return (status().get("services") or {}).get(name) or {}

    def exists(name: str) -> bool:
        return any(e.obj["metadata"]["labels"][SERVICE] == name for e in deployments.events)

    def release(name: str) -> list[str]:
        """Annotate every pod of `name` not yet released; kwok then makes it Ready."""
        pods = get_json(cp, "-n", namespace, "get", "pods", "-l", f"{SERVICE}={name}")["items"]
        fresh = [p["metadata"]["name"] for p in pods if RELEASE_ANNOTATION not in (p["metadata"].get("annotations") or {})
                 and p["status"].get("phase") == "Running"]
        for pod in fresh:
            cp.kubectl_run("-n", namespace, "annotate", "pod", pod, f"{RELEASE_ANNOTATION}=true")
        return fresh

    with Recorder(cp.kubeconfig, "deployments", namespace) as deployments:
        cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(body))
        wait_for(lambda: all(service(n).get("status") == "starting" for n in "abc"),   # layer 0, held not-Ready
                 "layer 0 to be created and held", operator=op)
        wait_for(lambda: release("a"), "a's pod to run", operator=op)
        wait_for(lambda: service("a").get("ready"), "a ready", operator=op)
        assert not exists("d"), "layer 1 was created while b (blocking, layer 0) was not ready"

        wait_for(lambda: release("b"), "b's pod to run", operator=op)
        wait_for(lambda: exists("d"), "layer 1 once a and b are ready (c does not block)", operator=op)

        changed = copy.deepcopy(body)                        # mid-rollout: b's spec changes while d is held
        changed["spec"]["services"][1]["env"] = {"CHANGED": "1"}
        cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(changed))
        wait_for(lambda: status().get("observedGeneration") == 2 and not service("b").get("ready"),
                 "b to roll out its new spec", operator=op)
        b = get_json(cp, "-n", namespace, "get", "deployment", f"{HELD_INSTANCE}-b")
        assert b["status"].get("availableReplicas") == 1 and not rolled_out(b), \
            "the old pod still counts as available: only the rollout rule keeps the gate shut"

        wait_for(lambda: release("d"), "d's pod to run", operator=op)
        wait_for(lambda: service("d").get("ready"), "d ready", operator=op)
        assert not exists("e"), "layer 2 was created while b was rolling out its new spec"

        wait_for(lambda: release("b"), "b's new pod to run", operator=op)
        wait_for(lambda: exists("e"), "layer 2 once b's new spec is rolled out", operator=op)
        wait_for(lambda: release("e") and release("c"), "e's and c's pods to run", operator=op)
        final = wait_for(lambda: (s := status()).get("phase") == "Ready" and s, "phase Ready", operator=op)

    assert final["readyServices"] == "5/5", final
    assert not gate_violations(deployments.events), gate_violations(deployments.events)
    assert not rolled_out(_state_at_creation(deployments.events, "d")["c"]), "c (non-blocking) gated layer 1"
    at_e = _state_at_creation(deployments.events, "e")
    assert at_e["b"]["metadata"]["annotations"][HASH] == \
        get_json(cp, "-n", namespace, "get", "deployment", f"{HELD_INSTANCE}-b")["metadata"]["annotations"][HASH], \
        "e was created before b carried the current spec"

