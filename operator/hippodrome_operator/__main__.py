"""``python -m hippodrome_operator``: run the operator (in the cluster, or against a kubeconfig).

Settings come from the environment (the chart sets them):

    HIPPODROME_WATCH_NAMESPACES  comma-separated namespaces; empty: cluster-wide
    HIPPODROME_DEFAULT_IMAGE     image for services without ``image`` (default hippodrome/fakes:dev)
    HIPPODROME_RESYNC_SECONDS    a full round at least this often (default 30)
    HIPPODROME_LIVENESS_PORT     kopf's liveness endpoint /healthz (default 8080)
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import kopf

from hippodrome_k8s.errors import HippodromeError

from .apply import KubeApi
from .desired import DEFAULT_IMAGE
from .handlers import build_registry, configure
from .reconcile import Config


def main() -> int:
    logging.basicConfig(level=os.environ.get("HIPPODROME_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    namespaces = [n.strip() for n in os.environ.get("HIPPODROME_WATCH_NAMESPACES", "").split(",") if n.strip()]
    config = Config(default_image=os.environ.get("HIPPODROME_DEFAULT_IMAGE", DEFAULT_IMAGE),
                    resync_seconds=float(os.environ.get("HIPPODROME_RESYNC_SECONDS", "30")))
    port = int(os.environ.get("HIPPODROME_LIVENESS_PORT", "8080"))
    try:
        api = KubeApi.from_environment()
    except HippodromeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    settings = kopf.OperatorSettings()
    configure(settings)
    registry = build_registry(api, config)
    asyncio.run(kopf.operator(
        registry=registry, settings=settings, standalone=True,
        clusterwide=not namespaces, namespaces=namespaces,
        liveness_endpoint=f"http://0.0.0.0:{port}/healthz",
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
