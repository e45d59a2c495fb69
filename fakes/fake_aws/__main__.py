"""``python -m fakes.fake_aws``: serve moto on $HOST:$PORT, then create $HIPPODROME_AWS_RESOURCES.

The resources arrive as JSON in the env (rendered by the resolver, so table
names already carry the prefix); the same works in a container.  SIGTERM stops
the server cleanly; a bootstrap failure is logged, reported by /healthz as
``failed`` and ends the process with exit 1 so the supervisor restarts it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from hippodrome_k8s.core.errors import BootstrapError

from .bootstrap import bootstrap
from .server import Readiness, make_moto_server


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "9003"))
    try:
        resources = json.loads(os.environ.get("HIPPODROME_AWS_RESOURCES") or "{}")
    except json.JSONDecodeError as e:
        print(f"fake_aws: HIPPODROME_AWS_RESOURCES is not valid JSON: {e}", file=sys.stderr)
        return 2

    # moto's Step Functions interpreter calls back into moto at localhost:$MOTO_PORT (default 5000).
    os.environ["MOTO_PORT"] = str(port)
    readiness = Readiness()
    server = make_moto_server(host, port, readiness)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(f"fake_aws: moto listening on {host}:{port}", flush=True)

    started = time.monotonic()
    try:
        count = bootstrap(endpoint, resources, log=lambda line: print(f"fake_aws: {line}", flush=True))
    except BootstrapError as e:
        readiness.set(status="failed", message=str(e))
        print(f"fake_aws: {e}", file=sys.stderr, flush=True)
        server.shutdown()
        return 1
    elapsed = time.monotonic() - started
    readiness.set(status="ready", resources=count, bootstrapSeconds=round(elapsed, 3))
    print(f"fake_aws: bootstrap created {count} resources in {elapsed:.2f}s; ready", flush=True)
    thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
