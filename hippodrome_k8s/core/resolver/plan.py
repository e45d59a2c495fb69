"""What ``resolve`` takes and gives: the options, the plan, one planned service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hippodrome_k8s.core.model import Cell, HealthCheck, Profile, Service
from hippodrome_k8s.core.resolver.addressing import Addressing, LocalAddressing

# Only the default of ResolveOptions (tests; the operator, whose children read the secret from the cluster's
# Secret instead): the CLI always passes the project's secret (hippodrome_k8s.host.project.choose_secret).
DEFAULT_ENCRYPTION_SECRET = "1234567890ABCDEF"


@dataclass(frozen=True)
class ResolveOptions:
    profile: Profile | None = None  # None: the stack's default
    cell: Cell | None = None
    table_prefix: str | None = None  # None: the stack's, else dev-<branch>-
    git_branch: str | None = None
    seed: str | None = None  # None: the stack's (the CLI picks a random one if neither)
    encryption_secret: str = DEFAULT_ENCRYPTION_SECRET
    addressing: Addressing = field(default_factory=LocalAddressing)
    project_root: str = "."
    state_dir: str = ".hippodrome/state"


@dataclass(frozen=True)
class PlannedService:
    name: str
    port: int
    layer: int
    blocking: bool
    url: str
    health: HealthCheck
    command: tuple[str, ...]
    container_command: tuple[str, ...]  # image.command (rendered) or, if unset, the local command
    cwd: str
    env: Mapping[str, str]
    reload: bool
    watch: tuple[str, ...]
    node_modules: bool
    stop_timeout: float
    spec: Service

    @property
    def health_url(self) -> str:
        return self.url + self.health.path


@dataclass(frozen=True)
class Plan:
    stack_name: str
    profile: Profile
    cell: Cell
    cell_url: str
    table_prefix: str
    seed: str
    engine: str
    services: tuple[PlannedService, ...]  # in layer order, then file order
    test_env: Mapping[str, str]  # what `hippodrome env` prints for E2E suites
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 9000
    seed_data: Mapping[str, Any] = field(default_factory=dict)  # seeded accounts: ids and API keys
    local_cell_service: str | None = None  # the selected fake cell, if any (seeding registers keys in it)
    encryption_secret: str = DEFAULT_ENCRYPTION_SECRET
    warnings: tuple[str, ...] = ()
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # core.dependencies: who needs whom

    @property
    def layers(self) -> list[list[PlannedService]]:
        by_layer: dict[int, list[PlannedService]] = {}
        for s in self.services:
            by_layer.setdefault(s.layer, []).append(s)
        return [by_layer[k] for k in sorted(by_layer)]

    def service(self, name: str) -> PlannedService:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)
