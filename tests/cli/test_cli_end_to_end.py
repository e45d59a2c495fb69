"""The CLI end to end on a fixture stack: real moto, tiny HTTP services, real processes and ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from hd_testing import READINESS_SCRIPT, free_ports, stack_doc, svc



def hippodrome(*args: str, cwd: Path, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture
def fixture_stack(project):
    dash, moto, api, worker = free_ports(4)
    doc = stack_doc([
        {"name": "moto", "port": moto, "layer": 0, "env": {"HIPPODROME_AWS_RESOURCES": "${aws.resources}"},
         "run": {"command": [sys.executable, "-m", "fakes.fake_aws"]}},
        {"name": "api", "port": api, "layer": 1, "env": {"AWS": "${services.moto.url}"},
         "run": {"command": svc("--delay", "0.3", "--spawn-child")}},
        {"name": "worker", "port": worker, "layer": 2, "run": {"command": svc(), "stopTimeoutSeconds": 2}},
    ], dash, aws={"tables": [{"name": "accounts", "hashKey": {"name": "id"}, "items": [{"id": "a1"}]}],
                  "queues": [{"name": "ingest"}]})
    root = project(doc)
    yield root, {"dashboard": dash, "moto": moto, "api": api, "worker": worker}
    hippodrome("control", "shutdown", cwd=root, timeout=60)  # in case a test failed half-way


def test_up_detach_status_control_logs_shutdown(fixture_stack):
    root, ports = fixture_stack
    up = hippodrome("up", "--detach", cwd=root, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "All 3 services running" in up.stdout

    raw = requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/status", timeout=5).text
    check = subprocess.run([sys.executable, "-c", READINESS_SCRIPT], input=raw, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert "All services ready." in check.stdout

    status = json.loads(raw)
    for name, info in status.items():
        assert {"status", "layer", "port", "url", "ready", "restarts", "pid", "since", "message"} <= set(info)
    assert status["moto"]["layer"] == 0 and status["worker"]["layer"] == 2

    table = hippodrome("status", cwd=root)
    assert table.returncode == 0
    assert "LAYER" in table.stdout and "worker" in table.stdout and "running" in table.stdout

    child = requests.get(f"http://127.0.0.1:{ports['api']}/pid", timeout=5).json()["child"]
    old_pid = status["api"]["pid"]
    restart = hippodrome("control", "restart", "api", cwd=root)
    assert restart.returncode == 0, restart.stderr
    after = requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/status", timeout=5).json()["api"]
    assert after["pid"] != old_pid and after["restarts"] == 1
    assert not _alive(child)

    logs = hippodrome("logs", "api", "-n", "5", cwd=root)
    assert logs.returncode == 0 and "svc listening" in logs.stdout
    moto_log = hippodrome("logs", "moto", "-n", "50", cwd=root)
    assert "bootstrap created 2 resources" in moto_log.stdout
    missing = hippodrome("logs", "nope", cwd=root)
    assert missing.returncode == 2 and "available: " in missing.stderr

    env = hippodrome("env", cwd=root)
    lines = dict(line.split("=", 1) for line in env.stdout.splitlines())
    assert lines["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{ports['moto']}"
    assert lines["ACCOUNTS_TABLE"] == "t-accounts" and lines["HIPPODROME_RANDOM_SEED"] == "42"

    pids = [info["pid"] for info in requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/status", timeout=5).json().values()]
    supervisor = json.loads((root / ".hippodrome" / "run.json").read_text())["pid"]
    down = hippodrome("control", "shutdown", cwd=root, timeout=120)
    assert down.returncode == 0, down.stderr
    assert not _alive(supervisor)
    assert not any(_alive(p) for p in pids)
    assert all(port_free(p) for p in ports.values())
    assert not (root / ".hippodrome" / "run.json").exists()
    stopped = hippodrome("status", cwd=root)
    assert stopped.returncode == 1 and "no Hippodrome stack is running" in stopped.stderr
    log = (root / ".hippodrome" / "logs" / "latest" / "hippodrome.log").read_text()
    order = log[log.index("shutting down in reverse layer order"):]
    assert order.index("worker: running -> stopping") < order.index("api: running -> stopping") < order.index("moto: running -> stopping")


def test_no_orphans_when_the_supervisor_is_killed_with_sigkill(fixture_stack):
    root, ports = fixture_stack
    up = hippodrome("up", "--detach", cwd=root, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    status = requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/status", timeout=5).json()
    pids = [info["pid"] for info in status.values()]
    pids.append(requests.get(f"http://127.0.0.1:{ports['api']}/pid", timeout=5).json()["child"])
    supervisor = json.loads((root / ".hippodrome" / "run.json").read_text())["pid"]
    if sys.platform.startswith("linux"):  # the services were forked by the fork server (the CLI started it): it must go too
        server = psutil.Process(status["worker"]["pid"]).parent()
        assert "hippodrome_k8s.local.forkserver" in " ".join(server.cmdline())
        assert server.environ()["HIPPODROME_STATE_DIR"] == str(root / ".hippodrome" / "state")
        assert psutil.Process(status["api"]["pid"]).ppid() == server.pid
        pids.append(server.pid)

    os.kill(supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), [p for p in pids if _alive(p)]
    assert all(port_free(p) for p in ports.values())
    again = hippodrome("status", cwd=root)
    assert again.returncode == 1 and "is not running" in again.stderr


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_taken_port_is_named_with_its_holder_and_nothing_starts(fixture_stack):
    root, ports = fixture_stack
    holder = socket.socket()
    holder.bind(("127.0.0.1", ports["api"]))
    holder.listen()
    try:
        up = hippodrome("up", cwd=root, timeout=60)
    finally:
        holder.close()
    assert up.returncode == 1
    assert f"port {ports['api']} is held by pid {os.getpid()}" in up.stderr
    assert "needed by service 'api'" in up.stderr
    assert not (root / ".hippodrome" / "logs").exists()


def test_invalid_stack_file_exits_2_and_starts_nothing(project):
    root = project("apiVersion: hippodrome.dev/v1alpha1\nkind: HippodromeStack\nmetadata: {name: x}\nspec:\n  services:\n"
                   "    - {name: a, port: 8080, layer: 0, run: {command: [x]}}\n")
    for args in (["validate"], ["up"], ["up", "--detach"]):
        result = hippodrome(*args, cwd=root)
        assert result.returncode == 2, args
        assert "hippodrome.yaml:6: spec.services[0].port: port 8080 is outside 9000-9019" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (root / ".hippodrome").exists()


def test_missing_stack_file_and_bad_flags_exit_2(tmp_path):
    missing = hippodrome("validate", cwd=tmp_path)
    assert missing.returncode == 2 and "file not found" in missing.stderr
    bad_profile = hippodrome("up", "--profile", "huge", cwd=tmp_path)
    assert bad_profile.returncode == 2 and "'huge' is not one of 'core', 'ecom', 'full'" in bad_profile.stderr


def test_cell_prod_needs_explicit_confirmation(fixture_stack):
    root, _ = fixture_stack
    import yaml

    doc = yaml.safe_load((root / "hippodrome.yaml").read_text())
    doc["spec"]["cells"] = {"prod": {"url": "https://cell.example.com"}}
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc))
    refused = hippodrome("up", "--cell", "prod", cwd=root)
    assert refused.returncode == 2 and "--i-understand-this-is-prod" in refused.stderr
    assert not (root / ".hippodrome").exists()
    env = hippodrome("env", "--offline", "--cell", "prod", cwd=root)
    assert "CELL_URL=https://cell.example.com" in env.stdout and "PRODUCTION" in env.stderr


def test_schema_and_help():
    schema = hippodrome("schema", cwd=Path.cwd())
    assert json.loads(schema.stdout)["title"] == "HippodromeStack"
    for command in ("up", "status", "control", "logs", "env", "validate", "schema"):
        helped = hippodrome(command, "--help", cwd=Path.cwd())
        assert helped.returncode == 0 and "Usage: hippodrome " + command in helped.stdout
