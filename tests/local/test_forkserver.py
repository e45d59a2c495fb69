"""The fork server with real processes: a forked service keeps every contract of a plain spawn (its own process
group, env, cwd, argv and log; kill -9 of one touches no other; a restart runs the code on disk; exit codes and
tracebacks as the interpreter gives them), held children never talk before their layer starts, and nothing is
left behind. Its decisions (which commands it may fork) are table-tested in test_forking.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import psutil
import pytest

from hd_testing import REPO, free_ports, stack_doc, svc
from hippodrome_k8s.core.backoff import RestartPolicy
from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.core.errors import ServiceFailedError
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.resolver import ResolveOptions, resolve
from hippodrome_k8s.local.forking import ForkTarget
from hippodrome_k8s.local.forklauncher import ForkServer, ForkServerLauncher
from hippodrome_k8s.local.supervisor import Supervisor

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server runs on Linux only")

FAST = RestartPolicy(initial=0.1, factor=2, cap=1.0, reset_after=60, start_attempts=3)

# A service that serves /healthz and /value (from settings.py beside it) and says which of the project's modules
# it found loaded when it started.
SCRIPT_SERVICE = '''
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
def ours(module):
    path = getattr(module, "__file__", None) or ""
    return path.startswith(sys.argv[1]) and not path.startswith((sys.prefix, sys.base_prefix))
loaded = sorted(n for n, m in list(sys.modules.items()) if n not in ("__main__", "__mp_main__") and ours(m))
assert sys.modules.get("__mp_main__", sys.modules["__main__"]) is sys.modules["__main__"]
print("project modules at start:", json.dumps(loaded), flush=True)
import settings
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = json.dumps({"value": settings.VALUE}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def service(name, port, layer, command, **extra):
    return {"name": name, "port": port, "layer": layer, "run": {"command": command, **extra.pop("run", {})}, **extra}


def make_supervisor(tmp_path: Path, services: list[dict], dashboard_port: int) -> Supervisor:
    plan = resolve(load_stack_data(stack_doc(services, dashboard_port)),
                   ResolveOptions(project_root=str(tmp_path), state_dir=str(tmp_path / "state")))
    return Supervisor(plan, project_root=tmp_path, console=None, policy=FAST)


async def started(supervisor: Supervisor) -> ForkServerLauncher:
    """The supervisor's fork server, ready (so every forkable service is forked, not spawned while it imports)."""
    launcher = supervisor.launcher
    assert isinstance(launcher, ForkServerLauncher)
    launcher.start_watchdog()
    assert await launcher.ready()
    return launcher


async def stopped(supervisor: Supervisor) -> None:
    await supervisor.launcher.release_prepared()
    await supervisor.stop_all()
    await supervisor.prober.close()
    supervisor.launcher.stop_watchdog()
    supervisor.close_logs()


def server_pid(launcher: ForkServerLauncher) -> int:
    assert launcher._server is not None
    return launcher._server.pid


async def get_json(url: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            return await r.json()


async def test_a_forked_service_has_its_own_group_env_cwd_argv_and_log(tmp_path):
    d, a = free_ports(2)
    workdir = tmp_path / "work"
    workdir.mkdir()
    sup = make_supervisor(tmp_path, [service("talker", a, 0, svc("--say", "hello out", "--say-err", "hello err"),
                                             env={"ONLY_HERE": "yes"}, run={"cwd": str(workdir)})], d)
    launcher = await started(sup)
    try:
        await sup.start_all()
        pid = sup.store.get("talker").pid
        process = psutil.Process(pid)
        assert process.ppid() == server_pid(launcher)  # forked, not spawned
        assert os.getpgid(pid) == pid and os.getsid(pid) == pid  # the leader of its own group and session
        assert process.name() == "talker"  # what ps -o comm and top show
        seen = await get_json(f"http://127.0.0.1:{a}/pid")
        assert seen["env"] == {**os.environ, **sup.plan.service("talker").env}  # exactly its env, nothing of the server's
        assert seen["env"]["ONLY_HERE"] == "yes"
        assert seen["cwd"] == str(workdir)
        assert seen["argv"] == [svc()[1], "--say", "hello out", "--say-err", "hello err"]
    finally:
        await stopped(sup)
    log = (sup.run_dir / "talker.log").read_text()
    assert "hello out" in log and "hello err" in log


async def test_kill_9_of_one_forked_service_touches_no_other(tmp_path):
    d, a, b = free_ports(3)
    sup = make_supervisor(tmp_path, [service("victim", a, 0, svc()), service("bystander", b, 0, svc())], d)
    launcher = await started(sup)
    try:
        await sup.start_all()
        victim, bystander, server = sup.store.get("victim").pid, sup.store.get("bystander").pid, server_pid(launcher)
        os.kill(victim, signal.SIGKILL)
        snap = await asyncio.wait_for(sup.store.wait_until(
            lambda s: s["victim"].pid not in (None, victim) and s["victim"].ready), 15)
        assert snap["victim"].restarts == 1
        assert snap["bystander"].pid == bystander and snap["bystander"].restarts == 0 and snap["bystander"].ready
        assert server_pid(launcher) == server and psutil.Process(snap["victim"].pid).ppid() == server
        assert (await get_json(f"http://127.0.0.1:{b}/pid"))["pid"] == bystander
    finally:
        await stopped(sup)


async def test_a_restart_runs_the_code_on_disk_and_starts_with_no_project_module_loaded(tmp_path):
    d, a = free_ports(2)
    src = tmp_path / "src"
    src.mkdir()
    (src / "settings.py").write_text("VALUE = 1\n")
    (src / "app.py").write_text(SCRIPT_SERVICE)
    command = [sys.executable, str(src / "app.py"), str(REPO)]
    sup = make_supervisor(tmp_path, [service("reloady", a, 0, command, health={"path": "/"},
                                             run={"reload": True, "watch": [str(src)]})], d)
    launcher = await started(sup)
    try:
        await sup.start_all()
        pid = sup.store.get("reloady").pid
        assert psutil.Process(pid).ppid() == server_pid(launcher)
        assert (await get_json(f"http://127.0.0.1:{a}/"))["value"] == 1
        reload = asyncio.create_task(sup._reload(sup.runners["reloady"]))
        await asyncio.sleep(0.5)
        (src / "settings.py").write_text("VALUE = 2\n")
        snap = await asyncio.wait_for(sup.store.wait_until(lambda s: s["reloady"].pid not in (None, pid) and s["reloady"].ready), 15)
        assert psutil.Process(snap["reloady"].pid).ppid() == server_pid(launcher)  # forked again, by the same server
        assert (await get_json(f"http://127.0.0.1:{a}/"))["value"] == 2
        reload.cancel()
    finally:
        await stopped(sup)
    log = (sup.run_dir / "reloady.log").read_text()
    assert log.count("project modules at start: []") == 2, log  # neither Hippodrome's nor the service's own


async def test_exit_codes_and_tracebacks_are_the_interpreters(tmp_path):
    d, a, b = free_ports(3)
    crash = tmp_path / "crash.py"
    crash.write_text("raise RuntimeError('boom at start')\n")
    sup = make_supervisor(tmp_path, [
        service("exits", a, 0, svc("--fail-at-start", "--exit-code", "7")),
        service("raises", b, 0, [sys.executable, str(crash)]),
    ], d)
    codes: dict[str, set[int]] = {"exits": set(), "raises": set()}
    sup.store.subscribe(lambda before, after: codes[after.name].add(after.exit_code) if after.exit_code is not None else None)
    await started(sup)
    try:
        with pytest.raises(ServiceFailedError):
            await asyncio.wait_for(sup.start_all(), 30)
        assert codes == {"exits": {7}, "raises": {1}}
    finally:
        await stopped(sup)
    log = (sup.run_dir / "raises.log").read_text()
    assert "Traceback (most recent call last)" in log and "RuntimeError: boom at start" in log
    assert "forkserver" not in log  # the traceback is the script's, as the interpreter prints it
    assert "failing at start with code 7" in (sup.run_dir / "exits.log").read_text()


# Layer 1: writes when it was forked, then talks to layer 0 (a connect: the gate holds it there) and writes when.
TALKER = '''
import os, socket, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
with open(sys.argv[1], "a") as f:
    f.write(f"forked {time.time()} {os.getpid()}\\n")
socket.create_connection(("127.0.0.1", int(sys.argv[2]))).close()
with open(sys.argv[1], "a") as f:
    f.write(f"talked {time.time()}\\n")
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


# The same on uvloop's event loop, whose connect is libuv's: no audit hook sees it.
UVLOOP_TALKER = '''
import asyncio, os, sys, time
import uvloop
with open(sys.argv[1], "a") as f:
    f.write(f"forked {time.time()} {os.getpid()}\\n")
async def answer(reader, writer):
    await reader.readuntil(b"\\r\\n\\r\\n")
    writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
    await writer.drain()
    writer.close()
async def main():
    _, writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    writer.close()
    with open(sys.argv[1], "a") as f:
        f.write(f"talked {time.time()}\\n")
    server = await asyncio.start_server(answer, "127.0.0.1", int(os.environ["PORT"]))
    await server.serve_forever()
uvloop.new_event_loop().run_until_complete(main())
'''


@pytest.mark.parametrize("talker", [TALKER, UVLOOP_TALKER], ids=["socket", "uvloop"])
async def test_the_next_layers_are_forked_early_and_held_until_their_layer_starts(tmp_path, talker):
    d, a, b = free_ports(3)
    (tmp_path / "talker.py").write_text(talker)
    marks = tmp_path / "marks"
    sup = make_supervisor(tmp_path, [
        service("slow", a, 0, svc("--delay", "1.5")),
        service("upper", b, 1, [sys.executable, str(tmp_path / "talker.py"), str(marks), str(a)], health={"path": "/"}),
    ], d)
    running: dict[str, float] = {}
    sup.store.subscribe(lambda before, after: running.setdefault(after.name, time.time())
                        if after.status == ServiceState.running and after.ready else None)
    await started(sup)
    try:
        await sup.start_all()
    finally:
        await stopped(sup)
    lines = dict(line.split(" ", 1) for line in marks.read_text().splitlines())
    forked, talked = float(lines["forked"].split()[0]), float(lines["talked"])
    assert forked < running["slow"] - 0.5  # its start-up ran while layer 0 was still starting
    assert talked >= running["slow"]  # but its first connection waited for layer 0 to be healthy


# Says which of two preloaded libraries it found loaded (aiohttp is among the server's last imports), then waits.
LOADED = '''
import sys, time
print(" ".join(m for m in ("botocore.session", "aiohttp") if m in sys.modules), flush=True)
time.sleep(60)
'''


async def test_a_request_marked_first_is_forked_before_the_last_imports_and_the_others_wait_for_them(tmp_path):
    (tmp_path / "loaded.py").write_text(LOADED)
    server = ForkServer(dict(os.environ))  # both requests are sent while it imports

    def fork(name: str, first: bool):
        return server.fork(ForkTarget(argv=("loaded.py",), path="loaded.py", first=first), str(tmp_path),
                           dict(os.environ), name, lambda line: None)

    children = []
    try:
        plain = asyncio.ensure_future(fork("plain", first=False))  # sent first, forked after the last imports
        await asyncio.sleep(0)
        children.append(await fork("early", first=True))
        assert await server.ready()
        children.append(await plain)
        early_line, plain_line = [await anext(aiter(child.lines())) for child in children]
        assert early_line.split() == [b"botocore.session"]  # forked before aiohttp was imported
        assert plain_line.split() == [b"botocore.session", b"aiohttp"]
        assert server.info is not None and server.info["forked_first"] == [children[0].pid]
    finally:
        server.close()
        for child in children:
            assert await child.wait() < 0  # ended with the server (SIGTERM)
            child.close_output()


async def test_what_waits_for_the_last_imports_is_not_started_once_the_supervisor_is_gone(tmp_path):
    (tmp_path / "mark.py").write_text("open('started', 'w').close()\n")
    server = ForkServer(dict(os.environ))
    asked = asyncio.ensure_future(server.fork(ForkTarget(argv=("mark.py",), path="mark.py"), str(tmp_path),
                                              dict(os.environ), "mark", lambda line: None))
    await asyncio.sleep(0.05)  # sent; the server is still importing, so it keeps the request
    assert not server.is_ready()
    server.close(30.0)  # the supervisor's end closes before the server is ready
    with pytest.raises(OSError, match="the fork server exited"):
        await asked
    assert server.started.process.returncode == 0
    assert not (tmp_path / "started").exists()


async def test_the_launcher_sends_moto_at_once_and_the_server_forks_it_first(tmp_path):
    launcher = ForkServerLauncher(note=lambda line: None)
    launcher.start_watchdog()
    try:
        # Sent while the server imports (no wait for it to be ready): forked between its last imports. Without
        # the variables of a stack, moto's entry point stops at once (exit 2); the fork is what is checked here.
        child = await launcher.spawn([sys.executable, "-m", "fakes.fake_aws"], str(REPO),
                                     {"HIPPODROME_STATE_DIR": str(tmp_path)})
        assert await launcher.ready()
        assert launcher._server is not None and launcher._server.info is not None
        assert launcher._server.info["forked_first"] == [child.pid]
        await launcher.terminate(child, 5.0)
    finally:
        launcher.stop_watchdog()


async def test_held_children_of_a_start_that_failed_are_ended(tmp_path):
    d, a, b = free_ports(3)
    (tmp_path / "talker.py").write_text(TALKER)
    marks = tmp_path / "marks"
    sup = make_supervisor(tmp_path, [
        service("broken", a, 0, svc("--fail-at-start")),
        service("upper", b, 1, [sys.executable, str(tmp_path / "talker.py"), str(marks), str(a)], health={"path": "/"}),
    ], d)
    await started(sup)
    try:
        with pytest.raises(ServiceFailedError):
            await asyncio.wait_for(sup.start_all(), 30)
        held = int(marks.read_text().split()[2])  # it was forked, and held
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(held):
            await asyncio.sleep(0.05)
        assert not _alive(held)
        assert "talked" not in marks.read_text()  # ended at its gate: it never talked
        assert sup.store.get("upper").status == ServiceState.pending
    finally:
        await stopped(sup)


async def test_many_services_forked_early_at_once_all_start(tmp_path):
    # Forty held forks asked for at once, each request carrying a large environment: the server's socket fills up
    # and the requests wait their turn to be sent (one waiter used to replace another's, which then never started).
    ports = free_ports(42)
    padding = {"PADDING": "x" * 48_000}
    upper = [service(f"upper{i}", port, 1 + i % 3, svc(), env=padding) for i, port in enumerate(ports[2:])]
    sup = make_supervisor(tmp_path, [service("slow", ports[1], 0, svc("--delay", "1.0")), *upper], ports[0])
    launcher = await started(sup)
    try:
        await asyncio.wait_for(sup.start_all(), 90)
        assert all(sup.store.get(s["name"]).ready for s in upper)
        assert {psutil.Process(sup.store.get(s["name"]).pid).ppid() for s in upper} == {server_pid(launcher)}
    finally:
        await stopped(sup)


async def test_a_killed_fork_server_is_replaced_and_its_services_come_back(tmp_path):
    d, a = free_ports(2)
    sup = make_supervisor(tmp_path, [service("orphaned", a, 0, svc())], d)
    launcher = await started(sup)
    try:
        await sup.start_all()
        pid, server = sup.store.get("orphaned").pid, server_pid(launcher)
        os.kill(server, signal.SIGKILL)
        snap = await asyncio.wait_for(sup.store.wait_until(
            lambda s: s["orphaned"].pid not in (None, pid) and s["orphaned"].ready), 20)
        assert not _alive(pid)  # nobody could reap it any more: it was ended, and started again
        assert snap["orphaned"].restarts == 1
        assert launcher._server is not None and launcher._server.pid != server
    finally:
        await stopped(sup)


async def test_what_the_server_cannot_run_is_spawned_plainly(tmp_path):
    d, a, b = free_ports(3)
    sup = make_supervisor(tmp_path, [
        service("own_path", a, 0, svc(), env={"PYTHONPATH": str(tmp_path)}),  # read when an interpreter starts
        service("unbuffered", b, 0, [sys.executable, "-u", *svc()[1:]]),  # an interpreter option
    ], d)
    await started(sup)
    try:
        await sup.start_all()
        for name in ("own_path", "unbuffered"):
            assert psutil.Process(sup.store.get(name).pid).ppid() == os.getpid()
    finally:
        await stopped(sup)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_no_fork_server_nor_forked_service_of_these_tests_is_left():
    me = os.getpid()
    left = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "hippodrome_k8s.local.forkserver" in " ".join(p.info["cmdline"] or []) and me in {a.pid for a in p.parents()}:
                left.append(p.pid)
        except psutil.Error:
            continue
    assert left == []
