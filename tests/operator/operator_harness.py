"""Test helpers around the emulator: the Cluster handle and fixture loading."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


from kmock_emulator import DEPLOYMENTS, STACKS, Emulator, KopfThread

STACKS_DIR = Path(__file__).parent / "stacks"
NAMESPACE = "hippo"


def load_fixture(name: str = "small.yaml") -> dict[str, Any]:
    return yaml.safe_load((STACKS_DIR / name).read_text())


class Cluster:
    def __init__(self, emu: Emulator, kopf_thread: KopfThread):
        self.emu = emu
        self.kopf = kopf_thread
        self.ns = NAMESPACE

    async def create_stack(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.emu.create(STACKS, self.ns, copy.deepcopy(body))

    def stack(self, name: str = "dev") -> dict[str, Any] | None:
        return self.emu.get(STACKS, self.ns, name)

    def deployments(self) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["labels"]["hippodrome.dev/service"]: d for d in self.emu.items(DEPLOYMENTS, self.ns)}

    async def mark_available(self, service: str) -> None:
        d = self.deployments()[service]
        replicas = d["spec"].get("replicas", 1)
        await self.emu.patch(DEPLOYMENTS, self.ns, d["metadata"]["name"], {"status": {
            "observedGeneration": d["metadata"]["generation"], "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
        }}, subresource="status")

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            assert self.kopf.alive, f"the operator died: {self.kopf.error!r}"
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; "
                             f"stack status: {(self.stack() or {}).get('status')}")


