"""The fork server: one Python process that imports the heavy libraries once, then forks a service per request.

Why: a Python service of the reference stack spends 0.3-0.5 s importing aiohttp, boto3 and botocore
before it serves; fifteen of them on a shared 2-core machine make that the start-up's cost. Forked
from a process that has them imported already, a service is healthy in tens of milliseconds. The
supervisor starts this server (``python -m hippodrome_k8s.local.forkserver FD`` with one end of a
socketpair as fd FD) and asks it to start the services whose command it can run (``forking.py``
decides which); everything else is spawned as before (``launcher.py``).

It keeps the contracts of a plain spawn:

* **own process group**: each child calls ``setsid()``, so its pid is its group and session;
* **own env, cwd, argv and logs**: the child takes the request's environment (exactly, replacing the
  server's), cwd, umask (the supervisor's), ``sys.argv`` and ``sys.path[0]``; fds 1 and 2 become the pipe
  the supervisor reads;
* **fresh project code**: the server imports only third-party libraries (``PRELOAD``) and the standard
  library, never a service's own modules, and the child forgets the server's own (``hippodrome_k8s``),
  so a restart or a hot reload runs the code on disk;
* botocore's service models are parsed once, in the server (``botomodels.py`` says what that changes);
* **the interpreter's own ending**: the child leaves the server's loop and runs the service as
  ``python -m`` does (``runpy._run_module_as_main``) or as a script, under the real ``__main__``, so
  exit codes, tracebacks, ``atexit``, non-daemon threads and the final flush behave the same;
* **no event loop and no thread** exist here when a child is forked (a plain loop on ``selectors``).

A child can also be forked **held** (``hold_until_gate``): it runs its service's start-up until the
first time it would talk to anything (connect, bind, send, start a program; under uvloop, make a socket), and
waits there until the supervisor opens its gate. The supervisor forks the upper layers held while layer 0
starts, so their imports and set-up are done by the time their layer's gate opens, and nothing of theirs has
talked to a lower layer before it is healthy. What a C library does on its own sockets (a gRPC core, a
libcurl) is not seen: such a service is held only at what it does through Python's sockets.

Protocol (``SOCK_SEQPACKET``, one JSON message per packet, so fds travel with their message): the
server says ``{"ready": true, "preloaded": [...], "skipped": {...}, "forked_first": [pids]}`` once, when
its imports are done; a request marked ``"first": true`` may come before that: it is forked between two of
the last imports (``PRELOAD_LAST``), the others wait for them. Each request carries two
fds, a channel socket and the write end of the output pipe (and, held, the read end of its gate); on the channel the server answers
``{"pid": N}`` (or ``{"error": ..., "errno": N}``) and later ``{"exit": code}`` (negative: killed by
that signal, as asyncio reports it). When the supervisor's end closes (it stopped, or died even by
SIGKILL) the server terminates the groups of the children it still has and exits; the watchdog
covers the same groups, this also covers a child forked in the instant the supervisor died.

What the child shares with the server and a plain spawn would not: the preloaded modules were
imported with the server's environment (``forking.py`` spawns plainly a service whose env sets a
``PYTHON*`` or ``AIOHTTP_*`` variable), and the hash seed of ``str`` (``PYTHONHASHSEED``).
``/proc/<pid>/cmdline`` shows the server's command; the thread name (``ps -o comm``, ``top``) is
set to the service's.
"""

from __future__ import annotations

import array
import gc
import importlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

CONTROL_FD = 3  # the supervisor's end of the socketpair, unless argv[1] names another fd
MAX_MESSAGE = 1 << 20  # a request is an argv, a cwd and an environment
GRACE_SECONDS = 5.0

# Third-party libraries the reference services import (fake_aws's too: moto's own libraries, werkzeug, flask,
# requests, boto3), none of which reads the environment when it is imported. moto itself does (its settings are
# read at import), so it is not here. Missing ones are skipped.
PRELOAD = (
    "asyncio", "concurrent.futures", "sqlite3", "ctypes",
    "botocore.session", "botocore.client", "boto3", "boto3.dynamodb.types",
    "requests", "werkzeug", "werkzeug.serving", "flask",
    "jwt", "cryptography.fernet", "cryptography.hazmat.primitives.asymmetric.rsa",
    "cryptography.hazmat.primitives.ciphers.aead", "cryptography.hazmat.primitives.kdf.hkdf",
)
# Imported last, about a third of the imports' time: gmpy2 (fake_cognito's key derivation: 50 ms, its GMP and MPFR
# libraries loaded), then aiohttp (its own libraries first, one by one). Between two of them, a request marked
# ``first`` that has come (``forking.FORKED_FIRST``: moto's, which uses none of these) is forked at once; every other
# request waits until all are imported and the server says it is ready.
PRELOAD_LAST = ("gmpy2", "attr", "multidict", "yarl", "frozenlist", "aiosignal", "aiohappyeyeballs", "email.policy",
                "aiohttp", "aiohttp.web")


@dataclass
class Started:
    """A fork server process and the supervisor's end of its control socket (``launch``).

    Only ``owner`` (the process that launched it: its parent) can wait for it; a process forked from the owner
    (the supervisor of ``up --detach``, forked by the CLI that launched the server) watches ``pidfd`` instead."""

    process: subprocess.Popen
    control: socket.socket
    env: dict[str, str]
    owner: int
    pidfd: int = -1  # -1 where os.pidfd_open is missing (Linux < 5.3): then only the owner may adopt it

    @property
    def pid(self) -> int:
        return self.process.pid

    def fds(self) -> tuple[int, ...]:
        """What a forked supervisor must keep open to use this server."""
        return (self.control.fileno(),) + ((self.pidfd,) if self.pidfd >= 0 else ())

    def alive(self) -> bool:
        if os.getpid() == self.owner:
            return self.process.poll() is None
        return not select.select([self.pidfd], [], [], 0)[0]  # readable once the process has ended

    def wait(self, timeout: float) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        if os.getpid() == self.owner:
            try:
                self.process.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def kill(self) -> None:
        if os.getpid() == self.owner:
            self.process.kill()
        else:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def close(self, timeout: float) -> None:
        """Close our end: the server terminates the children it still has and exits (killed after ``timeout``)."""
        self.control.close()
        try:
            if not self.wait(timeout):
                self.kill()
                self.wait(5.0)
        except (ProcessLookupError, OSError):
            pass  # ended, and reaped by its parent already
        self.release_pidfd()

    def discard(self) -> None:
        """End it at once: it forked nothing yet (it was started for a stack that is not going to use it)."""
        self.control.close()
        try:
            self.kill()
            self.wait(5.0)
        except (ProcessLookupError, OSError):
            pass
        self.release_pidfd()

    def release_pidfd(self) -> None:
        fd, self.pidfd = self.pidfd, -1
        if fd >= 0:
            os.close(fd)


def launch(env: dict[str, str], stderr: int | None = None) -> Started:
    """Start a fork server (``python -m hippodrome_k8s.local.forkserver FD``) in its own session, with ``env``.
    It imports its libraries (``PRELOAD``) at once; it says it is ready on the control socket when done.
    ``stderr``: where its own errors go (None: ours); each child writes to its own pipe."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "hippodrome_k8s.local.forkserver", str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, pass_fds=(theirs.fileno(),),
            start_new_session=True, env=dict(env),
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    ours.setblocking(False)
    try:
        pidfd = os.pidfd_open(process.pid) if hasattr(os, "pidfd_open") else -1
    except OSError:
        pidfd = -1
    return Started(process, ours, dict(env), os.getpid(), pidfd)


@dataclass
class Request:
    """What a forked child runs: ``python -m module args`` (``module``) or ``python path args`` (``path``)."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    module: str | None
    path: str | None
    name: str
    hold: bool = False
    umask: int | None = None  # the supervisor's when it asked (the server may have been started before it set one)
    out_fd: int = -1
    gate_fd: int = -1

    @classmethod
    def from_json(cls, data: bytes) -> "Request":
        raw = json.loads(data)
        return cls(argv=[str(a) for a in raw["argv"]], cwd=str(raw["cwd"]), env={str(k): str(v) for k, v in raw["env"].items()},
                   module=raw.get("module"), path=raw.get("path"), name=str(raw.get("name") or ""),
                   hold=bool(raw.get("hold")), umask=int(raw["umask"]) if raw.get("umask") is not None else None)


def preload(modules: tuple[str, ...] = PRELOAD, between: Callable[[], bool] = lambda: False
            ) -> tuple[list[str], dict[str, str]]:
    """Import ``modules``, then parse botocore's service models once for every child (``botomodels.py``) if boto3
    is among them. ``between()`` runs after each import; when it says True (in a child it forked) the rest is
    left to the child."""
    loaded, skipped = [], {}
    for name in modules:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as e:  # noqa: BLE001 - a library that cannot load is simply not preloaded
            skipped[name] = f"{type(e).__name__}: {e}"
        if between():
            return loaded, skipped
    if "boto3" in loaded:
        from hippodrome_k8s.local import botomodels

        botomodels.share_loaders()
        loaded += [f"botocore model {name}" for name in botomodels.warm()]
    return loaded, skipped


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the supervisor is gone; EOF on the control socket says the rest


def _receive(control: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    data, ancdata, _flags, _addr = control.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    for fd in fds:
        os.set_inheritable(fd, False)  # SCM_RIGHTS fds arrive inheritable; a service's own children get none
    return data, list(fds)


class Server:
    def __init__(self, control: socket.socket):
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.children: dict[int, socket.socket] = {}
        self.deferred: list[tuple[bytes, list[int]]] = []  # requests that came before PRELOAD_LAST was imported
        self.forked_first: list[int] = []
        self.closed = False  # the control socket closed while requests were being deferred
        self.child_request: Request | None = None  # set in a child forked by fork_first

    def fork_first(self) -> bool:
        """While the last libraries are imported: fork the requests marked ``first`` that have come by now, keep the
        others (in order) for ``serve``. True in a forked child (its request is ``child_request``)."""
        while not self.closed and select.select([self.control], [], [], 0)[0]:
            data, fds = _receive(self.control)
            if not data:
                for fd in fds:
                    os.close(fd)
                self.closed = True
            elif _marked_first(data):
                before = set(self.children)
                self.child_request = self.fork(data, fds)
                if self.child_request is not None:
                    return True
                self.forked_first += sorted(set(self.children) - before)
            else:
                self.deferred.append((data, fds))
        return False

    def serve(self) -> Request | None:
        """Answer requests until the control socket closes (None), or return the request in a forked child. The
        requests ``fork_first`` kept are answered first."""
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector (set_wakeup_fd)
        self.reap()  # a child forked first may have ended before the handler was set
        if self.closed:  # the supervisor went away while the server imported: nobody waits for what it asked
            self.drop_deferred()
            self.shut_down()
            return None
        while self.deferred:
            data, fds = self.deferred.pop(0)  # a child forked now closes the fds of those still kept
            request = self.fork(data, fds)
            if request is not None:
                return request
        self.selector.register(self.control, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    data, fds = _receive(self.control)
                    if not data:
                        for fd in fds:
                            os.close(fd)
                        self.shut_down()
                        return None
                    request = self.fork(data, fds)
                    if request is not None:
                        return request
                else:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()

    def fork(self, data: bytes, fds: list[int]) -> Request | None:
        """Fds: the channel, the output pipe and, for a held child, the gate."""
        if len(fds) not in (2, 3):
            for fd in fds:
                os.close(fd)
            return None
        channel = socket.socket(fileno=fds[0])
        passed = fds[1:]

        def refuse(message: str, errno: int) -> None:
            _send(channel, {"error": message, "errno": errno})
            channel.close()
            for fd in passed:
                os.close(fd)

        try:
            request = Request.from_json(data)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return refuse(f"bad request: {e}", 22)
        if request.hold != (len(passed) == 2):
            return refuse("a held child needs a gate, and only a held child has one", 22)
        if not os.path.isdir(request.cwd):
            return refuse(f"No such file or directory: {request.cwd!r}", 2)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as e:
            return refuse(e.strerror or str(e), e.errno or 11)
        if pid == 0:
            self.leave_in_child(channel)
            request.out_fd = passed[0]
            request.gate_fd = passed[1] if request.hold else -1
            return request
        for fd in passed:
            os.close(fd)
        _send(channel, {"pid": pid})
        self.children[pid] = channel
        return None

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            channel = self.children.pop(pid, None)
            if channel is not None:
                _send(channel, {"exit": os.waitstatus_to_exitcode(status)})
                channel.close()

    def shut_down(self) -> None:
        """The supervisor is gone: what is left of our children goes too (SIGTERM, then SIGKILL)."""
        for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, 1.0)):
            for pid in self.children:
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + wait
            while self.children and time.monotonic() < deadline:
                self.reap()
                time.sleep(0.02)
        for channel in self.children.values():
            channel.close()
        self.children.clear()

    def leave_in_child(self, own_channel: socket.socket) -> None:
        """In the child: drop every fd and handler of the server, keep nothing but the request."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.selector.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.control.close()
        own_channel.close()
        for channel in self.children.values():
            channel.close()
        self.children.clear()
        self.drop_deferred()

    def drop_deferred(self) -> None:
        for _, fds in self.deferred:
            for fd in fds:
                os.close(fd)
        self.deferred.clear()


def _marked_first(data: bytes) -> bool:
    try:
        return bool(json.loads(data).get("first"))
    except (ValueError, AttributeError):
        return False  # refused in its turn, with the reason (Server.fork)


def _name_thread(name: str) -> None:
    """``ps -o comm`` and ``top`` show the service's name rather than "python" (Linux; best effort)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


# What "talking" is, for a held child: any network operation, or starting another program.
GATED_EVENTS = frozenset({
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
})
# Once uvloop is loaded, making a socket counts too: uvloop connects inside libuv, where no audit hook sees it,
# but its loop makes a socket pair each time it starts running in the main thread, so such a service is held at
# its loop's start. (Only then: every asyncio loop makes one when it is created, earlier than its first connect.)
GATED_WITH_UVLOOP = frozenset({"socket.__new__"})


def talks(event: str, modules: dict) -> bool:
    """Whether a held child must wait for its gate at this audit event (``modules``: its ``sys.modules``)."""
    return event in GATED_EVENTS or (event in GATED_WITH_UVLOOP and "uvloop" in modules)


def hold_until_gate(gate_fd: int) -> None:
    """Let this process run until it first talks to anything (``GATED_EVENTS``, seen by an audit hook), then
    wait there until the supervisor opens the gate (one byte on ``gate_fd``).

    Why: a service of layer N+1 can do everything it does alone - import its code, read its config, build
    its clients and its app - while layer N becomes healthy, and still never talk to layer N before then.
    A gate closed without a byte (the supervisor discarded the child, or died) ends the process. The hook
    stays installed (hooks cannot be removed); once open it returns at once.
    """
    import threading

    lock = threading.Lock()
    opened = threading.Event()

    def hook(event: str, _args: tuple) -> None:
        if opened.is_set() or not talks(event, sys.modules):
            return
        with lock:  # every thread that talks waits for the same byte
            if opened.is_set():
                return
            try:
                data = os.read(gate_fd, 1)
            finally:
                os.close(gate_fd)
            if not data:
                os._exit(0)
            opened.set()

    sys.addaudithook(hook)


def become(request: Request) -> None:
    """Turn this forked child into the service: session, fds, cwd, env, argv, sys.path, a fresh __main__."""
    os.setsid()
    os.dup2(request.out_fd, 1)
    os.dup2(request.out_fd, 2)
    if request.out_fd > 2:
        os.close(request.out_fd)
    os.chdir(request.cwd)
    if request.umask is not None:
        os.umask(request.umask)
    os.environ.clear()
    os.environ.update(request.env)
    if request.name:
        _name_thread(request.name)
    for name in [m for m in sys.modules if m == "hippodrome_k8s" or m.startswith("hippodrome_k8s.")]:
        del sys.modules[name]  # our own modules: the service imports them from disk if it wants them
    if request.module is not None:  # `-m http.server` when http.server is preloaded: run it afresh, as __main__
        sys.modules.pop(request.module, None)
        sys.modules.pop(f"{request.module}.__main__", None)
    importlib.invalidate_caches()  # the server's finders may have listed a directory before an edit
    main_module = types.ModuleType("__main__")
    main_module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main_module
    if "__mp_main__" in sys.modules:  # multiprocessing aliases __main__ when it is imported: the server's
        sys.modules["__mp_main__"] = main_module
    sys.argv = list(request.argv)
    if request.module is not None:
        sys.path[0] = os.getcwd()  # as `python -m`: the working directory
    else:
        sys.path[0] = os.path.dirname(os.path.realpath(request.path or ""))  # as `python script.py`
    if request.hold:
        hold_until_gate(request.gate_fd)


def _run_script(path: str) -> None:
    """``python path``: the file's code in the real ``__main__``, with what the interpreter sets for a script."""
    from importlib.machinery import SourceFileLoader

    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec", dont_inherit=True)
    main_globals = sys.modules["__main__"].__dict__
    main_globals.update(__file__=path, __cached__=None, __loader__=SourceFileLoader("__main__", path),
                        __spec__=None, __package__=None, __doc__=None)
    exec(code, main_globals)


def _without_our_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def run(request: Request) -> None:
    """Run the service as the interpreter would: SystemExit ends the process as usual; an uncaught exception is
    reported by ``sys.excepthook`` without the server's own frames, and the exit code is 1 (KeyboardInterrupt:
    killed by SIGINT)."""
    import runpy

    become(request)
    try:
        if request.module is not None:
            runpy._run_module_as_main(request.module, alter_argv=True)  # what `python -m` calls
        elif os.path.isfile(request.path or ""):
            _run_script(request.path or "")
        else:  # a directory or a zip file with a __main__.py
            runpy.run_path(request.path or "", run_name="__main__")
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        e = e.with_traceback(_without_our_frames(e.__traceback__))  # the default hook prints e.__traceback__
        sys.excepthook(type(e), e, e.__traceback__)
        if isinstance(e, KeyboardInterrupt):
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        raise SystemExit(1) from None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    control = socket.socket(fileno=int(argv[1]) if len(argv) > 1 else CONTROL_FD)
    gc.disable()  # nothing collected while importing, so the objects that stay are packed together
    loaded, skipped = preload()
    server = Server(control)
    if not server.fork_first():
        last, last_skipped = preload(PRELOAD_LAST, between=server.fork_first)
        loaded, skipped = loaded + last, {**skipped, **last_skipped}
    gc.freeze()  # every object so far moves out of the collector's reach: a child's collections neither walk
    gc.enable()  # them (the CPU a child spent on them was as much as its start) nor write to their pages
    request = server.child_request
    if request is None:
        _send(control, {"ready": True, "pid": os.getpid(), "preloaded": loaded, "skipped": skipped,
                        "forked_first": server.forked_first})
        request = server.serve()
        if request is None:
            return 0
    run(request)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
