"""Fixtures: fake_cognito as a real subprocess on a free loopback port.

Ports 9000-9019 are never used (developers run stacks there); every process
gets its own temporary state dir unless a test shares one on purpose.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from hd_testing import wait_healthy
from hippodrome_k8s.host.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
CONSOLE_ORIGIN = "http://127.0.0.1:9008"  # the stack's console signs in from its page: an allowed origin
POOL_ID = "us-east-1_AbCdEfGhI"
CLIENT_ID = "abcdefghij0123456789klmnop"
DECLARED = {"userPools": [{
    "name": "main", "id": POOL_ID,
    "clients": [{"name": "web", "id": CLIENT_ID}],
    "groups": [{"name": "admins", "description": "Administrators"}, {"name": "readers"}],
    "users": [{"username": "alice@example.com", "password": "Passw0rd!", "email": "alice@example.com",
               "groups": ["admins"], "attributes": {"custom:tenant": "t1"}}],
}]}




class FakeCognito:
    """One fake_cognito process; start/stop/kill keep the same port and state dir."""

    def __init__(self, state_dir: Path, seed: str | None = "42", secret: str | None = "test-secret",
                 declared: dict[str, Any] | None = DECLARED, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("HIPPODROME_") and k not in ("HOST", "PORT")}
        self.env.update({"PORT": str(self.port), "HOST": "127.0.0.1", "HIPPODROME_STATE_DIR": str(state_dir),
                         "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1",
                         "HIPPODROME_ALLOWED_ORIGINS": f"{CONSOLE_ORIGIN},http://localhost:9008",
                         "HIPPODROME_ALLOWED_HOSTS": "127.0.0.1,localhost"})
        if seed is not None:
            self.env["HIPPODROME_RANDOM_SEED"] = seed
        if secret is not None:
            self.env["HIPPODROME_ENCRYPTION_SECRET"] = secret
        if declared is not None:
            self.env["HIPPODROME_COGNITO_CONFIG"] = json.dumps(declared)
        self.pool_id, self.client_id, self.console_origin = POOL_ID, CLIENT_ID, CONSOLE_ORIGIN
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir.parent / f"fake_cognito-{self.port}.log"

    def start(self, timeout: float = 20.0) -> "FakeCognito":
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_cognito"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        problem = wait_healthy(self.url + "/healthz", self.proc, timeout)
        if problem:
            if self.proc.poll() is None:
                self.stop()
            raise RuntimeError(f"fake_cognito {problem}: {self.log.read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def client(self) -> Any:
        return boto3.client("cognito-idp", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCognito]:
    """A shared instance for tests that do not restart it."""
    server = FakeCognito(tmp_path_factory.mktemp("cognito-shared") / "state").start()
    yield server
    server.stop()


@pytest.fixture
def cognito(fake: FakeCognito) -> Any:
    return fake.client()


@pytest.fixture
def make_fake(tmp_path: Path) -> Iterator[Any]:
    """Factory for private instances (restart, kill -9, other seeds)."""
    started: list[FakeCognito] = []

    def make(**kwargs: Any) -> FakeCognito:
        kwargs.setdefault("state_dir", tmp_path / f"state{len(started)}")
        server = FakeCognito(**kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
