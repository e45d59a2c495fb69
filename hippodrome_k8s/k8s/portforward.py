"""Supervised port-forwards: 127.0.0.1:<port> stays up while the pods behind it come and go.

Why not just ``kubectl port-forward svc/x``?  It picks one pod when it starts;
when that pod is replaced the process either exits (clients get "connection
refused") or lingers with every new connection failing ("wedged").  Both are
the top complaint about Tilt's and kubectl's forwards.  So:

* **Our own listener.**  Each forward binds ``127.0.0.1:<port>`` once, with
  asyncio, and keeps it for its whole life: a client always reaches us, never
  a dead kubectl.  A port that cannot be bound is reported with the process
  holding it (``holder_of``).
* **A replaceable backend.**  A ``BackendSource`` answers two questions:
  ``current()`` - which ready target (pod + container port) is behind the
  Service now (cheap: one Service read + one pod list), and ``open(key)`` - a
  loopback address that reaches it (for the cluster: a ``kubectl port-forward
  pod/<pod> :<port>`` child on an ephemeral port, killed with its parent).
  The supervisor re-resolves every ``resolve_interval`` (1 s; 0.25 s while it
  has no backend or the Service has no ready pod) and at once when a relayed connection fails; a new pod, or a dead child, gets a new backend.
  Each client connection is relayed to the backend of the moment; a client
  arriving while there is none waits up to ``client_wait`` and is then closed
  (never hung forever).
* **Capped backoff, but not for news.**  Failing to open the same target backs
  off (``restart_delay``: 0.2 s doubling to 5 s); a *different* target (the
  restarted pod) is tried immediately, so recovery is bounded by detection,
  not by the backoff (measured: ``bench/bench_portforward.py``).
* **Health per forward**: ``ok`` / ``reconnecting`` / ``failed`` (still
  retrying; ``failed`` once it has had no backend for ``failed_after``
  seconds), with the
  message, last error, reconnect count and active connections, shown by
  ``hippodrome k8s status`` and written to ``.hippodrome/k8s/forwards.json``
  for the dashboard's data.

Everything is one asyncio loop; ``stop()`` closes the listener, cancels every
relay and closes every backend, so no local port, task or child outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.core.backoff import RestartPolicy, restart_delay
from hippodrome_k8s.host.ports import holder_of
from hippodrome_k8s.host.project import write_atomic

log = logging.getLogger(__name__)


async def _within(awaitable: Any, seconds: float) -> Any:
    """``asyncio.wait_for`` without 3.11's swallowed-cancellation race (a forward must always stop)."""
    async with asyncio.timeout(seconds):
        return await awaitable


class ForwardState(str, Enum):
    starting = "starting"
    ok = "ok"
    reconnecting = "reconnecting"
    failed = "failed"
    stopped = "stopped"


@dataclass(frozen=True)
class ForwardHealth:
    name: str
    local: str
    state: ForwardState
    target: str | None = None
    message: str = ""
    last_error: str = ""
    reconnects: int = 0
    connections: int = 0
    since: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass(frozen=True)
class ForwardSpec:
    name: str  # the stack's service name (or "dashboard")
    service: str  # the Kubernetes Service to follow
    remote_port: int
    local_port: int  # 0: any free port (tests)
    local_host: str = "127.0.0.1"


@dataclass(frozen=True)
class ForwardSettings:
    resolve_interval: float = 1.0  # re-resolve period while a backend works
    down_interval: float = 0.25  # ... and while there is none (an outage: poll faster, it is short-lived)
    connect_timeout: float = 2.0
    open_timeout: float = 10.0
    client_wait: float = 10.0
    failed_after: float = 30.0  # seconds without a backend before the forward reports `failed`
    backoff: RestartPolicy = RestartPolicy(initial=0.2, factor=2.0, cap=5.0)


class Backend(Protocol):
    key: str
    host: str
    port: int

    def alive(self) -> bool: ...

    async def close(self) -> None: ...


class BackendSource(Protocol):
    async def current(self) -> str | None: ...

    async def open(self, key: str) -> Backend: ...


@dataclass(frozen=True)
class Memory:
    """What a forward remembers between two steps (its decisions depend on nothing else)."""

    failures: int = 0  # failed attempts in a row
    failed_key: str | None = None  # the target that failed last, and when to try it again
    next_attempt: float = 0.0
    had_backend: bool = False  # a later backend is a reconnect
    down_since: float | None = None  # when the forward lost (or never had) a backend


@dataclass(frozen=True)
class Seen:
    """One look at the world: the target the API names now, and the backend in hand."""

    key: str | None  # the ready pod's "pod:port", or None
    resolve_error: str = ""  # the API could not be asked
    service: str = ""  # the Kubernetes Service followed (for messages)
    backend_key: str | None = None
    backend_usable: bool = True  # alive and not marked broken by a relay
    backend_reason: str = ""  # why not usable


@dataclass(frozen=True)
class Step:
    """What to do: ``drop`` the backend (why: ``drop_reason``), then ``open`` ``key``, or report ``failure``."""

    drop: bool = False
    drop_reason: str = ""
    open: str | None = None
    failure: tuple[str, str] | None = None  # (message, error)
    memory: Memory = Memory()


def decide(memory: Memory, seen: Seen, now: float) -> Step:
    """The supervision rule: keep a working backend (even while the API is briefly unreachable); drop it
    when it broke or the target moved; open the current target unless it failed just now (backoff)."""
    drop, reason = False, ""
    if seen.backend_key is not None:
        if not seen.backend_usable:
            drop, reason = True, seen.backend_reason
        elif seen.key is not None and seen.key != seen.backend_key:
            drop, reason = True, f"target changed to {seen.key}"
        else:
            return Step(memory=memory)
    if drop and memory.down_since is None:
        memory = replace(memory, down_since=now)
    if seen.key is None:
        return Step(drop, reason, failure=(f"no ready pod behind Service {seen.service}", seen.resolve_error or "no ready pod"),
                    memory=_failed(memory, now))
    if seen.key == memory.failed_key and now < memory.next_attempt:
        return Step(drop, reason, memory=memory)
    return Step(drop, reason, open=seen.key, memory=memory)


def opened(memory: Memory, key: str, error: str | None, now: float, backoff: RestartPolicy) -> Memory:
    """After an attempt to open ``key``: success resets the failures; a failure schedules the retry."""
    if error is None:
        return Memory(had_backend=True)
    failed = _failed(memory, now)
    return replace(failed, failed_key=key, next_attempt=now + restart_delay(backoff, failed.failures))


def _failed(memory: Memory, now: float) -> Memory:
    return replace(memory, failures=memory.failures + 1,
                   down_since=memory.down_since if memory.down_since is not None else now)


def health_state(memory: Memory, now: float, failed_after: float) -> ForwardState:
    down_for = now - memory.down_since if memory.down_since is not None else 0.0
    return ForwardState.failed if down_for >= failed_after else ForwardState.reconnecting


class Forward:
    """One supervised forward: a permanent listener relaying to the backend of the moment.

    Its decisions are ``decide`` and ``opened`` (pure, table-tested); this class only looks, asks and acts.
    ``clock`` stamps health (wall time); ``monotonic`` measures outages and backoff."""

    def __init__(self, spec: ForwardSpec, source: BackendSource, settings: ForwardSettings = ForwardSettings(),
                 on_change: Callable[[], None] | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.spec = spec
        self.source = source
        self.settings = settings
        self._on_change = on_change or (lambda: None)
        self._clock = clock
        self._monotonic = monotonic
        self._server: asyncio.AbstractServer | None = None
        self._supervisor: asyncio.Task | None = None
        self._relays: set[asyncio.Task] = set()
        self._backend: Backend | None = None
        self._broken = False
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._memory = Memory()
        self._stopping = False
        self._no_ready_pod = False
        self.bound_port = spec.local_port
        self._health = ForwardHealth(spec.name, f"{spec.local_host}:{spec.local_port}", ForwardState.starting,
                                     message="resolving", since=clock())

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.spec.local_host, self.spec.local_port,
                                                      reuse_address=True)
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                raise K8sError(f"cannot forward {self.spec.name} to {self.spec.local_host}:{self.spec.local_port}: "
                               f"{holder_of(self.spec.local_port).describe()}") from None
            raise K8sError(f"cannot listen on {self.spec.local_host}:{self.spec.local_port}: {e}") from None
        self.bound_port = self._server.sockets[0].getsockname()[1]
        self._set(local=f"{self.spec.local_host}:{self.bound_port}")
        self._supervisor = asyncio.create_task(self._supervise(), name=f"forward-{self.spec.name}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._server is not None:
            self._server.close()
        tasks = [t for t in [self._supervisor, *self._relays] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await _within(self._server.wait_closed(), 2.0)
            self._server = None
        await self._drop_backend()
        self._set(state=ForwardState.stopped, message="stopped", connections=0)

    def health(self) -> ForwardHealth:
        return self._health

    # --- supervision ------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        old = self._health
        new_state = changes.get("state", old.state)
        if new_state != old.state:
            changes["since"] = self._clock()
        self._health = ForwardHealth(**{**asdict(old), "state": old.state, **changes})
        if self._health != old:
            self._on_change()

    async def _drop_backend(self) -> None:
        backend, self._backend = self._backend, None
        self._ready.clear()
        if backend is not None:
            with contextlib.suppress(Exception):
                await backend.close()

    async def _supervise(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._step()
            with contextlib.suppress(asyncio.TimeoutError):
                calm = self._backend is not None and not self._no_ready_pod
                interval = self.settings.resolve_interval if calm else \
                    min(self.settings.resolve_interval, self.settings.down_interval)
                await _within(self._wake.wait(), interval)

    async def _step(self) -> None:
        try:
            key = await _within(self.source.current(), self.settings.open_timeout)
            resolve_error = ""
        except (K8sError, OSError, asyncio.TimeoutError) as e:
            key, resolve_error = None, str(e) or type(e).__name__
        self._no_ready_pod = key is None and not resolve_error  # the pod we relay to is going away: look often
        backend = self._backend
        usable = backend is not None and not self._broken and backend.alive()
        why = "the backend stopped answering" if self._broken else "the port-forward to the pod ended"
        step = decide(self._memory, Seen(key, resolve_error, self.spec.service, backend.key if backend else None,
                                         usable, why), self._monotonic())
        self._memory = step.memory
        if step.drop:
            await self._drop_backend()
            self._set(state=ForwardState.reconnecting, message=step.drop_reason,
                      **({"last_error": step.drop_reason} if not usable else {}))
        if backend is not None and not step.drop:
            return  # healthy, or the API is briefly unreachable: keep the working backend
        self._broken = False
        if step.failure is not None:
            message, error = step.failure
            self._set(state=health_state(self._memory, self._monotonic(), self.settings.failed_after),
                      message=message, last_error=error, target=None)
            return
        if step.open is None:
            return  # the target failed just now: wait for its backoff
        try:
            opened_backend = await _within(self.source.open(step.open), self.settings.open_timeout)
            error = None
        except (K8sError, OSError, asyncio.TimeoutError) as e:
            error = str(e) or type(e).__name__
        had_backend = self._memory.had_backend
        self._memory = opened(self._memory, step.open, error, self._monotonic(), self.settings.backoff)
        if error is not None:
            self._set(state=health_state(self._memory, self._monotonic(), self.settings.failed_after),
                      message=f"cannot reach {step.open}", last_error=error, target=None)
            return
        self._backend = opened_backend
        reconnects = self._health.reconnects + (1 if had_backend else 0)
        self._set(state=ForwardState.ok, target=step.open, message=f"-> {step.open}", reconnects=reconnects)
        self._ready.set()

    def _mark_broken(self, backend: Backend, error: str) -> None:
        if self._backend is backend:
            self._broken = True
            self._ready.clear()
            self._set(last_error=error)
            self._wake.set()

    # --- relaying ---------------------------------------------------------------------------

    async def _await_backend(self, deadline: float) -> Backend | None:
        while True:
            if self._backend is not None and not self._broken:
                return self._backend
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return None
            self._wake.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await _within(self._ready.wait(), min(remaining, 0.25))

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        self._set(connections=len(self._relays))
        try:
            deadline = self._monotonic() + self.settings.client_wait
            while True:
                backend = await self._await_backend(deadline)
                if backend is None:
                    return
                try:
                    up_reader, up_writer = await _within(
                        asyncio.open_connection(backend.host, backend.port), self.settings.connect_timeout)
                except (OSError, asyncio.TimeoutError) as e:
                    self._mark_broken(backend, f"connecting to {backend.key}: {e or type(e).__name__}")
                    continue
                try:
                    await asyncio.gather(_pipe(client_reader, up_writer), _pipe(up_reader, client_writer))
                finally:
                    _close(up_writer)
                return
        except asyncio.CancelledError:
            return  # stop() cancels relays; end quietly (asyncio's stream callback logs cancelled tasks)
        finally:
            _close(client_writer)
            self._relays.discard(task)
            self._set(connections=len(self._relays))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


# --- a set of forwards, with a health file ----------------------------------------------------


class ForwardSet:
    """Every forward of a stack, started together; health written to ``health_path`` as JSON."""

    def __init__(self, specs: Sequence[ForwardSpec], source_for: Callable[[ForwardSpec], BackendSource],
                 settings: ForwardSettings = ForwardSettings(), health_path: Path | None = None,
                 publish: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
                 publish_interval: float = 2.0):
        self.health_path = health_path
        # publish: where else the health goes (the CLI puts it on the stack's annotation, so the
        # in-cluster dashboard's /api/stack shows it); only on change, at most every publish_interval.
        self._publish = publish
        self._publish_interval = publish_interval
        self._published: dict[str, Any] | None = None
        self._published_at = 0.0
        self._changed = asyncio.Event()
        self.forwards = [Forward(s, source_for(s), settings, on_change=self._changed.set) for s in specs]
        self._writer: asyncio.Task | None = None

    async def start(self) -> None:
        """Bind every port first; if any cannot be bound, release the others and name every holder."""
        problems: list[str] = []
        started: list[Forward] = []
        for forward in self.forwards:
            try:
                await forward.start()
                started.append(forward)
            except K8sError as e:
                problems.append(str(e))
        if problems:
            for forward in started:
                await forward.stop()
            raise K8sError("port-forwards cannot start:\n  " + "\n  ".join(problems))
        if self.health_path is not None:
            self._writer = asyncio.create_task(self._write_health_loop(), name="forward-health")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        await asyncio.gather(*(f.stop() for f in self.forwards))
        self.write_health()

    def health(self) -> dict[str, ForwardHealth]:
        return {f.spec.name: f.health() for f in self.forwards}

    def write_health(self) -> None:
        if self.health_path is not None:
            write_health_file(self.health_path, self.health())

    def summary(self) -> dict[str, Any]:
        """The part of the health worth publishing: what changes with state, not with traffic."""
        return {name: {"state": h.state.value, "target": h.target, "message": h.message, "reconnects": h.reconnects,
                       "local": h.local} for name, h in self.health().items()}

    async def publish_if_changed(self) -> None:
        if self._publish is None:
            return
        summary = self.summary()
        now = time.monotonic()
        if summary == self._published or now - self._published_at < self._publish_interval:
            return
        try:
            await self._publish(summary)
        except K8sError as e:  # the forwards matter more than their report
            log.warning("could not publish port-forward health: %s", e)
            return
        self._published, self._published_at = summary, now

    async def _write_health_loop(self) -> None:
        while True:
            self.write_health()
            await self.publish_if_changed()
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await _within(self._changed.wait(), 5.0)
            await asyncio.sleep(0.2)  # coalesce bursts of changes


def write_health_file(path: Path, health: Mapping[str, ForwardHealth]) -> None:
    write_atomic(path, json.dumps({"pid": os.getpid(), "updatedAt": time.time(),
                                   "forwards": {k: v.to_json() for k, v in health.items()}}, indent=2), mode=0o644)


def read_health_file(path: Path) -> dict[str, Any] | None:
    """The health file if its writer is still alive, else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(data.get("pid", 0)), 0)
    except (OSError, ValueError):
        return None
    return data


# --- backends ---------------------------------------------------------------------------------


@dataclass
class LoopbackBackend:
    key: str
    host: str
    port: int
    closed: bool = False

    def alive(self) -> bool:
        return not self.closed

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeSource:
    """Targets on loopback, switched by tests: ``point(key, host, port)`` is a restarted pod becoming ready."""

    key: str | None = None
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    opened: list[LoopbackBackend] = field(default_factory=list)
    fail_open: bool = False

    def point(self, key: str | None, host: str = "127.0.0.1", port: int = 0) -> None:
        if key is not None:
            self.addresses[key] = (host, port)
        self.key = key

    async def current(self) -> str | None:
        return self.key

    async def open(self, key: str) -> LoopbackBackend:
        if self.fail_open or key not in self.addresses:
            raise K8sError(f"cannot open {key}")
        backend = LoopbackBackend(key, *self.addresses[key])
        self.opened.append(backend)
        return backend


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class KubectlBackend:
    """A ``kubectl port-forward pod/<pod> :<port>`` child listening on an ephemeral loopback port."""

    def __init__(self, key: str, proc: asyncio.subprocess.Process, port: int):
        self.key, self.host, self.port = key, "127.0.0.1", port
        self._proc = proc
        self._drain = asyncio.create_task(self._drain_output())

    async def _drain_output(self) -> None:
        assert self._proc.stdout is not None
        with contextlib.suppress(Exception):
            while await self._proc.stdout.readline():
                pass

    def alive(self) -> bool:
        return self._proc.returncode is None

    async def close(self) -> None:
        await _terminate(self._proc)
        self._drain.cancel()
        await asyncio.gather(self._drain, return_exceptions=True)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await _within(proc.wait(), 2.0)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


class KubectlSource:
    """Follows a Kubernetes Service: its current ready pod, reached through a kubectl child."""

    def __init__(self, api: Any, namespace: str, spec: ForwardSpec, context: str, kubectl: str = "kubectl"):
        self.api, self.namespace, self.spec, self.context, self.kubectl = api, namespace, spec, context, kubectl

    async def current(self) -> str | None:
        target = await asyncio.to_thread(self.api.ready_target, self.namespace, self.spec.service, self.spec.remote_port)
        return target.key if target else None

    async def open(self, key: str) -> KubectlBackend:
        pod, port = key.rsplit(":", 1)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.kubectl, "--context", self.context, "-n", self.namespace, "port-forward", f"pod/{pod}",
                f":{port}", "--address", "127.0.0.1", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=_die_with_parent)
        except OSError as e:
            raise K8sError(f"cannot run kubectl: {e}") from None
        assert proc.stdout is not None
        output: list[str] = []
        try:
            while True:
                line = (await _within(proc.stdout.readline(), 10.0)).decode(errors="replace")
                if not line:
                    break
                output.append(line.strip())
                if line.startswith("Forwarding from 127.0.0.1:"):
                    local = int(line.split("127.0.0.1:", 1)[1].split()[0])
                    return KubectlBackend(key, proc, local)
        except (asyncio.TimeoutError, ValueError):
            pass
        await _terminate(proc)
        raise K8sError(f"kubectl port-forward pod/{pod} failed: {' | '.join(output[-3:]) or 'no output'}")
