"""``.hippodrome/run.json``: how the CLI finds a running supervisor (pid, URL, control token).

Written atomically (temp file + rename) with mode 0600, because it holds the
per-run control token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil

from hippodrome_k8s.core.errors import NotRunningError
from hippodrome_k8s.host.project import ProjectPaths, write_atomic


def run_file(project_root: str | Path) -> Path:
    return ProjectPaths(Path(project_root)).run_file


def write_run_info(project_root: str | Path, info: dict[str, Any]) -> None:
    write_atomic(run_file(project_root), json.dumps(info, indent=2, sort_keys=True))


def remove_run_info(project_root: str | Path, pid: int) -> None:
    path = run_file(project_root)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (FileNotFoundError, json.JSONDecodeError):
        pass


def read_run_info(project_root: str | Path) -> dict[str, Any]:
    path = run_file(project_root)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotRunningError(
            f"no Hippodrome stack is running for {Path(project_root).resolve()} (no {path}); start one with `hippodrome up`"
        ) from None
    except json.JSONDecodeError as e:
        raise NotRunningError(f"{path} is unreadable ({e}); remove it and start with `hippodrome up`") from None
    if not process_alive(info.get("pid", -1)):
        raise NotRunningError(
            f"the supervisor recorded in {path} (pid {info.get('pid')}) is not running; start one with `hippodrome up`"
        )
    return info


def process_alive(pid: int) -> bool:
    """True for a live process; a zombie (killed, not yet reaped) counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):
        return False
