"""Is a port free, and if not, who holds it?  Checked before anything starts."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from hippodrome_k8s.core.errors import PortInUseError


@dataclass(frozen=True)
class PortHolder:
    port: int
    pid: int | None
    command: str
    project: Path | None = None  # the root of the Hippodrome stack the holder belongs to, if it does

    def describe(self) -> str:
        if self.pid is None:
            return f"port {self.port} is in use (the holding process is not visible to this user)"
        text = f"port {self.port} is held by pid {self.pid} ({self.command})"
        if self.project is not None:
            text += (f", part of the Hippodrome stack of {self.project} (stop it with "
                     f"`hippodrome control shutdown --project-root {self.project}`)")
        return text


def project_of_state_dir(state_dir: str | None) -> Path | None:
    """<root>/.hippodrome/state -> <root>: every service of a local stack gets HIPPODROME_STATE_DIR."""
    if not state_dir:
        return None
    path = Path(state_dir)
    return path.parent.parent if path.name == "state" and path.parent.name == ".hippodrome" else None


def _stack_project(proc: psutil.Process) -> Path | None:
    """The project whose stack ``proc`` belongs to: its own env, or a child's (the supervisor holds
    the dashboard port and its services carry the env), or an ancestor's."""
    candidates = [proc]
    try:
        candidates += proc.children() + proc.parents()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    for candidate in candidates:
        try:
            project = project_of_state_dir(candidate.environ().get("HIPPODROME_STATE_DIR"))
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
        if project is not None:
            return project
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(avoid: range = range(9000, 9020)) -> int:
    """A free loopback port chosen by the kernel, outside ``avoid`` (the stack's contract range)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def free_ports(count: int, avoid: range = range(9000, 9020)) -> list[int]:
    """``count`` distinct free loopback ports outside ``avoid`` (held together while chosen, so distinct)."""
    sockets, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket()
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in avoid:
                ports.append(port)
    finally:
        for s in sockets:
            s.close()
    return ports


def holder_of(port: int) -> PortHolder:
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError):
        connections = []
    for c in connections:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port:
            if c.pid is None:
                break
            project = None
            try:
                proc = psutil.Process(c.pid)
                command = " ".join(proc.cmdline()) or proc.name()
                project = _stack_project(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                command = "?"
            return PortHolder(port, c.pid, command[:200], project)
    return PortHolder(port, None, "")


def check_ports_free(ports: dict[int, str], host: str = "127.0.0.1") -> None:
    """Raise PortInUseError naming every taken port, its intended service and its holder."""
    taken = [f"{holder_of(p).describe()}; needed by {owner}" for p, owner in sorted(ports.items()) if not port_is_free(p, host)]
    if taken:
        raise PortInUseError(
            "ports needed by the stack are in use:\n  " + "\n  ".join(taken)
            + "\nStop whatever holds them (is another `hippodrome up` running? try `hippodrome status`)."
        )
