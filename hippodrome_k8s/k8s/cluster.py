"""Create or reuse the kind cluster described by the committed ``kind/kind-config.yaml``.

Reuse is the common case (every `k8s up` after the first): an existing cluster
is kept, its node container restarted if docker stopped it (after a reboot),
its kubeconfig context re-exported, and its API server waited for (``/readyz``,
bounded): a node container just started answers nothing for a while, and the
CRDs are applied next.  Only ``k8s down --delete-cluster`` deletes it.

One kind release is pinned, with its node image by digest (kind supports a node
image only with the release that built it, and says to pin the digest): kind
v0.33.0 and ``kindest/node:v1.37.0@sha256:a1ed56cf…`` from that release's notes
(https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0), the Kubernetes
minor of the real control-plane tests.

An existing cluster (``k8s up --context NAME``: Docker Desktop, minikube, k3d, a shared dev
cluster, or the test control plane) is ``ExistingCluster``: never created, loaded into or deleted;
only its API server is waited for.

Loading images: ``kind load docker-image`` fails (``ctr: content digest ... not
found``) when Docker uses the containerd image store, the default in current
Docker and Docker Desktop (kind issues #3795, #3845); then the images go through
``docker save`` into an archive and ``kind load image-archive``.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.k8s.runner import Completed, Runner

DEFAULT_CLUSTER = "hippodrome"
CONFIG_PATH = Path(__file__).resolve().parents[2] / "kind" / "kind-config.yaml"
CREATE_TIMEOUT = 600.0
QUICK = 30.0
READY_TIMEOUT = 120.0
KIND_VERSION = "v0.33.0"  # the pinned release; its node image is in kind/kind-config.yaml


def node_image(config: Path = CONFIG_PATH) -> str:
    """The pinned node image from the kind config (tests/kind skips unless it is present locally)."""
    try:
        data = yaml.safe_load(config.read_text())
        return data["nodes"][0]["image"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as e:
        raise K8sError(f"cannot read the node image from {config}: {e}") from None


def kubernetes_minor(image: str) -> str:
    """``kindest/node:v1.37.0@sha256:...`` -> ``1.37`` (the version the chart is validated against)."""
    match = re.search(r":v(\d+)\.(\d+)\.\d+", image)
    if not match:
        raise K8sError(f"cannot read a Kubernetes version from the node image {image!r}")
    return f"{match.group(1)}.{match.group(2)}"


def needs_archive(load: Completed) -> bool:
    """Whether a failed ``kind load docker-image`` is the containerd-image-store failure (go through an archive)."""
    text = f"{load.stdout}\n{load.stderr}".lower()
    return not load.ok and "content digest" in text and "not found" in text


@dataclass
class KindCluster:
    runner: Runner
    name: str = DEFAULT_CLUSTER
    config: Path = CONFIG_PATH
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def node(self) -> str:
        return f"{self.name}-control-plane"

    def exists(self) -> bool:
        result = self.runner.run(["kind", "get", "clusters"], timeout=QUICK).check()
        return self.name in result.stdout.split()

    def ensure(self) -> str:
        """Create the cluster, or reuse it: returns "created" or "reused"."""
        if self.exists():
            running = self.runner.run(["docker", "inspect", "-f", "{{.State.Running}}", self.node], timeout=QUICK)
            if running.ok and running.stdout.strip() == "false":
                self.runner.run(["docker", "start", self.node], timeout=QUICK).check()
            self.runner.run(["kind", "export", "kubeconfig", "--name", self.name], timeout=QUICK).check()
            self.wait_ready()
            return "reused"
        self.runner.run(["kind", "create", "cluster", "--name", self.name, "--config", str(self.config),
                         "--wait", "120s"], timeout=CREATE_TIMEOUT, stream=True).check()
        return "created"

    def wait_ready(self, timeout: float = READY_TIMEOUT, poll: float = 1.0) -> None:
        """Until the API server answers ``/readyz`` (bounded), e.g. after its node container was restarted."""
        why = wait_readyz(self.runner, self.context, timeout, poll, self.sleep, self.clock)
        if why is not None:
            raise K8sError(f"the API server of kind cluster {self.name!r} was not ready within {timeout:g}s "
                           f"(`kubectl --context {self.context} get --raw /readyz`: {why}); "
                           f"try `docker restart {self.node}`, or `hippodrome k8s down --delete-cluster`")

    def load_images(self, refs: list[str]) -> str:
        """``kind load docker-image`` (skips images the node has with the same ID); on the containerd image
        store's failure, ``docker save`` + ``kind load image-archive``.  Returns the way that worked."""
        if not refs:
            return "none"
        load = self.runner.run(["kind", "load", "docker-image", *refs, "--name", self.name], timeout=CREATE_TIMEOUT)
        if load.ok:
            return "docker-image"
        if not needs_archive(load):
            load.check()
        with tempfile.TemporaryDirectory(prefix="hippodrome-images-") as tmp:
            archive = str(Path(tmp) / "images.tar")
            self.runner.run(["docker", "save", "-o", archive, *refs], timeout=CREATE_TIMEOUT).check()
            self.runner.run(["kind", "load", "image-archive", archive, "--name", self.name],
                            timeout=CREATE_TIMEOUT, stream=True).check()
        return "image-archive"

    def delete(self) -> bool:
        if not self.exists():
            return False
        self.runner.run(["kind", "delete", "cluster", "--name", self.name], timeout=CREATE_TIMEOUT).check()
        return True


@dataclass
class ExistingCluster:
    """The cluster behind a kubeconfig context the user chose: used as it is, never created or deleted."""

    runner: Runner
    context: str
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def ensure(self, timeout: float = READY_TIMEOUT, poll: float = 1.0) -> str:
        why = wait_readyz(self.runner, self.context, timeout, poll, self.sleep, self.clock)
        if why is not None:
            raise K8sError(f"the API server of context {self.context!r} was not ready within {timeout:g}s "
                           f"(`kubectl --context {self.context} get --raw /readyz`: {why}); "
                           "check `kubectl config get-contexts` and that the cluster runs")
        return "existing"


def wait_readyz(runner: Runner, context: str, timeout: float, poll: float, sleep: Callable[[float], None],
                clock: Callable[[], float]) -> str | None:
    """None once ``kubectl --context <context> get --raw /readyz`` says ok; else, after ``timeout``, why not."""
    deadline = clock() + timeout
    while True:
        result = runner.run(["kubectl", "--context", context, "get", "--raw", "/readyz"], timeout=QUICK)
        if result.ok and result.stdout.strip() == "ok":
            return None
        if clock() >= deadline:
            return ((result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.returncode}"])[0]
        sleep(poll)
