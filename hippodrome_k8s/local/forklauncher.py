"""The ProcessLauncher that starts Python services through the fork server (Linux), plain spawn otherwise.

``ForkServerLauncher`` is ``launcher.Launcher`` with two more ways to start a process, for a command
``forking.fork_target`` accepts: forked by the fork server (``forkserver.py``), started beside the
watchdog; or **prepared**: forked held before its layer starts (``prepare``), and let go when the
runner spawns it. Anything else is spawned as before. A forkable service of layer 0 waits for the server
to be ready: ``hippodrome up`` starts the server before it loads the stack (``cli/prestart.py``), so
its imports, which the service would otherwise do itself on the same cores, are mostly done by then. One
marked ``first`` (moto's: ``forking.FORKED_FIRST``) is sent at once, and forked before the server's last imports.
Stopping, killing, reaping and the watchdog are the same for every kind of child: a forked service is
the leader of its own process group, registered with the watchdog from the moment it exists.

A forked child is not the supervisor's child but the server's, so its exit code comes from the server
over the child's own channel. If that channel closes without one, the server died (say ``kill -9``):
the child can no longer be reaped by us, so its group is killed and it is reported as killed; the
runner restarts it like any service that died, through a new server.
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from hippodrome_k8s.local import forkserver
from hippodrome_k8s.local.forking import ForkTarget, fork_server_enabled, fork_target, server_fits
from hippodrome_k8s.local.groups import group_alive, signal_group
from hippodrome_k8s.local.launcher import Launcher, with_own_python
from hippodrome_k8s.local.pipe import PipeLines

READY_TIMEOUT = 60.0  # the server imports the preloaded libraries first; a loaded 2-core machine is slow

Note = Callable[[str], None]


class ForkedChild:
    """A ProcessHandle (effects.py) for a service the fork server forked (held, if it has a gate)."""

    def __init__(self, pid: int, channel: socket.socket, output: PipeLines, note: Note, gate_fd: int | None = None):
        self._pid = pid
        self._channel = channel
        self._output = output
        self._note = note
        self._gate_fd = gate_fd
        self.returncode: int | None = None
        self._exit = asyncio.get_running_loop().create_task(self._watch_exit(), name=f"forked:{pid}")

    @property
    def pid(self) -> int:
        return self._pid

    def open_gate(self) -> None:
        """Let a held child talk and serve (one byte); closing the gate without it ends the child."""
        if self._gate_fd is not None:
            try:
                os.write(self._gate_fd, b"g")
            except OSError:
                pass  # it ended already: the runner sees its exit
            self.close_gate()

    def close_gate(self) -> None:
        fd, self._gate_fd = self._gate_fd, None
        if fd is not None:
            os.close(fd)

    def close_output(self) -> None:
        self._output.close()

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def _watch_exit(self) -> int:
        loop = asyncio.get_running_loop()
        try:
            data = await loop.sock_recv(self._channel, 4096)
        finally:
            self._channel.close()
        try:
            code = int(json.loads(data)["exit"]) if data else None
        except (ValueError, KeyError, TypeError):
            code = None
        if code is None:  # the server is gone: nobody can tell us how this child ends, so end it now
            self._note(f"the fork server died; killing pid {self._pid} (its service is restarted)")
            signal_group(self._pid, signal.SIGKILL)
            while group_alive(self._pid):
                await asyncio.sleep(0.02)
            code = -signal.SIGKILL
        self.returncode = code
        return code

    def lines(self) -> AsyncIterator[bytes]:
        return self._output.lines()


def _current_umask() -> int:
    """What a plain spawn would give the child (the supervisor is single-threaded: nothing creates a file between)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


async def _sendmsg(sock: socket.socket, data: bytes, fds: Sequence[int]) -> None:
    """``sendmsg`` on a non-blocking socket from the event loop (asyncio has no sock_sendmsg).

    One sender at a time per socket (the caller holds a lock): the loop keeps one writer callback per fd, so a
    second waiter's ``add_writer`` would silently replace the first one's, which would then wait forever."""
    loop = asyncio.get_running_loop()
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
    while True:
        try:
            sock.sendmsg([data], ancillary)
            return
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(sock.fileno(), writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(sock.fileno())


class ForkServer:
    """The supervisor's end of one fork server process: one it starts, or one started for it (``started``: the
    CLI starts a server before it even loads the stack, so its imports overlap the CLI's own)."""

    def __init__(self, env: Mapping[str, str] | None = None, started: forkserver.Started | None = None):
        self.started = started if started is not None else forkserver.launch(dict(env or {}))
        self.info: dict | None = None
        self._ready: asyncio.Task[bool] | None = None
        self._sending = asyncio.Lock()  # requests go out one by one when the socket's buffer is full (_sendmsg)

    @property
    def control(self) -> socket.socket:
        return self.started.control

    @property
    def pid(self) -> int:
        return self.started.pid

    def alive(self) -> bool:
        return self.started.alive()

    def is_ready(self) -> bool:
        """Ready by now (without waiting); starts listening for its first message if nobody did yet."""
        task = self._listen()
        return task.done() and not task.cancelled() and task.result()

    async def ready(self) -> bool:
        """Wait for the server's first message (its imports done); False if it died or never said so."""
        return await asyncio.shield(self._listen())

    def _listen(self) -> asyncio.Task[bool]:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_task(self._await_ready(READY_TIMEOUT))
        return self._ready

    async def _await_ready(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        try:
            data = await asyncio.wait_for(loop.sock_recv(self.control, 1 << 16), timeout)
            self.info = json.loads(data) if data else None
        except (asyncio.TimeoutError, OSError, ValueError):
            self.info = None
        return bool(self.info and self.info.get("ready"))

    async def fork(self, target: ForkTarget, cwd: str, env: Mapping[str, str], name: str, note: Note,
                   hold: bool = False) -> ForkedChild:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        read_fd, write_fd = os.pipe()
        gate_read, gate_write = os.pipe() if hold else (None, None)
        kept = [ours.close, lambda: os.close(read_fd)] + ([lambda: os.close(gate_write)] if hold else [])
        try:
            request = {"argv": list(target.argv), "cwd": cwd, "env": dict(env), "module": target.module,
                       "path": target.path, "name": name, "hold": hold, "first": target.first, "umask": _current_umask()}
            fds = [theirs.fileno(), write_fd] + ([gate_read] if gate_read is not None else [])
            try:
                async with self._sending:
                    await _sendmsg(self.control, json.dumps(request).encode(), fds)
            finally:
                theirs.close()
                os.close(write_fd)
                if gate_read is not None:
                    os.close(gate_read)
            ours.setblocking(False)
            data = await loop.sock_recv(ours, 4096)
            answer = json.loads(data) if data else {"error": "the fork server exited", "errno": 32}
            if "pid" not in answer:
                raise OSError(int(answer.get("errno") or 5), str(answer.get("error")))
        except BaseException:  # cancelled (a discarded preparation) included: closing the gate ends a held child
            for close in kept:
                close()
            raise
        return ForkedChild(int(answer["pid"]), ours, PipeLines(read_fd), note, gate_write)

    def close(self, timeout: float = 10.0) -> None:
        """Close our end: the server terminates the children it still has and exits."""
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        self.started.close(timeout)


def _key(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> tuple:
    return tuple(command), cwd, tuple(sorted(env.items()))


class ForkServerLauncher(Launcher):
    """The ProcessLauncher (effects.py) of a real stack on Linux: the fork server for what it can start."""

    def __init__(self, server_env: Mapping[str, str] | None = None, note: Note | None = None, enabled: bool = True,
                 started: forkserver.Started | None = None):
        super().__init__()
        self._server_env = {**os.environ, **(server_env or {})}
        self._started = started  # a server started for this stack before it was loaded: used if it fits
        self._note = note or (lambda line: print(f"hippodrome: {line}", file=sys.stderr, flush=True))
        self._enabled = enabled
        self._server: ForkServer | None = None
        self._prepared: dict[tuple, asyncio.Task[ForkedChild | None]] = {}

    # --- the server ------------------------------------------------------------------------------

    def start_watchdog(self) -> None:
        super().start_watchdog()
        if self._enabled:
            self._start_server()

    def stop_watchdog(self) -> None:
        self._stop_server()
        super().stop_watchdog()

    def _start_server(self) -> None:
        started, self._started = self._started, None
        if started is not None and server_fits(started.env, self._server_env):
            self._server = ForkServer(started=started)
            self._tell_watchdog(f"+{self._server.pid}")
            return
        if started is not None:
            started.discard()  # started with other PYTHON* values, or for another project: a new one is started
        try:
            self._server = ForkServer(self._server_env)
        except OSError as e:
            self._note(f"the fork server cannot start ({e}); services are spawned plainly")
            self._enabled = False
            return
        self._tell_watchdog(f"+{self._server.pid}")

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self._tell_watchdog(f"-{server.pid}")

    async def ready(self) -> bool:
        """Wait until the fork server can fork (False: it cannot, and services are spawned plainly)."""
        return await self._server_for() is not None

    async def _server_for(self, first: bool = False) -> ForkServer | None:
        """The fork server once it is ready (``first``: at once while it is alive, for a request it forks before its
        last imports); a dead one is replaced; None: spawn plainly."""
        server = self._server
        if server is not None and not server.alive() and server.is_ready():  # it was ready, and died since
            self._note("the fork server exited; starting a new one")
            self._stop_server()
            self._start_server()
            server = self._server
        if server is None or not self._enabled:
            return None
        if first and server.alive() and not server.is_ready():
            return server  # spawn() gives up on it after READY_TIMEOUT, as the others do
        if not await server.ready():
            if self._server is server:
                self._note("the fork server did not become ready; services are spawned plainly")
                self._enabled = False
                self._stop_server()
            return None
        return server

    def _target(self, command: Sequence[str], env: Mapping[str, str]) -> tuple[list[str], dict[str, str], ForkTarget | None]:
        command = with_own_python(command)
        full_env = {**os.environ, **env}
        target = fork_target(command, full_env, self._server_env, sys.executable) if self._enabled else None
        return command, full_env, target

    # --- starting ----------------------------------------------------------------------------------

    def prepare(self, command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
        """Fork this service held now (once the server is ready), for a ``spawn`` of the same later."""
        command, full_env, target = self._target(command, env)
        if target is None or not self._enabled:
            return
        key = _key(command, cwd, env)
        if key not in self._prepared:
            self._prepared[key] = asyncio.get_running_loop().create_task(self._fork_held(target, cwd, full_env))

    async def _fork_held(self, target: ForkTarget, cwd: str, full_env: dict[str, str]) -> ForkedChild | None:
        server = await self._server_for()
        if server is None:
            return None
        try:
            child = await server.fork(target, cwd, full_env, full_env.get("HIPPODROME_SERVICE", ""), self._note, hold=True)
        except OSError:
            return None  # spawned the ordinary way when its turn comes
        self._tell_watchdog(f"+{child.pid}")
        return child

    async def release_prepared(self) -> None:
        """End the held children nobody spawned (the start failed or stopped before their layer)."""
        tasks, self._prepared = list(self._prepared.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                child = await task
            except (asyncio.CancelledError, OSError):
                continue
            if child is not None:
                child.close_gate()
                child.close_output()
                await self.terminate(child, 5.0)

    async def spawn(self, command: Sequence[str], cwd: str, env: Mapping[str, str]):
        command, full_env, target = self._target(command, env)
        held = self._prepared.pop(_key(command, cwd, env), None)
        if held is not None:
            child = await held
            if child is not None:
                child.open_gate()
                return child
        server = await self._server_for(target.first) if target is not None else None
        if target is None or server is None:
            return await super().spawn(command, cwd, env)
        fork = server.fork(target, cwd, full_env, env.get("HIPPODROME_SERVICE", ""), self._note)
        try:
            child = await (fork if server.is_ready() else asyncio.wait_for(fork, READY_TIMEOUT))
        except asyncio.TimeoutError:  # sent before the server was ready, and it never was (caught before OSError)
            if self._server is server:
                self._note("the fork server did not become ready; services are spawned plainly")
                self._enabled = False
                self._stop_server()
            return await super().spawn(command, cwd, env)
        except OSError as e:
            if server.alive():
                raise  # what a plain spawn would raise too (a cwd that is not there)
            self._note(f"the fork server is gone ({e.strerror or e}); spawning this one plainly")
            return await super().spawn(command, cwd, env)
        self._tell_watchdog(f"+{child.pid}")
        return child


def default_launcher(server_env: Mapping[str, str] | None = None, note: Note | None = None,
                     started: forkserver.Started | None = None) -> Launcher:
    """The fork server's launcher where it works (Linux, not turned off by HIPPODROME_FORK_SERVER=0), else plain spawn.
    ``started``: a fork server started for this stack already (used if it fits, else ended)."""
    if fork_server_enabled(os.environ, sys.platform, hasattr(os, "fork")):
        return ForkServerLauncher(server_env, note, started=started)
    if started is not None:
        started.discard()
    return Launcher()
