"""How should the AWS bootstrap reach moto?  Measured side by side, each run on a fresh moto server.

    python3 bench/bench_bootstrap.py [--rounds 3]

Creates the reference stack's declared resources (hippodrome.yaml: tables with items, a bucket,
queues, a topic with a subscription, a secret, a state machine) in two ways, each in a new process
with a cold moto: in-process (fake_aws's way: each call handed to the moto app of the process,
fakes/fake_aws/inprocess.py) and over loopback HTTP.  Prints the medians and their ratio.
(A third mode, a warm-up call per service then each wave from a thread pool over HTTP, measured
1.04 s against 0.89 s in-process and 0.98 s over HTTP with --rounds 15 on 2026-12-02; removed since.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, threading, time
from fakes.fake_aws.server import Readiness, make_moto_server
from fakes.fake_aws import bootstrap as b
from hippodrome_k8s.host.ports import free_port
mode, resources = sys.argv[1], json.loads(sys.argv[2])
port = free_port(); os.environ["MOTO_PORT"] = str(port)
server = make_moto_server("127.0.0.1", port, Readiness())
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = f"http://127.0.0.1:{port}"
started = time.perf_counter()
b.bootstrap(endpoint, resources, app=server.app if mode == "in-process" else None, log=lambda _: None)
print(time.perf_counter() - started)
server.shutdown()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from hippodrome_k8s.core.loader import load_stack
    from hippodrome_k8s.core.resolver import ResolveOptions, resolve

    plan = resolve(load_stack(REPO / "hippodrome.yaml"), ResolveOptions(seed="1", table_prefix="b-"))
    resources = plan.service("moto").env["HIPPODROME_AWS_RESOURCES"]
    counts = {k: len(v) for k, v in json.loads(resources).items() if isinstance(v, list)}
    print(f"AWS bootstrap of {counts} on a fresh moto each time, {args.rounds} rounds, python {sys.version.split()[0]}")
    results: dict[str, list[float]] = {"in-process": [], "http-serial": []}
    for _ in range(args.rounds):
        for mode in results:  # interleaved, so drift hits every mode alike
            out = subprocess.run([sys.executable, "-c", CHILD, mode, resources], cwd=REPO, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(out.stderr)
            results[mode].append(float(out.stdout.strip().splitlines()[-1]))
    medians = {mode: statistics.median(times) for mode, times in results.items()}
    for mode, times in results.items():
        print(f"  {mode:<14} median {medians[mode]:.2f} s   rounds {', '.join(f'{t:.2f}' for t in times)}")
    base = medians["in-process"]
    print(f"  ratio http-serial / in-process = {medians['http-serial'] / base:.2f}  (> 1: in-process is faster)")


if __name__ == "__main__":
    main()
