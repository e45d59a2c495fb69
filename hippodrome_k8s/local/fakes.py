"""In-process fakes of the local engine's effects (effects.py), for tests of its logic.

``FakeLauncher`` "starts" a service by scripting it (``Script``: when it turns healthy, when it
exits and with which code, whether it ignores SIGTERM, what it prints); ``FakeProber`` answers
health checks from those scripts. The supervisor, the runners and the store then run exactly as
in a stack, on the real event loop, with no process and no socket. They accept and refuse what
the real ones do: a service is identified by the env the resolver gives it (HIPPODROME_SERVICE,
PORT), as the real process would be.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SIGTERM_CODE, SIGKILL_CODE = -15, -9


@dataclass(frozen=True)
class Script:
    """How one service behaves each time it is started (seconds are since that start)."""

    healthy_after: float | None = 0.0  # None: never answers 200
    exits_after: float | None = None  # exits by itself after this long
    exit_code: int = 3
    unhealthy_after: float | None = None  # answers 503 from then on (still running)
    ignores_sigterm: bool = False
    output: tuple[str, ...] = ()  # lines printed at start


@dataclass
class FakeProcess:
    pid: int
    service: str
    command: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]
    script: Script
    started: float
    returncode: int | None = None
    _ended: asyncio.Event = field(default_factory=asyncio.Event)
    _output: asyncio.Queue = field(default_factory=asyncio.Queue)

    async def lines(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._output.get()
            if line is None:
                return
            yield line

    def end(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._output.put_nowait(None)
            self._ended.set()

    def healthy(self, now: float) -> bool:
        s = self.script
        return (self.returncode is None and s.healthy_after is not None and now - self.started >= s.healthy_after
                and not (s.unhealthy_after is not None and now - self.started >= s.unhealthy_after))


class FakeLauncher:
    """A ProcessLauncher whose processes follow ``scripts`` (by service name; unknown: ``Script()``)."""

    def __init__(self, scripts: Mapping[str, Script] | None = None) -> None:
        self.scripts = dict(scripts or {})
        self.spawned: list[FakeProcess] = []
        self.watchdog = False
        self.prepared: list[str] = []  # the services prepare() was told about, in order
        self.released = False
        self._pids = itertools.count(1000)

    def start_watchdog(self) -> None:
        self.watchdog = True

    def stop_watchdog(self) -> None:
        self.watchdog = False

    def prepare(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
        self.prepared.append(env.get("HIPPODROME_SERVICE", command[0] if command else ""))

    async def release_prepared(self) -> None:
        self.released = True

    async def spawn(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> FakeProcess:
        if not command:
            raise OSError("empty command")
        name = env.get("HIPPODROME_SERVICE", command[0])
        loop = asyncio.get_running_loop()
        process = FakeProcess(next(self._pids), name, tuple(command), cwd, dict(env), self.scripts.get(name, Script()),
                              loop.time())
        for line in process.script.output:
            process._output.put_nowait(line.encode() + b"\n")
        if process.script.exits_after is not None:
            loop.call_later(process.script.exits_after, process.end, process.script.exit_code)
        self.spawned.append(process)
        return process

    async def exited(self, handle: FakeProcess) -> int:
        await handle._ended.wait()
        assert handle.returncode is not None
        return handle.returncode

    async def terminate(self, handle: FakeProcess, timeout: float) -> int | None:
        if not handle.script.ignores_sigterm:
            handle.end(SIGTERM_CODE)
        try:
            await asyncio.wait_for(handle._ended.wait(), timeout)
        except asyncio.TimeoutError:
            handle.end(SIGKILL_CODE)
        return handle.returncode

    def kill(self, handle: FakeProcess) -> None:
        handle.end(SIGKILL_CODE)

    # -- for tests ----------------------------------------------------------------------------
    def processes(self, service: str) -> list[FakeProcess]:
        return [p for p in self.spawned if p.service == service]

    def live(self, service: str) -> FakeProcess | None:
        return next((p for p in reversed(self.processes(service)) if p.returncode is None), None)

    def by_port(self, port: int) -> FakeProcess | None:
        return next((p for p in reversed(self.spawned) if p.returncode is None and p.env.get("PORT") == str(port)), None)


class FakeProber:
    """A Prober answering from the scripts of the processes FakeLauncher runs (by the URL's port)."""

    def __init__(self, launcher: FakeLauncher) -> None:
        self.launcher = launcher
        self.probes = 0

    async def probe(self, url: str, timeout: float) -> tuple[bool, str]:
        self.probes += 1
        await asyncio.sleep(0)
        process = self.launcher.by_port(urlsplit(url).port or 80)
        if process is None:
            return False, f"health check {url} failed: Connection refused"
        if process.healthy(asyncio.get_running_loop().time()):
            return True, f"health check {url} answered HTTP 200"
        return False, f"health check {url} answered HTTP 503"

    async def close(self) -> None:
        pass
