"""``python -m hippodrome_operator``: run the operator (in the cluster, or against a kubeconfig).

Settings come from the environment (the chart sets them):

    HIPPODROME_WATCH_NAMESPACES  comma-separated namespaces; empty: cluster-wide
    HIPPODROME_DEFAULT_IMAGE     image for services without ``image`` (default hippodrome/fakes:dev)
    HIPPODROME_RESYNC_SECONDS    a full round at least this often (default 30)
    HIPPODROME_LIVENESS_PORT     kopf's liveness endpoint /healthz (default 8080)
    HIPPODROME_LIVE_UPDATE       "true": Tilt's dev images; reloading services run under a reloader
    HIPPODROME_CRD_WAIT_SECONDS  how long to wait at start for the CRD to be served (default 120)
    HIPPODROME_STATE_STORAGE     stateful services' data: "pvc" (default) or "emptyDir" (no provisioner)
    HIPPODROME_STATE_SIZE        each claim's size (default 1Gi)

With CRD scanning off (least RBAC), kopf looks the CRD up once, at start: started before the CRD is
served (Tilt applies them as separate resources; a fresh cluster may be slow to establish it), it
would never watch a stack.  So it waits for the CRD first, and exits 1 if it never comes, so that
Kubernetes restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import kopf

from hippodrome_k8s.core.crd import GROUP, PLURAL
from hippodrome_k8s.core.errors import HippodromeError

from hippodrome_operator.apply import OperatorApi
from hippodrome_operator.children import STATE_STORAGE
from hippodrome_operator.desired import DEFAULT_IMAGE
from hippodrome_operator.handlers import build_registry, configure
from hippodrome_operator.reconcile import Config


def main() -> int:
    logging.basicConfig(level=os.environ.get("HIPPODROME_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    namespaces = [n.strip() for n in os.environ.get("HIPPODROME_WATCH_NAMESPACES", "").split(",") if n.strip()]
    config = Config(default_image=os.environ.get("HIPPODROME_DEFAULT_IMAGE", DEFAULT_IMAGE),
                    resync_seconds=float(os.environ.get("HIPPODROME_RESYNC_SECONDS", "30")),
                    live_update=os.environ.get("HIPPODROME_LIVE_UPDATE", "").lower() == "true",
                    state_storage=os.environ.get("HIPPODROME_STATE_STORAGE", "pvc"),
                    state_size=os.environ.get("HIPPODROME_STATE_SIZE", "1Gi"))
    if config.state_storage not in STATE_STORAGE:
        print(f"Error: HIPPODROME_STATE_STORAGE={config.state_storage!r}: use {' or '.join(STATE_STORAGE)}",
              file=sys.stderr)
        return 2
    port = int(os.environ.get("HIPPODROME_LIVENESS_PORT", "8080"))
    try:
        api = OperatorApi.from_environment()
    except HippodromeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    crd_wait = float(os.environ.get("HIPPODROME_CRD_WAIT_SECONDS", "120"))
    problem = asyncio.run(_await_crd(api, crd_wait))
    if problem is not None:
        print(f"Error: {problem}", file=sys.stderr)
        return 1
    settings = kopf.OperatorSettings()
    configure(settings)
    registry = build_registry(api, config)
    asyncio.run(kopf.operator(
        registry=registry, settings=settings, standalone=True,
        clusterwide=not namespaces, namespaces=namespaces,
        liveness_endpoint=f"http://0.0.0.0:{port}/healthz",
    ))
    return 0


async def _await_crd(api: OperatorApi, timeout: float, poll: float = 1.0) -> str | None:
    """None once HippodromeStacks are served; else why not, after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = "not served yet"
    while True:
        try:
            if await api.stacks_served():
                return None
        except HippodromeError as e:
            last = str(e)
        if loop.time() >= deadline:
            return (f"the HippodromeStack CRD ({PLURAL}.{GROUP}) is not served after {timeout:g}s ({last}); "
                    "the chart installs it from crds/ (with Tilt: the `crd` resource); exiting so that "
                    "Kubernetes restarts the operator")
        logging.getLogger("hippodrome_operator").info("waiting for the %s.%s CRD to be served", PLURAL, GROUP)
        await asyncio.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
