"""plan() for a 20-service stack, beside a measured watch round trip against the API emulator.

    python bench/bench_operator_plan.py [--rounds 2000]

Prints the time of one plan() call (plus desired_from_body, which runs the loader and the
resolver, and status.compute), and the time from a PATCH to the watch event it causes on the
kmock-based emulator (tests/operator/kmock_emulator.py) over loopback HTTP: the floor of any
reaction the operator can have.  plan() must be negligible beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import importlib.util

import aiohttp
import kmock

ROOT = Path(__file__).resolve().parents[1]

from hippodrome_operator import children  # noqa: E402
from hippodrome_operator.desired import desired_from_body  # noqa: E402
from hippodrome_operator.plan import ChildState, Observed, plan  # noqa: E402
from hippodrome_operator.status import compute  # noqa: E402

_spec = importlib.util.spec_from_file_location("kmock_emulator", ROOT / "tests" / "operator" / "kmock_emulator.py")
kmock_emulator = importlib.util.module_from_spec(_spec)  # tests/ is not a package: loaded by its path, sys.path untouched
_spec.loader.exec_module(kmock_emulator)
DEPLOYMENTS, Emulator = kmock_emulator.DEPLOYMENTS, kmock_emulator.Emulator


def stack_20() -> dict:
    services = []
    for i in range(20):
        name = "moto" if i == 0 else f"svc{i:02d}"
        service = {
            "name": name, "layer": min(i // 5, 3), "port": 9001 + i if i < 19 else 9100,
            "blocking": i % 4 != 3, "run": {"command": ["python", "-m", f"examples.svc{i}"]},
            "env": {"PEER": "${services.moto.url}", "TABLE": "${tables.accounts}"},
        }
        if i == 19:
            service["allowPortOutsideRange"] = True  # 19 ports in 9001-9019 for 20 services
        services.append(service)
    return {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack",
            "metadata": {"name": "dev", "namespace": "bench", "uid": "u", "generation": 1},
            "spec": {"seed": "1", "aws": {"tables": [{"name": "accounts", "hashKey": {"name": "id"}}]},
                     "services": services}}


def timed(fn, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


def bench_plan(rounds: int) -> dict[str, float]:
    body = stack_20()
    desired = desired_from_body(body)
    assert desired.error is None, desired.error
    deps, svcs = {}, {}
    for ps in desired.services:  # a converged stack: the most work plan() does without acting
        want = children.deployment(desired.stack, ps, default_image=desired.default_image)
        deps[ps.name] = ChildState(want["metadata"]["name"], ps.name, ps.layer,
                                   want["metadata"]["annotations"][children.ANNOTATION_HASH], 1, 1, True)
        svc = children.service(desired.stack, ps)
        svcs[ps.name] = ChildState(svc["metadata"]["name"], ps.name, ps.layer,
                                   svc["metadata"]["annotations"][children.ANNOTATION_HASH])
    observed = Observed(deps, svcs)
    decision = plan(desired, observed)
    assert decision.actions == ()
    return {
        "plan": timed(lambda: plan(desired, observed), rounds),
        "plan (new generation)": timed(lambda: plan(desired_from_body(body), observed), max(rounds // 10, 20))
,
        "desired_from_body": timed(lambda: desired_from_body(body), max(rounds // 10, 20)),
        "status.compute": timed(lambda: compute(desired, observed, decision, previous=None, generation=1,
                                                now=1.0, now_iso="t"), rounds),
    }


async def bench_watch(rounds: int) -> list[float]:
    async with Emulator() as emu, kmock.Server(emu) as server:
        emu.register_stack_crd()
        await emu.create(DEPLOYMENTS, "bench", {"metadata": {"name": "d"}, "spec": {"replicas": 1}})
        url = f"{str(server.url).rstrip('/')}/apis/apps/v1/namespaces/bench/deployments"
        samples = []
        async with aiohttp.ClientSession() as session:
            async with session.get(url, params={"watch": "true", "resourceVersion": str(emu.rv)}) as stream:
                for i in range(rounds):
                    start = time.perf_counter()
                    async with session.patch(f"{url}/d", data=json.dumps({"spec": {"replicas": 1 + (i % 2 == 0)}}),
                                             headers={"Content-Type": "application/merge-patch+json"}) as r:
                        assert r.status == 200
                    while True:
                        line = await stream.content.readline()
                        if json.loads(line)["type"] == "MODIFIED":
                            break
                    samples.append(time.perf_counter() - start)
        return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    t = bench_plan(args.rounds)
    watch = asyncio.run(bench_watch(200))
    rt = statistics.median(watch)
    print("20-service stack, converged (the most work plan() does without acting):")
    print(f"  plan()                 {t['plan'] * 1e6:8.1f} us/call  (an event on an unchanged generation: "
          f"the reconciler reuses the Desired and its manifests)")
    first = t["plan (new generation)"] - t["desired_from_body"]
    print(f"  plan() on a new Desired {first * 1e6:7.1f} us/call  (a new generation: every manifest built and hashed once)")
    print(f"  status.compute()       {t['status.compute'] * 1e6:8.1f} us/call")
    print(f"  desired_from_body()    {t['desired_from_body'] * 1e6:8.1f} us/call  (loader + validators + resolver)")
    print(f"  watch round trip       {rt * 1e6:8.1f} us median, p90 {sorted(watch)[int(len(watch) * 0.9)] * 1e6:.1f} us"
          f"  (PATCH -> MODIFIED event, emulator over loopback HTTP)")
    print(f"  ratio plan / watch RT  {t['plan'] / rt:8.3f}")
    print(f"  ratio full decision / watch RT {(t['plan'] + t['status.compute']) / rt:8.3f}  (unchanged generation)")
    print(f"  ratio full decision / watch RT {(t['plan (new generation)'] + t['status.compute']) / rt:8.3f}  "
          f"(new generation: desired_from_body + plan + status)")


if __name__ == "__main__":
    main()
