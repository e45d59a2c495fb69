"""The local engine's side effects, as protocols: starting processes and probing health.

Why: the supervisor and the runners decide; these do. With the effects injected (the real
``launcher.Launcher`` and ``probe.HttpProber`` in a stack, ``fakes.FakeLauncher`` and
``fakes.FakeProber`` in tests), the engine's logic is tested without a process or a socket, as
tilt tests its controllers with a FakeExecer and a fake prober.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol


class ProcessHandle(Protocol):
    """One started service process (the leader of its own process group)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def lines(self) -> AsyncIterator[bytes]:
        """Its output (stdout and stderr), line by line, until it closes."""
        ...


class ProcessLauncher(Protocol):
    def start_watchdog(self) -> None:
        """Start whatever kills every service group if the supervisor dies (even by SIGKILL)."""

    def stop_watchdog(self) -> None: ...

    def prepare(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
        """A hint, before the layer of this service starts: get ready to ``spawn`` exactly this, if that can
        be done without the service talking to anything yet (the fork server forks it held). May do nothing."""

    async def release_prepared(self) -> None:
        """Drop what ``prepare`` made and no ``spawn`` took (the start ended before its layer)."""

    async def spawn(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> ProcessHandle: ...

    async def exited(self, handle: ProcessHandle) -> int:
        """Wait until the process ends by itself (and clean up what it left); its exit code."""
        ...

    async def terminate(self, handle: ProcessHandle, timeout: float) -> int | None:
        """SIGTERM the group, SIGKILL after ``timeout``; the exit code."""
        ...

    def kill(self, handle: ProcessHandle) -> None:
        """SIGKILL the whole group at once (a second interrupt)."""


class Prober(Protocol):
    async def probe(self, url: str, timeout: float) -> tuple[bool, str]:
        """(healthy, what was seen) for one health check of ``url``."""
        ...

    async def close(self) -> None: ...
