"""`hippodrome up` starts the fork server before it loads the stack (hippodrome_k8s/cli/prestart.py), through the
command the user runs (`python -m hippodrome_k8s.cli`, what the `hippodrome` script calls): the supervisor takes
that server over when it fits, replaces it when it does not, and a run that stops early leaves none behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from hd_testing import free_ports, stack_doc, svc
from hippodrome_k8s.cli.prestart import early_root

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server runs on Linux only")


def hippodrome(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HIPPODROME_FORK_SERVER", "PYTHONNODEBUGRANGES")}
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def fork_servers_of(root: Path) -> list[psutil.Process]:
    """Fork server processes (not their children) whose project is ``root``."""
    state = str(root / ".hippodrome" / "state")
    found = []
    for p in psutil.process_iter(["cmdline", "pid"]):
        try:
            if "hippodrome_k8s.local.forkserver" not in " ".join(p.info["cmdline"] or []):
                continue
            if p.environ().get("HIPPODROME_STATE_DIR") != state or p.status() == psutil.STATUS_ZOMBIE:
                continue
            parent = p.parent()
            if parent is not None and "hippodrome_k8s.local.forkserver" in " ".join(parent.cmdline()):
                continue  # a forked service
            found.append(p)
        except psutil.Error:
            continue
    return found


def up_detached(root: Path, dash: int) -> tuple[int, psutil.Process, int]:
    """`hippodrome up --detach`, then (the pid of service "api", the fork server it was forked from, the supervisor's pid)."""
    up = hippodrome("up", "--detach", cwd=root)
    assert up.returncode == 0, up.stdout + up.stderr
    pid = requests.get(f"http://127.0.0.1:{dash}/api/status", timeout=5).json()["api"]["pid"]
    server = psutil.Process(pid).parent()
    assert "hippodrome_k8s.local.forkserver" in " ".join(server.cmdline())
    supervisor = int(requests.get(f"http://127.0.0.1:{dash}/api/stack", timeout=5).json()["pid"])
    return pid, server, supervisor


def umask(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError(f"no Umask in /proc/{pid}/status")


def none_left(root: Path, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while fork_servers_of(root):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("argv, expected", [
    (["up"], "cwd"),
    (["up", "--detach", "--profile", "full"], "cwd"),
    (["up", "--project-root", "sub"], "sub"),
    (["up", "--project-root=sub", "--detach"], "sub"),
    (["up", "--project-root", "missing"], None),  # the CLI says what is wrong
    (["up", "--project-root"], None),
    (["up", "--help"], None),
    (["up", "-h"], None),
    (["status"], None),
    (["k8s", "up"], None),
    ([], None),
])
def test_only_a_start_of_the_local_stack_starts_the_server_early(tmp_path, argv, expected):
    (tmp_path / "sub").mkdir()
    (tmp_path / "hippodrome.yaml").write_text("")
    want = {"cwd": tmp_path.resolve(), "sub": (tmp_path / "sub").resolve(), None: None}[expected]
    assert early_root(argv, tmp_path) == want


def test_the_early_server_is_the_one_the_detached_supervisor_forks_from(project):
    dash, api = free_ports(2)
    root = project(stack_doc([{"name": "api", "port": api, "layer": 0, "run": {"command": svc()}}], dash))
    try:
        pid, server, supervisor = up_detached(root, dash)
        assert server.ppid() != supervisor, "the server was started by the supervisor, not by the CLI before it"
        assert [p.pid for p in fork_servers_of(root)] == [server.pid]
        # the CLI made the run's umask private after it started the server: a service has the run's, as spawned
        assert umask(pid) == 0o077 and umask(supervisor) == 0o077
    finally:
        down = hippodrome("control", "shutdown", cwd=root, timeout=60)
    assert down.returncode == 0, down.stderr
    assert none_left(root), "the fork server outlived its stack"


def test_a_server_that_does_not_fit_the_stack_is_replaced(project):
    # every service sets PYTHONNODEBUGRANGES (read when the interpreter starts): the server must be started with
    # it, and the early one was not
    dash, api = free_ports(2)
    doc = stack_doc([{"name": "api", "port": api, "layer": 0, "env": {"PYTHONNODEBUGRANGES": "1"},
                      "run": {"command": svc()}}], dash)
    root = project(doc)
    try:
        _, server, supervisor = up_detached(root, dash)
        assert server.environ().get("PYTHONNODEBUGRANGES") == "1"
        assert server.ppid() == supervisor
        assert [p.pid for p in fork_servers_of(root)] == [server.pid], "the early server was not ended"
    finally:
        hippodrome("control", "shutdown", cwd=root, timeout=60)
    assert none_left(root)


@pytest.mark.parametrize("case", ["invalid stack file", "port taken", "help"])
def test_a_start_that_stops_before_the_supervisor_leaves_no_server(project, case):
    dash, api = free_ports(2)
    doc = stack_doc([{"name": "api", "port": api, "layer": 0, "run": {"command": svc()}}], dash)
    if case == "invalid stack file":
        doc["spec"]["services"][0]["layer"] = "zero"
    root = project(doc)
    args = ["up", "--help"] if case == "help" else ["up", "--detach"]
    with socket.socket() as holder:
        if case == "port taken":
            holder.bind(("127.0.0.1", api))
            holder.listen()
        done = hippodrome(*args, cwd=root)
    assert done.returncode == {"help": 0, "port taken": 1}.get(case, 2), done.stdout + done.stderr
    assert fork_servers_of(root) == [], "a fork server was left running by a start that never happened"
