"""The current git branch (for the default table prefix); the only git call Hippodrome makes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def current_branch(project_root: str | Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=project_root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
