"""Process groups: every service runs in its own, so a signal to the group reaches its children too.

Shared by the launcher (stop, reap) and the watchdog (kill everything when the supervisor dies).
"""

from __future__ import annotations

import os


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to the group; a group that is gone (or not ours) is not an error."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
