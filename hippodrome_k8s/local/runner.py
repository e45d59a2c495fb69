"""One service's life: spawn, probe, restart with backoff, stop.

A ``ServiceRunner`` owns its process and reports everything it sees to the
store as events; it never decides policy itself (``policy.restart_delay``
does) and never writes state directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ..resolver import PlannedService
from .launcher import Child, Launcher
from .logs import ServiceLog
from .policy import RestartPolicy, failures_after_healthy, restart_delay
from .store import Exited, Failed, Healthy, Note, Spawned, Stopped, StopRequested, Store, Unready


class Prober:
    """HTTP health probes; a TCP port that accepts is not health.

    A probe is one HTTP/1.1 GET on a fresh connection, read up to its status line: that is all
    a health check needs, and it costs the supervisor a fraction of a full client's CPU, which
    matters when fifteen services start at once on two cores.
    """

    async def probe(self, url: str, timeout: float) -> tuple[bool, str]:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
                             f"User-Agent: hippodrome-probe\r\n\r\n".encode())
                await writer.drain()
                status_line = await reader.readline()
        except TimeoutError:
            return False, f"health check {url} timed out after {timeout:g}s"
        except OSError as e:
            return False, f"health check {url} failed: {e.strerror or type(e).__name__}"
        finally:
            if writer is not None:
                writer.close()
        fields = status_line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            return False, f"health check {url} answered something that is not HTTP"
        return fields[1] == "200", f"health check {url} answered HTTP {fields[1]}"

    async def close(self) -> None:
        """Nothing is pooled; kept so callers need not know."""


class ServiceRunner:
    def __init__(self, service: PlannedService, store: Store, launcher: Launcher, prober: Prober,
                 log: ServiceLog, policy: RestartPolicy, clock: Callable[[], float] = time.time):
        self.service = service
        self._store = store
        self._launcher = launcher
        self._prober = prober
        self._log = log
        self._policy = policy
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._child: Child | None = None
        self._pump: asyncio.Task[None] | None = None
        self.give_up_after: int | None = None  # set during start-up for blocking services

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.active:
            self._task = asyncio.create_task(self._supervise(), name=f"runner:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        child, self._child = self._child, None
        if child is not None and child.process.returncode is None:
            self._store.dispatch(StopRequested(self.name, self._clock()))
            code = await self._launcher.terminate(child, self.service.stop_timeout)
            await self._drain()
            self._store.dispatch(Stopped(self.name, self._clock(), code))
        else:
            await self._drain()
            self._store.dispatch(StopRequested(self.name, self._clock()))
            if self._store.get(self.name).status.value == "stopping":
                self._store.dispatch(Stopped(self.name, self._clock()))

    def abandon(self) -> None:
        """Stop supervising at once (no restart, no probe); ``stop()`` still reaps what is left."""
        if self._task is not None:
            self._task.cancel()

    async def restart(self) -> None:
        await self.stop()
        self.start()

    # --- the loop --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while True:
            if self.service.node_modules and not await self._ensure_node_modules():
                return
            try:
                child = await self._launcher.spawn(self.service.command, self.service.cwd, self.service.env)
            except OSError as e:
                self._store.dispatch(Failed(self.name, self._clock(), f"cannot start {self.service.command[0]!r}: {e.strerror or e}"))
                return
            self._child = child
            self._pump = asyncio.create_task(self._pump_output(child))
            self._store.dispatch(Spawned(self.name, self._clock(), child.pid))
            code, healthy_for, reason = await self._watch(child)
            self._child = None
            await self._drain()
            failures = failures_after_healthy(self._policy, failures, healthy_for) + 1
            if reason:
                self._log.write(f"[hippodrome] {reason}")
            if self.give_up_after is not None and healthy_for is None and failures >= self.give_up_after:
                self._store.dispatch(Exited(self.name, self._clock(), code, None))
                self._store.dispatch(Failed(self.name, self._clock(),
                                            f"{reason or f'exited with code {code}'}; gave up after {failures} attempts"))
                return
            delay = restart_delay(self._policy, failures)
            self._store.dispatch(Exited(self.name, self._clock(), code, delay))
            await asyncio.sleep(delay)

    async def _watch(self, child: Child) -> tuple[int | None, float | None, str]:
        """Probe until the process exits; returns (exit code, seconds healthy or None, reason)."""
        health = self.service.health
        loop = asyncio.get_running_loop()
        exit_task = asyncio.create_task(self._launcher.exited(child))
        started = loop.time()
        healthy_since: float | None = None
        ready = False
        failures_in_row = 0
        reason = ""
        try:
            while not exit_task.done():
                period = health.periodSeconds if healthy_since is not None else health.startingPeriodSeconds
                done, _ = await asyncio.wait({exit_task}, timeout=period)
                if done:
                    break
                ok, message = await self._prober.probe(self.service.health_url, health.timeoutSeconds)
                if ok:
                    failures_in_row = 0
                    if not ready:
                        ready = True
                        healthy_since = healthy_since or loop.time()
                        self._store.dispatch(Healthy(self.name, self._clock()))
                elif healthy_since is not None:
                    failures_in_row += 1
                    if ready and failures_in_row >= health.failureThreshold:
                        ready = False
                        self._store.dispatch(Unready(self.name, self._clock(), message))
                elif loop.time() - started > health.startTimeoutSeconds:
                    reason = f"not healthy within {health.startTimeoutSeconds:g}s ({message})"
                    await self._launcher.terminate(child, self.service.stop_timeout)
                    break
            code = await exit_task
        finally:
            if not exit_task.done():
                exit_task.cancel()
        healthy_for = loop.time() - healthy_since if healthy_since is not None else None
        return code, healthy_for, reason

    async def _pump_output(self, child: Child) -> None:
        stream = child.process.stdout
        assert stream is not None
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the limit: take it in pieces
                line = await stream.read(1 << 16)
            if not line:
                return
            self._log.write(line.decode("utf-8", errors="replace"))

    async def _drain(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            try:
                await asyncio.wait_for(pump, 2.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pump.cancel()

    async def _ensure_node_modules(self) -> bool:
        cwd = Path(self.service.cwd)
        if (cwd / "node_modules").is_dir():
            return True
        self._store.dispatch(Note(self.name, self._clock(), "node_modules/ missing: running npm ci"))
        self._log.write("[hippodrome] node_modules/ is missing: running `npm ci`")
        try:
            child = await self._launcher.spawn(["npm", "ci", "--no-audit", "--no-fund"], str(cwd), {})
        except OSError as e:
            self._store.dispatch(Failed(self.name, self._clock(), f"cannot run npm ci: {e.strerror or e}"))
            return False
        self._pump = asyncio.create_task(self._pump_output(child))
        code = await self._launcher.exited(child)
        await self._drain()
        if code != 0:
            self._store.dispatch(Failed(self.name, self._clock(), f"npm ci failed with code {code}; see its log"))
            return False
        (cwd / "node_modules").mkdir(exist_ok=True)  # a package with no dependencies gets none from npm ci
        return True
