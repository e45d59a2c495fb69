"""``python -m fakes.fake_aws``: restore moto's state, serve moto on $HOST:$PORT, create $HIPPODROME_AWS_RESOURCES.

Environment (the only configuration)::

    HOST                      127.0.0.1
    PORT                      9003
    HIPPODROME_AWS_RESOURCES  {"region", "tables", "buckets", "queues", "topics", "secrets", "stateMachines"}
                              (rendered by the resolver, so table names already carry the prefix)
    HIPPODROME_STATE_DIR      .hippodrome/state; moto's state lives in its moto/ directory (journal.py)
    HIPPODROME_RANDOM_SEED    only to say "seed changed" when seeded items are replaced
    HIPPODROME_ALLOWED_ORIGINS, HIPPODROME_ALLOWED_HOSTS, HIPPODROME_POD_IP
                              who may call from a browser (hippodrome_k8s.core.origins); loopback only when unset
    FAKE_AWS_PERSIST          true (default): keep moto's state across restarts; false: memory only
    FAKE_AWS_COMPACT_EVERY    500: snapshot in the background after this many journalled writes (or
                              64 MB of journal, or 1 s spent executing them); 0: only on a clean stop
    FAKE_AWS_LOCK_TIMEOUT     60: seconds to wait for the state dir's lock (held by another fake_aws,
                              or by the compaction child of one that was killed) before giving up

The socket is bound first (a taken port fails at once), then the state is restored, then requests
are served and the bootstrap runs (its calls handed to the same app in-process: bootstrap.py).
SIGTERM (or Ctrl-C) stops the server, waits for writes in flight, compacts the journal into a
snapshot and exits 0.  A bootstrap failure is logged, reported by /healthz as ``failed`` and ends
the process with exit 1 so the supervisor restarts it; a state dir that cannot be used (damaged,
or held by another fake_aws) is exit 1 with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Mapping

from hippodrome_k8s.core.errors import BootstrapError
from hippodrome_k8s.core.origins import policy_from_env

from fakes.common.config import ServiceEnv, flag, number

from .bootstrap import bootstrap
from .journal import Journal, StateError
from .server import JournallingDispatcher, Readiness, make_moto_server


def settings(env: Mapping[str, str]) -> dict[str, object]:
    """Parse the environment; a bad value is a ValueError that names the variable."""
    common = ServiceEnv.read(env, default_port=9003)
    try:
        resources = json.loads(env.get("HIPPODROME_AWS_RESOURCES") or "{}")
    except json.JSONDecodeError as e:
        raise ValueError(f"HIPPODROME_AWS_RESOURCES is not valid JSON: {e}") from None
    if not isinstance(resources, dict):
        raise ValueError("HIPPODROME_AWS_RESOURCES must be a JSON object")
    persist = flag(env, "FAKE_AWS_PERSIST", default=True)
    every = number(env, "FAKE_AWS_COMPACT_EVERY", 500, int, "an integer >= 0", lambda n: n >= 0)
    lock_timeout = number(env, "FAKE_AWS_LOCK_TIMEOUT", 60.0, float, "a positive number of seconds", lambda n: n > 0)
    return {
        "host": common.host,
        "port": common.port,
        "resources": resources,
        "state_dir": common.state_dir / "moto",
        "persist": persist,
        "compact_every": every,
        "lock_timeout": lock_timeout,
        "seed": env.get("HIPPODROME_RANDOM_SEED") or None,
        "policy": policy_from_env(env),
    }


def say(line: str, *, error: bool = False) -> None:
    print(f"fake_aws: {line}", file=sys.stderr if error else sys.stdout, flush=True)


def main() -> int:
    try:
        config = settings(os.environ)
    except ValueError as e:
        say(str(e), error=True)
        return 2
    host, port, state_dir = config["host"], config["port"], config["state_dir"]
    assert isinstance(host, str) and isinstance(port, int) and isinstance(state_dir, Path)

    # moto's Step Functions interpreter calls back into moto at localhost:$MOTO_PORT (default 5000).
    os.environ["MOTO_PORT"] = str(port)
    readiness = Readiness()
    dispatcher = JournallingDispatcher()
    server = make_moto_server(host, port, readiness, dispatcher, config["policy"])  # type: ignore[arg-type]  # bound now: a taken port fails before anything else
    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    journal: Journal | None = None
    restored_summary: dict[str, object] = {}
    if config["persist"]:
        from . import motostate

        journal = Journal(state_dir, dump=motostate.dump_state, load=motostate.load_state, replay=dispatcher.replay,
                          header=motostate.snapshot_header(), compact_every=int(config["compact_every"]),  # type: ignore[call-overload]
                          lock_timeout=float(config["lock_timeout"]), log=say)  # type: ignore[arg-type]
        dispatcher.prepare_replay()
        try:
            restored = journal.open()
        except StateError as e:
            say(str(e), error=True)
            server.server_close()
            return 1
        dispatcher.journal = journal
        if restored.snapshot:
            restored.released = motostate.release_in_flight()
            restored.aborted = motostate.abort_interrupted_executions()
        restored_summary = restored.summary()
        if restored.snapshot or restored.replayed:
            say(f"state restored from {state_dir} ({'snapshot + ' if restored.snapshot else ''}"
                f"{restored.replayed} journalled writes replayed) in {restored.seconds:.2f}s")
        else:
            say(f"state: none yet in {state_dir}; starting empty")
        if restored.failed:
            say(f"warning: {restored.failed} of {restored.replayed} journalled writes failed on replay: "
                + " | ".join(restored.failures), error=True)
    else:
        say("state: not persisted (FAKE_AWS_PERSIST=false)")

    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    say(f"moto listening on {host}:{port}")

    code = 0
    try:
        if not stopping.is_set():
            started = time.monotonic()
            try:
                count = bootstrap(endpoint, config["resources"], app=server.app, log=say,  # type: ignore[arg-type]
                                  state_dir=state_dir if journal is not None else None, seed=config["seed"])  # type: ignore[arg-type]
            except BootstrapError as e:
                if not stopping.is_set():
                    readiness.set(status="failed", message=str(e))
                    say(str(e), error=True)
                    stop()
                    code = 1
            else:
                elapsed = time.monotonic() - started
                readiness.set(status="ready", resources=count, bootstrapSeconds=round(elapsed, 3),
                              state=restored_summary)
                say(f"bootstrap created {count} resources in {elapsed:.2f}s; ready")
                if journal is not None and restored_summary.get("replayed"):
                    with dispatcher.write_lock:  # fold the replayed journal into a snapshot, in the background
                        journal.compact_in_background()
        while thread.is_alive():
            thread.join(0.5)
    finally:
        server.server_close()
        if journal is not None:
            started = time.monotonic()
            with dispatcher.write_lock:  # writes in flight finish first; later ones are refused (503)
                compacted = journal.close(compact=True)
            if compacted:
                say(f"state saved to {state_dir} (snapshot) in {time.monotonic() - started:.2f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
