"""The local engine's supervisor: layered start, control commands, reverse-order shutdown.

It owns the runners and the store; the dashboard calls its control methods
and reads the store's snapshots.  Layer N+1 starts only when every blocking
service in layers <= N is running and ready; services within a layer start
in parallel; non-blocking services never gate.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from hippodrome_k8s.core.contract import ControlAction, StackPhase
from hippodrome_k8s.core.errors import ControlError, ServiceFailedError
from hippodrome_k8s.core.resolver import Plan
from hippodrome_k8s.local.effects import ProcessLauncher, Prober
from hippodrome_k8s.local.forklauncher import default_launcher
from hippodrome_k8s.local.forking import STATE_DIR_ENV, server_env
from hippodrome_k8s.local.forkserver import Started
from hippodrome_k8s.local.logs import LogBook, ServiceLog, new_run_dir, open_service_logs
from hippodrome_k8s.core.backoff import RestartPolicy
from hippodrome_k8s.local.reload import watch_for_changes
from hippodrome_k8s.local.probe import HttpProber
from hippodrome_k8s.local.runner import ServiceRunner
from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.local.states import ServiceStatus
from hippodrome_k8s.local.store import Store
from hippodrome_k8s.local.timings import TimingRecorder
from hippodrome_k8s.core.health import stack_health


def fork_server_env(plan: Plan) -> dict[str, str]:
    """The fork server's additions to the supervisor's env: what every service shares of the variables read at
    start, and the state dir (so a forked service's /proc environ names its project, as ports.py reads it)."""
    envs = [s.env for s in plan.services]
    extra = server_env(envs)
    state_dirs = {env.get(STATE_DIR_ENV) for env in envs} - {None}
    if len(state_dirs) == 1:
        extra[STATE_DIR_ENV] = str(state_dirs.pop())
    return extra


class Supervisor:
    def __init__(self, plan: Plan, *, project_root: str | Path, console: TextIO | None = sys.stdout,
                 policy: RestartPolicy | None = None, token: str | None = None,
                 clock: Callable[[], float] = time.time,
                 launcher: ProcessLauncher | None = None, prober: Prober | None = None,
                 fork_server: Started | None = None):
        self.plan = plan
        self.project_root = Path(project_root)
        self.console = console
        self.policy = policy or RestartPolicy()
        self.token = token or secrets.token_urlsafe(24)
        self.clock = clock
        self.started_at = clock()
        self.killed = False  # a second interrupt SIGKILLed everything: the run ends with 130
        self.run_dir: Path = new_run_dir(self.project_root)
        names = [s.name for s in plan.services]
        self.log_book = LogBook(clock=clock)
        self.logs: dict[str, ServiceLog] = open_service_logs(self.run_dir, names + ["hippodrome"], console, self.log_book)
        self.store = Store({
            s.name: ServiceStatus(name=s.name, layer=s.layer, port=s.port, url=s.url, blocking=s.blocking, since=self.started_at)
            for s in plan.services
        })
        # fork_server: one the CLI started before it loaded the stack (cli/prestart.py); used if it fits
        if launcher is not None and fork_server is not None:
            fork_server.discard()
        self.launcher: ProcessLauncher = launcher or default_launcher(fork_server_env(plan), note=self.note, started=fork_server)
        self.prober: Prober = prober or HttpProber()
        self.runners = {
            s.name: ServiceRunner(s, self.store, self.launcher, self.prober, self.logs[s.name], self.policy, clock)
            for s in plan.services
        }
        self._control_lock = asyncio.Lock()
        self._shutdown = asyncio.Event()
        self._reload_tasks: list[asyncio.Task[None]] = []
        self.store.subscribe(self._announce)
        self.timings = TimingRecorder(self.store)

    # --- reading -------------------------------------------------------------------------------

    @property
    def status_version(self) -> int:
        return self.store.version

    def status_json(self, log_lines: int = 0) -> dict[str, dict[str, Any]]:
        now = self.clock()
        snapshot = self.store.snapshot()
        out = {}
        for name, status in snapshot.items():
            data = status.to_json(now)
            if log_lines:
                data["log"] = list(self.logs[name].tail)[-log_lines:]
            out[name] = data
        return out

    def stack_json(self) -> dict[str, Any]:
        snapshot = self.store.snapshot()
        counts: dict[str, int] = {}
        for s in snapshot.values():
            counts[s.status.value] = counts.get(s.status.value, 0) + 1
        declared = {s.name for s in self.plan.services}
        return {
            "name": self.plan.stack_name,
            "engine": "local",
            "phase": self.store.phase.local,
            "failure": self.store.failure,
            "profile": self.plan.profile.value,
            "cell": self.plan.cell.value,
            "cellUrl": self.plan.cell_url,
            "tablePrefix": self.plan.table_prefix,
            "seed": self.plan.seed,
            "pid": os.getpid(),
            "startedAt": self.started_at,
            "uptime": round(self.clock() - self.started_at, 1),
            "logDir": str(self.run_dir),
            "layers": [[s.name for s in layer] for layer in self.plan.layers],
            "services": len(declared),
            "ready": sum(1 for s in snapshot.values() if s.status == ServiceState.running and s.ready),
            "counts": counts,
            "warnings": list(self.plan.warnings),
            "health": self._health(),
            "timings": self.timings.to_json(),
            "features": {"logs": True, "timings": True, "control": [a.value for a in ControlAction]},
        }

    def _health(self) -> dict[str, dict[str, Any]]:
        """Per service: tone, label, the dependencies that are down, and where its health check is."""
        health = stack_health(self.status_json(), self.plan.dependencies)
        for s in self.plan.services:
            health[s.name]["healthUrl"] = s.health_url
        return health

    # --- what the dashboard's event stream and log API read ----------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """``listener()`` after any change of state or any new log line; returns how to unsubscribe."""
        stop_state = self.store.on_change(listener)
        stop_logs = self.log_book.listen(lambda line: listener())

        def unsubscribe() -> None:
            stop_state()
            stop_logs()

        return unsubscribe

    def log_entries(self, service: str | None, since: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        if service is not None and service not in self.logs:
            raise KeyError(service)
        return [line.to_json() for line in self.log_book.lines(service, since, limit)]

    def log_file(self, service: str) -> Path | None:
        log = self.logs.get(service)
        return log.path if log is not None else None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start_all(self) -> None:
        """Start every layer in order; raise ServiceFailedError if a blocking service gives up."""
        for runner in self.runners.values():
            runner.give_up_after = self.policy.start_attempts if runner.service.blocking else None
        self.timings.begin("up", [s.name for s in self.plan.services], self.clock())
        gated: list[str] = []
        try:
            for number, layer in enumerate(self.plan.layers):
                self.note(f"starting layer {layer[0].layer}: {', '.join(s.name for s in layer)}")
                for service in layer:
                    self.runners[service.name].start()
                if number == 0:  # asked for after layer 0, whose start is the critical path: the server forks in order
                    for later in self.plan.layers[1:]:
                        for service in later:
                            self.launcher.prepare(service.command, service.cwd, service.env)  # held until its layer
                gated += [s.name for s in layer if s.blocking]
                await self._wait_layer(gated)
        except BaseException:
            await asyncio.shield(self.launcher.release_prepared())
            raise
        for runner in self.runners.values():
            runner.give_up_after = None

    async def _wait_layer(self, gated: list[str]) -> None:
        def settled(snapshot: dict[str, ServiceStatus]) -> bool:
            return all(snapshot[n].status == ServiceState.running and snapshot[n].ready for n in gated) or any(
                snapshot[n].status == ServiceState.failed for n in gated
            )

        snapshot = await self.store.wait_until(settled)
        failed = [snapshot[n] for n in gated if snapshot[n].status == ServiceState.failed]
        if failed:
            lines = []
            for s in failed:
                tail = "\n      ".join(list(self.logs[s.name].tail)[-10:]) or "(no output)"
                lines.append(f"{s.name}: {s.message}\n    last lines of {self.logs[s.name].path}:\n      {tail}")
            raise ServiceFailedError("blocking service failed to start:\n  " + "\n  ".join(lines))

    async def stop_all(self) -> None:
        for layer in reversed(self.plan.layers):
            await asyncio.gather(*(self.runners[s.name].stop() for s in layer))

    async def run(self, on_started: Callable[[], None] | None = None) -> int:
        """The whole life of a stack: start, serve until shutdown, stop.  Returns the exit code."""
        from hippodrome_k8s.dashboard.server import start_dashboard  # the dashboard depends on us, not the reverse

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        self.launcher.start_watchdog()
        starting = asyncio.create_task(self.start_all())  # layer 0 spawns while the dashboard binds
        dashboard = None
        code = 0
        try:
            dashboard = await start_dashboard(self)
            if on_started:
                on_started()
            shutdown = asyncio.create_task(self._shutdown.wait())
            await asyncio.wait({starting, shutdown}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done() and starting.exception() is not None:
                error = starting.exception()
                self.store.set_lifecycle(StackPhase.FAILED, str(error))
                self.note(f"Error: {error}")
                code = 1
            elif starting.done():
                self.store.set_lifecycle(StackPhase.RUNNING)
                ready = sum(1 for s in self.store.snapshot().values() if s.status == ServiceState.running and s.ready)
                waiting = "" if ready == len(self.runners) else " (non-blocking services may still be starting)"
                self.note(f"stack is up: {ready}/{len(self.runners)} services ready{waiting}; dashboard at {dashboard.url}")
                self._reload_tasks = [asyncio.create_task(self._reload(r)) for r in self.runners.values() if r.service.reload]
                await shutdown
            shutdown.cancel()
        finally:
            if not starting.done():
                starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            for task in self._reload_tasks:
                task.cancel()
            self.store.set_lifecycle(StackPhase.STOPPING if code == 0 else StackPhase.FAILED)
            self.note("shutting down in reverse layer order")
            await self.launcher.release_prepared()
            await self.stop_all()
            if code == 0:
                self.store.set_lifecycle(StackPhase.STOPPED)
            self.note("killed: every service was sent SIGKILL" if self.killed else "all services stopped")
            if dashboard is not None:
                await dashboard.close()
            await self.prober.close()
            self.launcher.stop_watchdog()
            self.close_logs()
        return 130 if self.killed else code

    def close_logs(self) -> None:
        for log in self.logs.values():
            log.close()

    def request_shutdown(self) -> None:
        self._shutdown.set()

    def _on_signal(self) -> None:
        if self._shutdown.is_set():
            if self.killed:
                return
            self.killed = True
            self.note("second interrupt: killing every service now")
            for runner in self.runners.values():
                runner.abandon()  # SIGKILLed, and never restarted
            return
        self.note("interrupted: shutting down (interrupt again to kill everything now)")
        self._shutdown.set()

    # --- control (from the dashboard) --------------------------------------------------------

    def _targets(self, service: str | None) -> list[str]:
        if service is None:
            return [s.name for s in self.plan.services]
        if service not in self.runners:
            raise ControlError(f"no service named {service!r} in this stack (running: {', '.join(self.runners)})")
        return [service]

    async def control(self, action: str, service: str | None = None) -> dict[str, Any]:
        try:
            act = ControlAction(action)
        except ValueError:
            raise ControlError(f"unknown action {action!r} (allowed: {', '.join(a.value for a in ControlAction)})") from None
        if act is ControlAction.shutdown:
            self.request_shutdown()
            return {"ok": True, "action": act.value}
        if self.store.lifecycle in (StackPhase.STOPPING, StackPhase.STOPPED):
            raise ControlError("the stack is shutting down")
        targets = self._targets(service)
        async with self._control_lock:
            if act in (ControlAction.stop, ControlAction.restart):
                await self._stop_ordered(targets)
            if act in (ControlAction.start, ControlAction.restart):
                self.timings.begin(act.value, [n for n in targets if not self.runners[n].active], self.clock())
                await self._start_ordered(targets)
        return {"ok": True, "action": act.value, "services": targets}

    async def _stop_ordered(self, names: list[str]) -> None:
        for layer in reversed(self.plan.layers):
            await asyncio.gather(*(self.runners[s.name].stop() for s in layer if s.name in names))

    async def _start_ordered(self, names: list[str]) -> None:
        if len(names) == 1:
            self.runners[names[0]].start()
            return
        gated: list[str] = []
        for layer in self.plan.layers:
            for s in layer:
                if s.name in names:
                    self.runners[s.name].start()
            gated += [s.name for s in layer if s.blocking and s.name in names]
            try:
                await self._wait_layer(gated)
            except ServiceFailedError as e:
                raise ControlError(str(e)) from None

    async def _reload(self, runner: ServiceRunner) -> None:
        async for changed in watch_for_changes(runner.service.watch):
            if not runner.active:
                continue
            self.note(f"{runner.name}: {changed} changed; restarting")
            async with self._control_lock:
                await runner.stop()
                self.timings.begin("reload", [runner.name], self.clock())
                runner.start()

    # --- console -------------------------------------------------------------------------------

    def note(self, message: str) -> None:
        self.logs["hippodrome"].write(message)

    def _announce(self, before: ServiceStatus, after: ServiceStatus) -> None:
        if before.status != after.status or before.ready != after.ready:
            detail = f" ({after.message})" if after.message else ""
            ready = "" if after.status != ServiceState.running else (" ready" if after.ready else " NOT ready")
            self.note(f"{after.name}: {before.status.value} -> {after.status.value}{ready}{detail}")
        if after.status == ServiceState.failed and before.status != ServiceState.failed and not after.blocking:
            self.note(f"{after.name} is non-blocking: the stack carries on without it")

