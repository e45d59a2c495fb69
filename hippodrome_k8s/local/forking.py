"""Which service commands the fork server may start: a pure decision, table-tested.

A forked child runs under the fork server's interpreter with the libraries it preloaded, so only a
command that would start that same interpreter, with no option changing how it starts, can be forked:
``<python> -m module [args]`` or ``<python> script.py [args]``, where ``<python>`` is Hippodrome's own
interpreter (``launcher.with_own_python`` has already put it there for a plain ``python``). The
variables read when the interpreter starts (``PYTHON*``: PYTHONPATH, PYTHONUNBUFFERED, ...) or when a
preloaded library is imported (``AIOHTTP_*``) must be the same in the service's env as in the
server's: the server is started with the values every service shares (``server_env``), so a service
that sets its own is spawned plainly, as is everything else (Node, shell scripts, ``python -u``,
``python -c``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENV_PREFIXES_READ_AT_START = ("PYTHON", "AIOHTTP_")
DISABLE_ENV = "HIPPODROME_FORK_SERVER"  # "0"/"false"/"no"/"off": every service is spawned plainly


# Services that import none of the libraries the fork server imports last (``forkserver.PRELOAD_LAST``: aiohttp):
# the launcher sends them without waiting for the server to be ready, and the server forks them as soon as it has
# imported the rest. moto is layer 0's slowest start, the critical path of every stack, and it does not use aiohttp.
# (tests/local/test_forking.py checks that each imports none of PRELOAD_LAST.)
FORKED_FIRST = frozenset({"fakes.fake_aws"})


@dataclass(frozen=True)
class ForkTarget:
    """What the forked child runs and the ``sys.argv`` it sees (``argv[0]`` is replaced as the interpreter would);
    ``first``: forked before the server's last imports (``FORKED_FIRST``)."""

    argv: tuple[str, ...]
    module: str | None = None
    path: str | None = None
    first: bool = False


def _same_interpreter(program: str, executable: str) -> bool:
    if program == executable:
        return True
    try:
        return os.path.samefile(program, executable)
    except OSError:
        return False


def read_at_start(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(ENV_PREFIXES_READ_AT_START)}


def server_env(envs: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """What the server adds to its own environment: the read-at-start variables every service sets alike."""
    if not envs:
        return {}
    shared = read_at_start(envs[0])
    return {k: v for k, v in shared.items() if all(env.get(k) == v for env in envs[1:])}


STATE_DIR_ENV = "HIPPODROME_STATE_DIR"  # in a forked service's /proc environ (the server's): names its project (ports.py)


def server_fits(started_with: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a fork server started with ``started_with`` (the CLI starts one before the stack is even loaded)
    can serve a stack whose launcher wants ``wanted``: the same variables read at start, and the same project.
    The rest of the server's environment reaches no child (each takes its request's)."""
    return (read_at_start(started_with) == read_at_start(wanted)
            and started_with.get(STATE_DIR_ENV) == wanted.get(STATE_DIR_ENV))


def fork_target(command: Sequence[str], child_env: Mapping[str, str], server_env: Mapping[str, str],
                executable: str) -> ForkTarget | None:
    """The fork server's request for ``command`` (run with ``child_env``, the whole environment), or None
    when it must be spawned plainly. A script's path stays as written: the child resolves it from the
    service's cwd, as the interpreter would."""
    if len(command) < 2 or not _same_interpreter(command[0], executable):
        return None
    if read_at_start(child_env) != read_at_start(server_env):
        return None
    first = command[1]
    if first == "-m":
        if len(command) < 3 or not command[2] or command[2].startswith("-"):
            return None
        return ForkTarget(argv=("-m", *command[3:]), module=command[2], first=command[2] in FORKED_FIRST)
    if first.startswith("-"):
        return None  # an interpreter option (-u, -X, -W, -c, -O, ...): only a real interpreter honours it
    return ForkTarget(argv=(first, *command[2:]), path=first)


def fork_server_enabled(environ: Mapping[str, str], platform: str, has_fork: bool) -> bool:
    """On Linux, unless turned off; elsewhere (macOS forks unsafely once frameworks load, Windows cannot) never."""
    if not has_fork or not platform.startswith("linux"):
        return False
    return (environ.get(DISABLE_ENV) or "1").strip().lower() not in ("0", "false", "no", "off")
