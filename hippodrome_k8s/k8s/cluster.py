"""Create or reuse the kind cluster described by the committed ``kind/kind-config.yaml``.

Reuse is the common case (every `k8s up` after the first): an existing cluster
is kept, its node container restarted if docker stopped it (after a reboot),
and its kubeconfig context re-exported.  Only ``k8s down --delete-cluster``
deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import K8sError
from .runner import Runner

DEFAULT_CLUSTER = "hippodrome"
CONFIG_PATH = Path(__file__).resolve().parents[2] / "kind" / "kind-config.yaml"
CREATE_TIMEOUT = 600.0
QUICK = 30.0


def node_image(config: Path = CONFIG_PATH) -> str:
    """The pinned node image from the kind config (tests/kind skips unless it is present locally)."""
    try:
        data = yaml.safe_load(config.read_text())
        return data["nodes"][0]["image"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError) as e:
        raise K8sError(f"cannot read the node image from {config}: {e}") from None


@dataclass
class KindCluster:
    runner: Runner
    name: str = DEFAULT_CLUSTER
    config: Path = CONFIG_PATH

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
            return "reused"
        self.runner.run(["kind", "create", "cluster", "--name", self.name, "--config", str(self.config),
                         "--wait", "120s"], timeout=CREATE_TIMEOUT, stream=True).check()
        return "created"

    def load_images(self, refs: list[str]) -> None:
        """``kind load docker-image``: skips images already present on the node with the same ID."""
        if refs:
            self.runner.run(["kind", "load", "docker-image", *refs, "--name", self.name],
                            timeout=CREATE_TIMEOUT, stream=True).check()

    def delete(self) -> bool:
        if not self.exists():
            return False
        self.runner.run(["kind", "delete", "cluster", "--name", self.name], timeout=CREATE_TIMEOUT).check()
        return True
