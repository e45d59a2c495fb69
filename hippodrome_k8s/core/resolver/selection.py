"""Which services run, against which cell, with which table prefix: selection by profile and cell."""

from __future__ import annotations

import re

from hippodrome_k8s.core.errors import UsageError
from hippodrome_k8s.core.model import Cell, HippodromeStack, Profile, Service
from hippodrome_k8s.core.resolver.addressing import Addressing


def sanitize_branch(branch: str | None) -> str:
    """``feature/add-auth`` -> ``feature-add-auth``; empty or detached -> ``local``."""
    if not branch or branch == "HEAD":
        return "local"
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", branch).strip("-").lower()
    return cleaned[:40].rstrip("-") or "local"


def default_table_prefix(branch: str | None) -> str:
    return f"dev-{sanitize_branch(branch)}-"


def selected(service: Service, profile: Profile, cell: Cell, local_cell_service: str) -> bool:
    if profile not in service.profiles or cell not in service.cells:
        return False
    return not (service.name == local_cell_service and cell != Cell.local)


def require_prod_confirmation(cell: Cell, confirmed: bool) -> None:
    if cell == Cell.prod and not confirmed:
        raise UsageError(
            "--cell prod connects to PRODUCTION data; add --i-understand-this-is-prod to confirm"
        )


def table_prefix_for(stack: HippodromeStack, option: str | None, git_branch: str | None) -> str:
    """``--table-prefix``, else ``spec.tablePrefix``, else ``dev-<sanitized git branch>-``."""
    if option is not None:
        return option
    if stack.spec.tablePrefix is not None:
        return stack.spec.tablePrefix
    return default_table_prefix(git_branch)


def cell_url_for(stack: HippodromeStack, cell: Cell, addressing: Addressing) -> tuple[str, list[str]]:
    """The cell's URL (the local fake cell's, or a remote cell's from ``spec.cells``) and any warning."""
    spec = stack.spec
    if cell == Cell.local:
        local_cell = stack.service(spec.cells.localService)
        host = addressing.host(stack.metadata.name, spec.cells.localService)
        return (f"http://{host}:{local_cell.port}" if local_cell else ""), []
    remote = getattr(spec.cells, cell.value)
    if remote is None:
        raise UsageError(f"--cell {cell.value}: the stack file has no spec.cells.{cell.value}.url")
    return remote.url, (["WARNING: --cell prod connects to PRODUCTION data."] if cell == Cell.prod else [])


def chosen_services(stack: HippodromeStack, profile: Profile, cell: Cell) -> list[Service]:
    """The selected services in layer order (file order within a layer)."""
    chosen = [s for s in stack.spec.services if selected(s, profile, cell, stack.spec.cells.localService)]
    return sorted(chosen, key=lambda s: s.layer)
