"""`hippodrome up --detach`: the supervisor, in the background, in its own session.

On Linux the CLI forks itself once the plan is decided and every check has passed: the child becomes
the supervisor with the plan already in memory. Why: re-running the CLI in a new interpreter (import,
load, validate, resolve, check the ports again) cost ~0.4 s of a start the user waits for, on a machine
where the stack itself needs the same cores. The CLI has started no thread and opened no connection by
then, so the fork is safe. Elsewhere (macOS forks unsafely once frameworks load, Windows cannot) the
supervisor is a new ``python -m hippodrome_k8s.cli.main up ...`` as before.

Either way the supervisor's stdin is /dev/null, its output goes to ``.hippodrome/supervisor.log``, it
leads a new session (a Ctrl-C in the terminal or the terminal closing does not reach it), and it holds
no descriptor of the CLI's caller (a ``subprocess.run(capture_output=True)`` returns when the CLI does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path


class ForkedSupervisor:
    """The part of ``subprocess.Popen`` the CLI's wait uses, for a supervisor it forked."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def fork_supervisor(log_path: Path, env: Mapping[str, str], run: Callable[[], int],
                    keep_fds: tuple[int, ...] = ()) -> ForkedSupervisor:
    """Fork; the child detaches, takes ``env`` and runs ``run()`` (the supervisor), then exits with its code.
    ``keep_fds``: the CLI's descriptors the supervisor uses (the fork server's, ``prestart.fds``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedSupervisor(pid)
    code = 1
    try:
        os.setsid()
        _close_all_but(keep_fds)  # nothing of the CLI's caller stays open here
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.environ.update(env)
        code = run()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must end here, never return into the CLI's caller
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def spawn_supervisor(log_path: Path, env: Mapping[str, str], argv: list[str]) -> subprocess.Popen:
    """A new interpreter running the CLI again (where forking is not used)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli.main", *argv], cwd=os.getcwd(),
                                env=dict(os.environ, **env), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _close_all_but(keep: tuple[int, ...]) -> None:
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _max_fd())


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 16)
    except (ValueError, OSError):
        return 1024
