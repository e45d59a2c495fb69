"""The operator on a real control plane: its layer step and a full rollout, as ratios measured in one run.

    python bench/bench_cluster.py [--runs 5] [--pings 50] [--probes 10]

Starts its own control plane (tests/cluster: etcd, kube-apiserver, controller manager, scheduler, kwok;
built from Go modules on first use), applies the chart's CRD and runs the operator as the chart does
(its command and env, as its ServiceAccount: tests/cluster/chart_operator.py). Then, on that server:

  watch round trip   a ConfigMap patched -> its watch event here (the floor of any reaction)
  layer step         the last blocking layer-N Deployment rolled out -> the first layer-N+1 Deployment
                     created, both seen by one watch (so its delivery delay cancels): the operator's
                     reaction; printed ÷ the watch round trip (p50, p95), the absolute p95 beside it
                     (goal <= 0.5 s)
  one Deployment     created -> rolled out (controllers, scheduler, kwok), alone
  full profile       `kubectl apply -f hippodrome.yaml` -> phase Ready (kwok makes pods Ready at
                     once), ÷ (layers x one Deployment's create -> available): 1.0 would mean the
                     operator adds nothing to the layers' own start-up

Absolute times drift on shared machines; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The control plane of the test tier (tests/cluster/controlplane.py and its sibling modules, not a package):
# this bench drives the same one, so that directory is put on the path.
sys.path[:0] = [str(ROOT / "tests" / "cluster"), str(ROOT / "tests")]

from chart_operator import start_operator, wait_for  # noqa: E402
from controlplane import ControlPlane  # noqa: E402
from hd_testing import free_ports  # noqa: E402
from recorder import Recorder, api_client  # noqa: E402

from hippodrome_k8s.core.contract import LAYER_LABEL, SERVICE_LABEL, STACK_LABEL  # noqa: E402

CRD = ROOT / "charts" / "hippodrome" / "crds" / "hippodromestacks.yaml"
STACK_FILE = ROOT / "hippodrome.yaml"
SERVICE, LAYER, STACK = SERVICE_LABEL, LAYER_LABEL, STACK_LABEL


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rolled_out(dep: dict) -> bool:
    """`kubectl rollout status`'s rule."""
    meta, spec, status = dep["metadata"], dep["spec"], dep.get("status") or {}
    updated = status.get("updatedReplicas") or 0
    return ((status.get("observedGeneration") or 0) >= meta["generation"] and updated >= spec.get("replicas", 1)
            and (status.get("replicas") or 0) <= updated and (status.get("availableReplicas") or 0) >= updated)


def layer_steps(events, gates: dict[str, int]) -> list[float]:
    """From one stack's Deployment events (`gates`: each blocking service's layer): per layer N, the first
    layer-N+1 ADDED minus the event that rolled out the last blocking layer-N Deployment."""
    latest: dict[str, dict] = {}
    opened: dict[int, float] = {}
    created: dict[int, float] = {}
    for event in events:
        labels = event.obj["metadata"]["labels"]
        layer = int(labels[LAYER])
        if event.type == "ADDED":
            created.setdefault(layer, event.at)
        latest[labels[SERVICE]] = event.obj
        gate = [s for s, n in gates.items() if n == layer]
        if layer not in opened and all(s in latest and rolled_out(latest[s]) for s in gate):
            opened[layer] = event.at
    return [created[n + 1] - opened[n] for n in sorted(opened) if n + 1 in created]


def watch_round_trips(cp, namespace: str, count: int) -> list[float]:
    from kubernetes import client

    core = client.CoreV1Api(api_client(cp.kubeconfig))
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "ping"}, "data": {"n": "-1"}})
    arrived: dict[str, float] = {}
    signal = threading.Condition()

    def on_event(event) -> None:
        with signal:
            arrived[(event.obj.get("data") or {}).get("n", "")] = event.at
            signal.notify_all()

    times = []
    with Recorder(cp.kubeconfig, "configmaps", namespace, on_event=on_event):
        for i in range(count):
            t0 = time.monotonic()
            core.patch_namespaced_config_map("ping", namespace, {"data": {"n": str(i)}})
            with signal:
                signal.wait_for(lambda: str(i) in arrived, timeout=10)
            times.append(arrived[str(i)] - t0)
    return times


def deployment_alone(cp, namespace: str, count: int) -> list[float]:
    from kubernetes import client

    apps = client.AppsV1Api(api_client(cp.kubeconfig))
    done: dict[str, float] = {}
    times = []
    with Recorder(cp.kubeconfig, "deployments", namespace,
                  on_event=lambda e: rolled_out(e.obj) and done.setdefault(e.obj["metadata"]["name"], e.at)):
        for i in range(count):
            name = f"probe-{i}"
            body = {"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "registry.invalid/probe:1"}]}}}}
            t0 = time.monotonic()
            apps.create_namespaced_deployment(namespace, body)
            wait_for(lambda: name in done, f"{name} rolled out", timeout=60)
            times.append(done[name] - t0)
            apps.delete_namespaced_deployment(name, namespace)
    return times


def full_rollouts(cp, namespace: str, runs: int, operator) -> tuple[list[float], list[float], int]:
    doc = yaml.safe_load(STACK_FILE.read_text())
    spec = doc["spec"]
    selected = [s for s in spec["services"] if spec["profile"] in s.get("profiles", [spec["profile"]])
                and spec["cell"] in s.get("cells", [spec["cell"]])]
    gates = {s["name"]: s["layer"] for s in selected if s.get("blocking", True)}
    layers = len({s["layer"] for s in selected})
    totals, steps = [], []
    for i in range(runs):
        body = copy.deepcopy(doc)
        body["metadata"]["name"] = f"run{i}"
        with Recorder(cp.kubeconfig, "deployments", namespace) as deployments, \
                Recorder(cp.kubeconfig, "hippodromestacks", namespace) as stacks:
            t0 = time.monotonic()
            cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(body))
            ready = wait_for(lambda: next((e.at for e in stacks.events if e.obj["metadata"]["name"] == body["metadata"]["name"]
                                           and (e.obj.get("status") or {}).get("phase") == "Ready"), None),
                             f"run{i} Ready", timeout=180, operator=operator)
        totals.append(ready - t0)
        mine = [e for e in deployments.events if e.obj["metadata"]["labels"].get(STACK) == f"run{i}"]
        steps += layer_steps(mine, gates)
        cp.kubectl_run("-n", namespace, "delete", "hippodromestack", f"run{i}", "--wait=true", "--timeout=180s",
                       timeout=200)
    return totals, steps, layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="full-profile rollouts")
    parser.add_argument("--pings", type=int, default=50, help="watch round trips")
    parser.add_argument("--probes", type=int, default=10, help="lone Deployments")
    args = parser.parse_args()
    started = time.monotonic()
    cp = ControlPlane.create(progress=lambda line: None, tie_to_parent=True).up()
    operator = None
    try:
        print(f"control plane up in {time.monotonic() - started:.1f} s; "
              f"{subprocess.run([str(cp.kubectl), 'version', f'--kubeconfig={cp.kubeconfig}'], capture_output=True, text=True).stdout.splitlines()[-1]}")
        cp.kubectl_run("apply", "--server-side", "-f", str(CRD))
        cp.kubectl_run("wait", "--for=condition=Established", "crd/hippodromestacks.hippodrome.dev", "--timeout=60s",
                       timeout=90)
        for ns in ("bench", "probe"):
            cp.kubectl_run("create", "namespace", ns)
        work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        operator = start_operator(cp, "bench", work, free_ports(1)[0])

        rtt = watch_round_trips(cp, "probe", args.pings)
        alone = deployment_alone(cp, "probe", args.probes)
        totals, steps, layers = full_rollouts(cp, "bench", args.runs, operator)

        ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
        print(f"watch round trip (patch -> event), n={len(rtt)}: p50 {ms(pct(rtt, .5))}, p95 {ms(pct(rtt, .95))}")
        print(f"layer step (last layer-N Deployment rolled out -> first layer-N+1 created), n={len(steps)}: "
              f"p50 {ms(pct(steps, .5))} = {pct(steps, .5) / pct(rtt, .5):.1f}x the watch round trip, "
              f"p95 {ms(pct(steps, .95))} = {pct(steps, .95) / pct(rtt, .95):.1f}x   "
              f"[absolute p95 {pct(steps, .95):.3f} s; goal <= 0.5 s: {'met' if pct(steps, .95) <= 0.5 else 'MISSED'}]")
        one = statistics.median(alone)
        total = statistics.median(totals)
        print(f"one Deployment alone, created -> rolled out, n={len(alone)}: median {ms(one)}, p95 {ms(pct(alone, .95))}")
        print(f"kubectl apply -> phase Ready, full profile ({layers} layers), n={len(totals)}: median {total:.2f} s "
              f"= {total / (layers * one):.2f}x ({layers} layers x one Deployment's {ms(one)}); "
              f"max {max(totals):.2f} s")
    finally:
        if operator is not None:
            operator.stop()
        cp.down()


if __name__ == "__main__":
    main()
