"""``.hippodrome/run.json``: how the CLI finds a running supervisor (pid, URL, control token).

Written atomically (temp file + rename) with mode 0600, because it holds the
per-run control token.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import psutil

from ..errors import NotRunningError


def hippodrome_dir(project_root: str | Path) -> Path:
    return Path(project_root) / ".hippodrome"


def run_file(project_root: str | Path) -> Path:
    return hippodrome_dir(project_root) / "run.json"


def write_atomic(path: Path, data: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
