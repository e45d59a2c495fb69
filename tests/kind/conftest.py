"""The real-cluster tier: runs only where docker answers, kind is on PATH and the pinned node image is present.

Never downloads anything: a missing node image is a skip (with the `docker pull` to run by hand),
not a pull.  Run on a machine with kind:  pytest tests/kind -m kind -rs
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hippodrome_k8s.k8s.cluster import node_image


def _why_not() -> str | None:
    for tool in ("docker", "kind", "kubectl", "helm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=10)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 10 s"
    if info.returncode != 0 or not info.stdout.strip():
        return f"the docker daemon is not reachable ({(info.stderr or '').strip().splitlines()[-1:] or '?'})"
    image = node_image()
    present = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30)
    if present.returncode != 0:
        return f"the pinned kind node image {image} is not present locally (`docker pull {image}` by hand; tests never pull)"
    return None


REASON = _why_not()


def pytest_collection_modifyitems(config, items):
    if REASON is None:
        return
    print(f"\ntests/kind skipped: {REASON}")
    for item in items:
        if "tests/kind" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=f"kind tier: {REASON}"))
