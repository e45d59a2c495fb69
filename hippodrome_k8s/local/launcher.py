"""Starting and stopping service processes, each in its own process group.

The only module of the local engine that forks.  Every group is registered
with the watchdog (see ``watchdog.py``) while it lives, so a supervisor killed
with SIGKILL still leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hippodrome_k8s.local.groups import group_alive, signal_group


PYTHON_NAMES = frozenset({"python", "python3"})


def with_own_python(command: Sequence[str], executable: str = sys.executable) -> list[str]:
    """A command that starts with plain ``python``/``python3`` runs under Hippodrome's own interpreter.

    So a stack's ``[python, -m, ...]`` services see the packages of the environment Hippodrome was
    installed in (its virtual environment), whether or not that environment is activated.
    """
    command = list(command)
    if command and command[0] in PYTHON_NAMES:
        command[0] = executable
    return command


@dataclass
class Child:
    """A ProcessHandle (effects.py) for a real process."""

    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    async def lines(self):
        stream = self.process.stdout
        assert stream is not None
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the limit: take it in pieces
                line = await stream.read(1 << 16)
            if not line:
                return
            yield line


class Launcher:
    """The ProcessLauncher (effects.py) of a real stack."""

    def __init__(self) -> None:
        self._watchdog: subprocess.Popen[bytes] | None = None

    def start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "hippodrome_k8s.local.watchdog"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=None, start_new_session=True,
        )

    def stop_watchdog(self) -> None:
        if self._watchdog and self._watchdog.stdin:
            self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
        self._watchdog = None

    def _tell_watchdog(self, line: str) -> None:
        if self._watchdog and self._watchdog.stdin:
            try:
                self._watchdog.stdin.write(line.encode() + b"\n")
                self._watchdog.stdin.flush()
            except BrokenPipeError:
                pass

    def prepare(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
        """Nothing to prepare for a plain spawn."""

    async def release_prepared(self) -> None:
        pass

    async def spawn(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> Child:
        full_env = dict(os.environ)
        full_env.update(env)
        process = await asyncio.create_subprocess_exec(
            *with_own_python(command), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, limit=1 << 20,
        )
        self._tell_watchdog(f"+{process.pid}")
        return Child(process)

    async def terminate(self, child: Child, timeout: float) -> int | None:
        """SIGTERM the whole group, SIGKILL after ``timeout``; returns the exit code."""
        pgid = child.pid
        signal_group(pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), timeout)
        except asyncio.TimeoutError:
            signal_group(pgid, signal.SIGKILL)
            await child.wait()
        await self._reap_group(pgid, timeout)
        return child.returncode

    async def _reap_group(self, pgid: int, timeout: float) -> None:
        """The leader is gone; make sure the rest of its group is too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if group_alive(pgid):
            signal_group(pgid, signal.SIGTERM)
        while group_alive(pgid) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)
        self._tell_watchdog(f"-{pgid}")

    def kill(self, child: Child) -> None:
        signal_group(child.pid, signal.SIGKILL)

    async def exited(self, child: Child, grace: float = 5.0) -> int:
        """Wait for the leader to exit by itself, then clean up what it left in its group."""
        code = await child.wait()
        await self._reap_group(child.pid, grace)
        return code
