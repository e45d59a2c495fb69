"""What does keeping moto's state cost?  Measured side by side in one run, real processes.

    python bench/bench_moto_persistence.py [--writes 10000] [--rounds 3] [--puts 1500] [--journal-only]

1. Start-up: ``python -m fakes.fake_aws`` with the reference stack's resources (hippodrome.yaml
   ``spec.aws``, bootstrapped each time) until ``/healthz`` answers 200,
     - fresh: an empty state dir;
     - after 10k journalled writes (DynamoDB PutItem, SQS SendMessage, S3 PutObject) and a kill -9
       (the background compaction's snapshot + the journal it does not cover);
     - the same after a clean stop (SIGTERM: one snapshot, nothing to replay);
     - with --journal-only, also the same after a kill -9 with background compaction off
       (FAKE_AWS_COMPACT_EVERY=0: the whole journal replayed; shows what the background compaction buys).
   Each start gets its own copy of the prepared state dir; rounds are interleaved.
   Target: ready after 10k writes / ready fresh <= 1.3.
2. Per write: DynamoDB PutItem latency through boto3, one client, against two servers running at the
   same time, persistence on (default settings) and off (FAKE_AWS_PERSIST=false), in alternating
   batches.  Target: with / without <= 1.2.

Ports are ephemeral (never 9000-9019).  Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
from hippodrome_k8s.host.ports import free_ports  # noqa: E402


def test_helper(name: str):
    """A module of tests/ (not a package), loaded by its path: the benches do not touch sys.path."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wait_healthy = test_helper("hd_testing").wait_healthy



def reference_resources() -> str:
    from hippodrome_k8s.core.loader import load_stack
    from hippodrome_k8s.core.resolver import ResolveOptions, resolve

    plan = resolve(load_stack(REPO / "hippodrome.yaml"), ResolveOptions(seed="1", table_prefix="b-"))
    return plan.service("moto").env["HIPPODROME_AWS_RESOURCES"]


STARTED: list["Moto"] = []  # killed on the way out, whatever happens


class Moto:
    def __init__(self, state: Path, resources: str, **env: str) -> None:
        self.state = state
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HIPPODROME_", "FAKE_AWS_"))}
        self.env.update({"HOST": "127.0.0.1", "PORT": str(self.port), "HIPPODROME_STATE_DIR": str(state),
                         "HIPPODROME_AWS_RESOURCES": resources, "HIPPODROME_RANDOM_SEED": "1", **env})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Seconds from spawn to /healthz 200."""
        started = time.perf_counter()
        STARTED.append(self)
        log = self.state.parent / f"{self.state.name}.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_aws"], cwd=REPO, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        problem = wait_healthy(self.url + "/healthz", self.proc, 300)
        if problem:
            self.kill9()
            raise SystemExit(f"fake_aws {problem}: {log.read_text()[-2000:]}")
        return time.perf_counter() - started

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(300)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def client(self, name: str) -> Any:
        return boto3.client(name, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


def wait_unlocked(moto_dir: Path) -> None:
    """A compaction child of a killed server holds the state lock until it is done: wait for it."""
    fd = os.open(moto_dir / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def make_writes(moto: Moto, count: int) -> None:
    """count journalled writes: 80 % PutItem, 10 % SendMessage, 10 % PutObject, from 4 clients."""
    queue = moto.client("sqs").get_queue_url(QueueName="ingest")["QueueUrl"]

    def batch(start: int) -> None:
        ddb, sqs, s3 = moto.client("dynamodb"), moto.client("sqs"), moto.client("s3")
        for n in range(start, min(start + 250, count)):
            if n % 10 == 8:
                sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"n": n, "pad": "x" * 150}))
            elif n % 10 == 9:
                s3.put_object(Bucket="exports", Key=f"bench/{n}.json", Body=json.dumps({"n": n, "pad": "x" * 150}).encode())
            else:
                ddb.put_item(TableName="b-indexes", Item={"account_id": {"S": f"acc{n % 50}"}, "index_name": {"S": f"i{n}"},
                                                          "settings": {"S": "x" * 150}, "n": {"N": str(n)}})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batch, range(0, count, 250)))


def prepare(work: Path, name: str, resources: str, writes: int, ending: str, **env: str) -> Path:
    state = work / name
    moto = Moto(state, resources, **env)
    moto.start()
    started = time.perf_counter()
    make_writes(moto, writes)
    elapsed = time.perf_counter() - started
    (moto.stop if ending == "stop" else moto.kill9)()
    wait_unlocked(state / "moto")
    files = sorted((p.name, p.stat().st_size) for p in (state / "moto").iterdir())
    journal = sum(size for n, size in files if n.startswith("journal-"))
    snapshot = sum(size for n, size in files if n == "snapshot.pickle")
    print(f"  prepared {name}: {writes} writes in {elapsed:.1f} s ({writes / elapsed:.0f}/s), then {ending}; "
          f"snapshot {snapshot / 1e6:.1f} MB, journal {journal / 1e6:.2f} MB", flush=True)
    return state


def ready_from(template: Path | None, work: Path, resources: str, round_: int, **env: str) -> tuple[float, dict[str, Any]]:
    state = work / f"run-{template.name if template else 'fresh'}-{round_}"
    if template is not None:
        shutil.copytree(template, state)
    moto = Moto(state, resources, **env)
    seconds = moto.start()
    import requests

    health = requests.get(moto.url + "/healthz", timeout=5).json()
    moto.kill9()
    wait_unlocked(state / "moto")
    shutil.rmtree(state, ignore_errors=True)
    return seconds, {**health.get("state", {}), "bootstrapSeconds": health.get("bootstrapSeconds", 0.0)}


def startup(work: Path, resources: str, writes: int, rounds: int, journal_only: bool) -> None:
    print(f"1. ready (reference stack bootstrapped), {rounds} rounds, medians", flush=True)
    templates = {
        "fresh": None,
        "kill -9": prepare(work, "killed", resources, writes, "kill9"),
        "clean stop": prepare(work, "stopped", resources, writes, "stop"),
    }
    if journal_only:
        templates["kill -9, no background compaction"] = prepare(work, "journal-only", resources, writes, "kill9",
                                                                 FAKE_AWS_COMPACT_EVERY="0")
    env = {"kill -9, no background compaction": {"FAKE_AWS_COMPACT_EVERY": "0"}}
    times: dict[str, list[float]] = {name: [] for name in templates}
    restore: dict[str, list[float]] = {name: [] for name in templates}
    boot: dict[str, list[float]] = {name: [] for name in templates}
    replayed: dict[str, int] = {}
    for round_ in range(rounds):
        for name, template in templates.items():  # interleaved, so drift hits every case alike
            seconds, state = ready_from(template, work, resources, round_, **env.get(name, {}))
            times[name].append(seconds)
            restore[name].append(state.get("seconds", 0.0))
            boot[name].append(state["bootstrapSeconds"])
            replayed[name] = state.get("replayed", 0)
    fresh = statistics.median(times["fresh"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<34} {median:5.2f} s  ratio to fresh {median / fresh:.2f}  (restore {statistics.median(restore[name]):.2f} s,"
              f" {replayed[name]} writes replayed; bootstrap {statistics.median(boot[name]):.2f} s)"
              f"  rounds {', '.join(f'{v:.2f}' for v in values)}")
    print(f"  target: ready after {writes} writes / fresh <= 1.3 (kill -9 and clean stop)")


def per_write(work: Path, resources: str, puts: int) -> None:
    print(f"2. DynamoDB PutItem latency, one boto3 client, {puts} puts per server in alternating batches of 100", flush=True)
    servers = {"with persistence": Moto(work / "lat-on", resources), "without": Moto(work / "lat-off", resources,
                                                                                       FAKE_AWS_PERSIST="false")}
    for moto in servers.values():
        moto.start()
    clients = {name: moto.client("dynamodb") for name, moto in servers.items()}
    samples: dict[str, list[float]] = {name: [] for name in servers}
    for name, ddb in clients.items():  # warm up: connections, code paths
        for n in range(50):
            ddb.put_item(TableName="b-indexes", Item={"account_id": {"S": "warm"}, "index_name": {"S": f"w{n}"}})
    for start in range(0, puts, 100):
        for name, ddb in clients.items():
            for n in range(start, start + 100):
                item = {"account_id": {"S": f"acc{n % 50}"}, "index_name": {"S": f"i{n}"}, "settings": {"S": "x" * 150}}
                t = time.perf_counter()
                ddb.put_item(TableName="b-indexes", Item=item)
                samples[name].append(time.perf_counter() - t)
    for moto in servers.values():
        moto.stop()
    stats = {name: (statistics.median(v), statistics.fmean(v), sorted(v)[int(len(v) * 0.99)]) for name, v in samples.items()}
    for name, (median, mean, p99) in stats.items():
        print(f"  {name:<18} median {median * 1e3:6.2f} ms   mean {mean * 1e3:6.2f} ms   p99 {p99 * 1e3:6.2f} ms")
    on, off = stats["with persistence"], stats["without"]
    print(f"  ratio with / without: median {on[0] / off[0]:.2f}, mean {on[1] / off[1]:.2f}  (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--puts", type=int, default=1500)
    parser.add_argument("--journal-only", action="store_true", help="also time a whole-journal replay (slow)")
    args = parser.parse_args()
    resources = reference_resources()
    counts = {k: len(v) for k, v in json.loads(resources).items() if isinstance(v, list)}
    print(f"fake_aws persistence, reference stack {counts}, python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-moto-") as tmp:
        work = Path(tmp)
        try:
            startup(work, resources, args.writes, args.rounds, args.journal_only)
            per_write(work, resources, args.puts)
        finally:
            for moto in STARTED:
                if moto.proc is not None and moto.proc.poll() is None:
                    moto.kill9()
            for lock in work.glob("*/moto/lock"):
                wait_unlocked(lock.parent)  # a compaction child of a killed server: let it finish


if __name__ == "__main__":
    main()
