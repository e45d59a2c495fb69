"""Fixtures for the example services: real subprocesses on free ephemeral ports.

The env each process gets is the one Hippodrome itself would render: the reference
``hippodrome.yaml`` is loaded, every port is moved to a free ephemeral one (never
9000-9019, where other stacks run) and the resolver renders the plan.  So these tests also
check that the services need nothing beyond the contract's env.

The fakes (moto, fake_cognito, fake_cell) start once per session; each test module starts
the example services it needs.  ``stack.start(name, **overrides)`` starts one more instance
of a service (e.g. pointed at a dead upstream) on its own port.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hd_testing import free_ports
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.resolver import Plan, ResolveOptions, resolve

ROOT = Path(__file__).resolve().parents[2]
SEED = "4242"
SECRET = "examples-test-secret"
FAKES = ("moto", "fake_cognito", "fake_cell")


def dead_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_ports(1)[0]}"


class Proc:
    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.name, self.port, self.log_path = name, port, log
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_healthy(self, timeout: float = 30.0, require_200: bool = True) -> "Proc":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status = requests.get(self.url + "/healthz", timeout=2).status_code
                if status == 200 or (not require_200 and status in (200, 503)):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=6)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Stack:
    """The reference stack's plan on free ports, and the processes started from it."""

    def __init__(self, tmp: Path) -> None:
        data = yaml.safe_load((ROOT / "hippodrome.yaml").read_text())
        data = copy.deepcopy(data)
        services = data["spec"]["services"]
        ports = free_ports(len(services) + 1)
        for service, port in zip(services, ports):
            service["port"] = port
            service["allowPortOutsideRange"] = True
        data["spec"]["dashboard"] = {"port": ports[-1], "allowPortOutsideRange": True}
        self.tmp = tmp
        self.plan: Plan = resolve(load_stack_data(data), ResolveOptions(
            seed=SEED, table_prefix="ex-", encryption_secret=SECRET, project_root=str(ROOT),
            state_dir=str(tmp / "state")))
        self.procs: list[Proc] = []
        self.running: dict[str, Proc] = {}
        self.test_env = dict(self.plan.test_env)

    def env(self, name: str, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HIPPODROME_"))}
        env.update(self.plan.service(name).env)
        env.update(overrides)
        return env

    def url(self, name: str) -> str:
        return self.plan.service(name).url

    def ensure(self, *names: str) -> None:
        """Start each named service on its planned port unless it is already running."""
        for name in names:
            proc = self.running.get(name)
            if proc is None or proc.proc.poll() is not None:
                self.running[name] = self._start(name, self.plan.service(name).port)

    def replace(self, name: str, **overrides: str) -> Proc:
        """The service on its planned port with env overrides, instead of the one running there (if any): a page
        served by it is one of the stack's own origins, which the fakes' CORS allows. ``ensure`` brings the
        ordinary one back once this one is stopped."""
        running = self.running.pop(name, None)
        if running is not None:
            running.stop()
        proc = self.running[name] = self._start(name, self.plan.service(name).port, **overrides)
        return proc

    def start_extra(self, name: str, *, healthy: bool = True, **overrides: str) -> Proc:
        """One more instance of a service on a free port, with env overrides (e.g. a dead upstream)."""
        return self._start(name, free_ports(1)[0], healthy=healthy, **overrides)

    def _start(self, name: str, port: int, *, healthy: bool = True, **overrides: str) -> Proc:
        planned = self.plan.service(name)
        env = self.env(name, PORT=str(port), **overrides)
        if name == "moto":
            # moto's Step Functions interpreter calls back into moto at localhost:$MOTO_PORT (default
            # 5000); fake_aws does not set it yet (reported to the lead), so the tests do.
            env.setdefault("MOTO_PORT", str(port))
        command = list(planned.command)
        if command[0] == "python":
            command[0] = sys.executable
        proc = Proc(name, command, Path(planned.cwd), env, port, self.tmp / f"{name}-{port}.log")
        self.procs.append(proc)
        return proc.wait_healthy(require_200=healthy)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    # --- seeded data -------------------------------------------------------------------------

    @property
    def demo_key(self) -> str:
        return self.test_env["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]

    @property
    def demo_account(self) -> str:
        return self.test_env["SEED_ACCOUNT_DEMO_ID"]

    @property
    def system_key(self) -> str:
        return self.env("controller")["CELL_API_KEY"]

    def system_headers(self, account: str | None = None) -> dict[str, str]:
        return {"x-api-key": self.system_key, "x-hippodrome-account": account or self.demo_account}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The fakes running (each seeds itself from its env, as in the stack); examples start per module."""
    s = Stack(tmp_path_factory.mktemp("examples"))
    try:
        s.ensure(*FAKES)
        yield s
    finally:
        s.stop_all()


def assert_json_error(response: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("message"), str) and body.get("code"), body
    if field is not None:
        assert field in (body.get("field") or "") or field in body["message"], body
    return body
