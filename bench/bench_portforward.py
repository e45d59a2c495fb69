"""Port-forward reconnect time: a "pod" on loopback dies, its replacement is ready on a new port;
how long until a request through the forward reaches it?

Two figures, side by side, over N restarts, for a replacement ready 0.05 s and 1.2 s after the death:
  active  - a client keeps asking (a failed relay wakes the supervisor at once)
  passive - nobody asks; detection by the periodic re-resolve (resolve_interval)
Target: <= 1 s after the new target is ready.   Run:  python bench/bench_portforward.py [N]

With --cluster the same figures on the real path: a real control plane (tests/cluster, built from Go
modules), a Deployment and its Service, `KubectlSource` (the CLI's: a `kubectl port-forward pod/...`
child through the API server to kwok), and kwok's PortForward sending the pod's port to a local
stand-in server (tests/cluster/stand_ins.py). The pod is deleted; its ReplicaSet makes a new one, which
kwok makes Ready at once; the clock starts when the new pod is Ready and its stand-in listens.
    python bench/bench_portforward.py [N] --cluster
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from hippodrome_k8s.k8s.portforward import FakeSource, Forward, ForwardSettings, ForwardSpec, ForwardState


async def pod(name: str) -> asyncio.AbstractServer:
    async def handle(reader, writer):
        await reader.readline()
        writer.write(name.encode() + b"\n")
        await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ask(port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
    writer.write(b"x\n")
    answer = (await asyncio.wait_for(reader.readline(), 1)).decode().strip()
    writer.close()
    return answer


async def measure(n: int, active: bool, settings: ForwardSettings, gap: float) -> list[float]:
    source = FakeSource()
    server = await pod("p0")
    source.point("p0", port=server.sockets[0].getsockname()[1])
    forward = Forward(ForwardSpec("bench", "svc", 1, 0), source, settings)
    await forward.start()
    times = []
    try:
        for i in range(1, n + 1):
            server.close()
            await server.wait_closed()
            source.point(None)
            await asyncio.sleep(gap)  # the replacement pod's start-up
            server = await pod(f"p{i}")
            source.point(f"p{i}", port=server.sockets[0].getsockname()[1])
            ready = time.monotonic()
            while True:
                if active:
                    try:
                        if await ask(forward.bound_port) == f"p{i}":
                            break
                    except (OSError, asyncio.TimeoutError):
                        pass
                    await asyncio.sleep(0.005)
                else:
                    h = forward.health()
                    if h.state == ForwardState.ok and h.target == f"p{i}":
                        break
                    await asyncio.sleep(0.002)
            times.append(time.monotonic() - ready)
    finally:
        server.close()
        await forward.stop()
    return times


def row(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{label:<44} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


async def main(n: int) -> None:
    default = ForwardSettings()
    print(f"reconnect after the new target is ready (target <= 1000 ms); resolve_interval={default.resolve_interval}s, "
          f"down_interval={default.down_interval}s")
    for gap in (0.05, 1.2):
        print(f"-- replacement ready {gap:g} s after the old pod died")
        print(row("active client", await measure(n, True, default, gap)))
        print(row("passive, no client", await measure(n, False, default, gap)))


# --- the real path: control plane, kubectl, kwok -----------------------------------------------

WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.invalid/web:1, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
"""


def ready_pods(core, namespace: str) -> list[str]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    return [p.metadata.name for p in pods if not p.metadata.deletion_timestamp and
            any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


async def measure_cluster(cp, namespace: str, stand_ins, n: int, active: bool) -> tuple[list[float], list[float]]:
    """(new pod ready -> first answer from it, delete -> first answer from the new pod), per replacement."""
    from kubernetes import client

    from hippodrome_k8s.k8s.api import KubernetesClusterApi
    from hippodrome_k8s.k8s.portforward import KubectlSource

    core = client.CoreV1Api(__import__("recorder").api_client(cp.kubeconfig))
    context = "hippodrome-cp"
    spec = ForwardSpec("web", "web", 80, 0)
    forward = Forward(spec, KubectlSource(KubernetesClusterApi(context), namespace, spec, context, str(cp.kubectl)))
    await forward.start()
    after_ready, total = [], []
    try:
        current = await until(lambda: _answer_sync(forward.bound_port), 60)
        for _ in range(n):
            deleted = time.monotonic()
            await asyncio.to_thread(cp.kubectl_run, "-n", namespace, "delete", "pod", current, "--wait=false")
            new = await until(lambda: next((p for p in ready_pods(core, namespace) if p != current
                                            and p in stand_ins.live()), None), 60, poll=0.005)
            ready = time.monotonic()
            while True:
                if active:
                    if await asyncio.to_thread(_answer_sync, forward.bound_port) == new:
                        break
                    await asyncio.sleep(0.005)
                else:
                    h = forward.health()
                    if h.state == ForwardState.ok and h.target == f"{new}:8080":
                        break
                    await asyncio.sleep(0.002)
            now = time.monotonic()
            after_ready.append(now - ready)
            total.append(now - deleted)
            current = new
            if not active:                                   # let the next round start from a working relay
                await until(lambda: _answer_sync(forward.bound_port) == new and new, 30)
    finally:
        await forward.stop()
    return after_ready, total


async def until(fn, timeout: float, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        await asyncio.sleep(poll)
    raise TimeoutError("gave up waiting")


def _answer_sync(port: int, timeout: float = 0.5) -> str | None:
    """The stand-in's answer (its pod's name) through the forward, or None. The stand-ins send a
    Content-Length: `kubectl port-forward` does not pass the pod side's close on to the client. A request
    relayed to the pod being deleted can hang; the client gives up after `timeout` and asks again."""
    import requests

    try:
        r = requests.get(f"http://127.0.0.1:{port}/", timeout=timeout)
        return r.text.strip() if r.status_code == 200 else None
    except requests.RequestException:
        return None


def cluster_main(n: int) -> None:
    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "tests" / "cluster"), str(root / "tests")]
    from controlplane import ControlPlane
    from stand_ins import StandIns

    cp = ControlPlane.create(progress=lambda line: None, tie_to_parent=True).up()
    try:
        os.environ["KUBECONFIG"] = str(cp.kubeconfig)
        os.environ["PATH"] = f"{cp.bin_dir}{os.pathsep}{os.environ['PATH']}"
        cp.kubectl_run("create", "namespace", "bench")
        cp.kubectl_run("-n", "bench", "apply", "-f", "-", input=WORKLOAD)
        cp.kubectl_run("-n", "bench", "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        with StandIns(cp, "bench", "app", "web") as stand_ins:
            print(f"real path: kubectl port-forward -> kube-apiserver -> kwok -> a local stand-in; {n} pod replacements")
            for label, active in (("active client", True), ("passive, no client", False)):
                after_ready, total = asyncio.run(measure_cluster(cp, "bench", stand_ins, n, active))
                print(row(f"{label}: new pod ready -> reached", after_ready))
                print(row(f"{label}: pod deleted -> reached", total))
    finally:
        cp.down()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 10
    if "--cluster" in sys.argv:
        cluster_main(count)
    else:
        asyncio.run(main(count))
