"""`hippodrome up` starts the fork server first, before it imports or loads anything else.

Why: the fork server spends ~0.4 s importing the libraries the services share (``forkserver.PRELOAD``),
and the CLI ~0.3 s importing itself, loading, validating and resolving the stack; started by the
supervisor, the server's imports came after the CLI's, and layer 0 waited for both. Started here,
they run side by side on two cores, and the supervisor takes the server over (``take``) when it
starts, if it fits the stack (``forking.server_fits``: the same ``PYTHON*``/``AIOHTTP_*`` values and
the same project; else it is ended and a new one started).

Nothing is left running that the user did not ask for: a server nobody took (the stack file is
invalid, a port is taken, the stack runs already, ``--help``) is ended when the CLI exits. With
``--detach`` the supervisor is forked from the CLI (``detach.py``): it keeps the server's descriptors
(``fds``) and the CLI forgets it (``hand_over``), so the CLI's exit leaves it running.

Only ``hippodrome up`` run through the ``hippodrome`` command (or ``python -m hippodrome_k8s.cli``)
does this, on Linux, with the fork server on (``HIPPODROME_FORK_SERVER``). The server's own output goes to
/dev/null: it must not hold the CLI's stdout or stderr open (a caller reading them until they close would
wait for the stack to stop); a server that fails before it is ready is reported by the supervisor, which then
spawns the services plainly.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from hippodrome_k8s.local.forking import STATE_DIR_ENV, fork_server_enabled

_pending = None  # forkserver.Started: the server this CLI started and nobody took yet


def early_root(argv: Sequence[str], cwd: Path) -> Path | None:
    """For ``up`` (``argv`` without the program), the project root the command will use, or None when this is not
    a start (another command, ``--help``) or the root cannot be known here (the CLI reports what is wrong)."""
    if not argv or argv[0] != "up" or any(a in ("-h", "--help") for a in argv[1:]):
        return None
    root: str | None = None
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "--project-root":
            if i + 1 >= len(argv):
                return None
            root = argv[i + 1]
        elif arg.startswith("--project-root="):
            root = arg.split("=", 1)[1]
    from hippodrome_k8s.host.project import find_project_root

    if root is None:
        return find_project_root(cwd) or cwd.resolve()
    path = (cwd / root).resolve()
    return path if path.is_dir() else None


def start(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> None:
    """Start the fork server for ``hippodrome up`` now, if this is one (see the module's docstring)."""
    global _pending
    if _pending is not None or not fork_server_enabled(environ, sys.platform, hasattr(os, "fork")):
        return
    root = early_root(argv, Path.cwd())
    if root is None:
        return
    from hippodrome_k8s.host.project import ProjectPaths
    from hippodrome_k8s.local import forkserver

    try:
        started = forkserver.launch({**environ, STATE_DIR_ENV: str(ProjectPaths(root).state_dir)}, stderr=subprocess.DEVNULL)
    except OSError:
        return  # the supervisor starts one the ordinary way, and says why if it cannot either
    if started.pidfd < 0 and "--detach" in argv:
        started.discard()  # a forked supervisor could not watch it (no pidfd): it starts its own
        return
    _pending = started
    atexit.register(_end_unused)


def take():
    """The server started for this run (a ``forkserver.Started``), now the caller's; None if there is none."""
    global _pending
    started, _pending = _pending, None
    return started


def fds() -> tuple[int, ...]:
    """The descriptors a forked supervisor keeps so that it can take the server."""
    return _pending.fds() if _pending is not None else ()


def hand_over() -> None:
    """In the CLI, once it forked the supervisor: the server is the supervisor's, so the CLI closes its own
    copies of the descriptors (the server must see the supervisor's end close, not ours) and never ends it."""
    global _pending
    started, _pending = _pending, None
    if started is not None:
        started.control.close()
        started.release_pidfd()


def _end_unused() -> None:
    started = take()
    if started is not None:
        started.discard()
