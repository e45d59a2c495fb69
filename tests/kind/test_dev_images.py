"""Tilt's dev images, for real: built by docker and run, the synced paths writable by the image's user, the
synced source the code that runs, a reloader there; and, loaded into the tier's kind cluster with pytest-kind-ng's
``load_docker_image``, run there by containerd as Tilt runs it.  (tests/k8s/test_live_update.py checks the same
from the Dockerfiles where no Docker engine exists.)  Runs only where the kind tier runs (tests/kind/conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.kind

ROOT = Path(__file__).resolve().parents[2]


def build(dockerfile: str, context: str, tag: str) -> str:
    ref = f"hippodrome-test/{tag}:dev-stage"
    result = subprocess.run(["docker", "build", "--target", "dev", "-f", str(ROOT / dockerfile), "-t", ref,
                             str(ROOT / context)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return ref


def run(ref: str, script: str) -> str:
    result = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", ref, "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_operator_dev_image_runs_its_synced_source() -> None:
    ref = build("operator/Dockerfile", ".", "operator")
    out = run(ref, "touch /app/operator/hippodrome_operator/x /app/hippodrome_k8s/x && "
                   "cd /app && python -c 'import hippodrome_operator, hippodrome_k8s; "
                   "print(hippodrome_operator.__file__, hippodrome_k8s.__file__)' && watchfiles --version")
    assert "/app/operator/hippodrome_operator/__init__.py /app/hippodrome_k8s/__init__.py" in out


def test_the_examples_dev_image_runs_its_synced_source() -> None:
    ref = build("examples/Dockerfile", ".", "examples")
    out = run(ref, "touch /app/examples/x && cd /app && python -c 'import examples.controller as c; print(c.__file__)'"
                   " && watchfiles --version")
    assert out.startswith("/app/examples/controller/__init__.py")


def test_the_console_dev_image_can_be_written_and_watched() -> None:
    ref = build("examples/console/Dockerfile", "examples/console", "console")
    out = run(ref, "touch /app/server.js /app/public/x && id -u && node --help | grep -c -- --watch")
    assert out.split()[0] == "1000" and int(out.split()[1]) >= 1


def test_the_operator_dev_image_runs_in_the_cluster_as_its_own_user(kind_cluster) -> None:
    ref = build("operator/Dockerfile", ".", "operator")
    kind_cluster.load_docker_image(ref)  # never pulled: the pod below may only use what was loaded
    pod = "hippodrome-dev-image-check"
    kind_cluster.kubectl("run", pod, f"--image={ref}", "--image-pull-policy=Never", "--restart=Never", "--command",
                         "--", "sh", "-c", "id -u && touch /app/operator/hippodrome_operator/x && echo writable")
    try:
        kind_cluster.kubectl("wait", f"pod/{pod}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=180s")
        out = kind_cluster.kubectl("logs", pod)
    finally:
        kind_cluster.kubectl("delete", "pod", pod, "--ignore-not-found", "--wait=false")
    assert out.split()[0] != "0" and "writable" in out.split(), out
