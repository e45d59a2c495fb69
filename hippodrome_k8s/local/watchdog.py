"""A tiny guardian process: no service outlives its supervisor, even after ``kill -9``.

The supervisor starts ``python -m hippodrome_k8s.local.watchdog`` with a pipe
on its stdin and writes ``+PGID`` / ``-PGID`` lines as it starts and reaps
service process groups.  When stdin reaches EOF - the supervisor exited or was
killed, the kernel closes the pipe either way - every group still registered
gets SIGTERM, then SIGKILL after the grace period.  Services run in their own
process groups, so their children go with them.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from hippodrome_k8s.local.groups import group_alive, signal_group

GRACE_SECONDS = 5.0


def _signal_all(groups: set[int], sig: int) -> None:
    for pgid in groups:
        signal_group(pgid, sig)


def terminate_groups(groups: set[int], grace: float = GRACE_SECONDS) -> None:
    _signal_all(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        groups = {g for g in groups if group_alive(g)}
        if not groups:
            return
        time.sleep(0.05)
    _signal_all(groups, signal.SIGKILL)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("+"):
            groups.add(int(line[1:]))
        elif line.startswith("-"):
            groups.discard(int(line[1:]))
    if groups:
        terminate_groups(groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
