"""One service's life: spawn, probe, restart with backoff, stop.

A ``ServiceRunner`` owns its process and reports everything it sees to the
store as events; it never decides policy itself (``policy.restart_delay``
does) and never writes state directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.core.resolver import PlannedService
from hippodrome_k8s.local.effects import ProcessHandle, ProcessLauncher, Prober
from hippodrome_k8s.local.logs import ServiceLog
from hippodrome_k8s.core.backoff import RestartPolicy, failures_after_healthy, restart_delay
from hippodrome_k8s.local.probe import ProbeTracker, Verdict
from hippodrome_k8s.local.store import Exited, Failed, Healthy, Note, Spawned, Stopped, StopRequested, Store, Unready


class ServiceRunner:
    def __init__(self, service: PlannedService, store: Store, launcher: ProcessLauncher, prober: Prober,
                 log: ServiceLog, policy: RestartPolicy, clock: Callable[[], float] = time.time):
        self.service = service
        self._store = store
        self._launcher = launcher
        self._prober = prober
        self._log = log
        self._policy = policy
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._child: ProcessHandle | None = None
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
        child = self._child
        if child is not None and child.returncode is None:
            self._store.dispatch(StopRequested(self.name, self._clock()))
            code = await self._launcher.terminate(child, self.service.stop_timeout)
            self._child = None
            await self._drain()
            self._store.dispatch(Stopped(self.name, self._clock(), code))
        else:
            self._child = None
            await self._drain()
            self._store.dispatch(StopRequested(self.name, self._clock()))
            if self._store.get(self.name).status == ServiceState.stopping:
                self._store.dispatch(Stopped(self.name, self._clock()))

    def abandon(self) -> None:
        """Stop supervising at once and SIGKILL the process group (a second interrupt): no restart,
        no probe; ``stop()`` still reaps what is left."""
        if self._task is not None:
            self._task.cancel()
        if self._child is not None and self._child.returncode is None:
            self._launcher.kill(self._child)

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

    async def _watch(self, child: ProcessHandle) -> tuple[int | None, float | None, str]:
        """Probe until the process exits; returns (exit code, seconds healthy or None, reason)."""
        loop = asyncio.get_running_loop()
        exit_task = asyncio.create_task(self._launcher.exited(child))
        tracker = ProbeTracker(self.service.health, started=loop.time())
        reason = ""
        try:
            while not exit_task.done():
                done, _ = await asyncio.wait({exit_task}, timeout=tracker.period())
                if done:
                    break
                ok, message = await self._prober.probe(self.service.health_url, self.service.health.timeoutSeconds)
                verdict = tracker.observe(ok, loop.time())
                if verdict is Verdict.READY:
                    self._store.dispatch(Healthy(self.name, self._clock()))
                elif verdict is Verdict.UNREADY:
                    self._store.dispatch(Unready(self.name, self._clock(), message))
                elif verdict is Verdict.GIVE_UP:
                    reason = f"not healthy within {self.service.health.startTimeoutSeconds:g}s ({message})"
                    await self._launcher.terminate(child, self.service.stop_timeout)
                    break
            code = await exit_task
        finally:
            if not exit_task.done():
                exit_task.cancel()
        return code, tracker.healthy_for(loop.time()), reason

    async def _pump_output(self, child: ProcessHandle) -> None:
        async with contextlib.aclosing(child.lines()) as lines:  # its pipe closed here, even when cancelled
            async for line in lines:
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
