"""Fixtures: fake_aws (``python -m fakes.fake_aws``) as a real subprocess on a free loopback port.

Ports 9000-9019 are never used (developers run stacks there); every process gets its own
temporary state dir unless a test shares one on purpose.
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
from botocore.config import Config

from hd_testing import free_ports, wait_healthy

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
CONSOLE_ORIGIN = "http://127.0.0.1:9008"  # one of the stack's own origins, as the resolver renders them


class FakeAws:
    """One fake_aws process; start/stop/kill9 keep the same port and state dir."""

    def __init__(self, state_dir: Path, resources: dict[str, Any] | None = None, seed: str | None = "42",
                 **env: str) -> None:
        self.state_dir = state_dir
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HIPPODROME_", "FAKE_AWS_", "MOTO_")) and k not in ("HOST", "PORT")}
        self.env.update({"PORT": str(self.port), "HOST": "127.0.0.1", "HIPPODROME_STATE_DIR": str(state_dir),
                         "HIPPODROME_AWS_RESOURCES": json.dumps(resources or {"region": "us-east-1"}),
                         "PYTHONUNBUFFERED": "1", "HIPPODROME_ALLOWED_ORIGINS": CONSOLE_ORIGIN,
                         "HIPPODROME_ALLOWED_HOSTS": "127.0.0.1,localhost", **env})
        if seed is not None:
            self.env["HIPPODROME_RANDOM_SEED"] = seed
        self.console_origin = CONSOLE_ORIGIN
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir.parent / f"fake_aws-{self.port}.log"
        self._log_offset = 0

    @property
    def moto_dir(self) -> Path:
        return self.state_dir / "moto"

    def start(self, timeout: float = 60.0) -> "FakeAws":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_aws"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        problem = wait_healthy(self.url + "/healthz", self.proc, timeout)
        if problem:
            if self.proc.poll() is None:
                self.kill9()
            raise RuntimeError(f"fake_aws {problem}: {self.output()[-3000:]}")
        return self

    def output(self) -> str:
        """What this process (since its last start) printed."""
        with open(self.log, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def health(self) -> dict[str, Any]:
        import requests

        return requests.get(self.url + "/healthz", timeout=5).json()

    def stop(self) -> int:
        """SIGTERM, as the supervisor does; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def client(self, name: str) -> Any:
        return boto3.client(name, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def make_aws(tmp_path: Path) -> Iterator[Any]:
    """Factory for private fake_aws processes; every one still running at the end is stopped."""
    started: list[FakeAws] = []

    def make(**kwargs: Any) -> FakeAws:
        kwargs.setdefault("state_dir", tmp_path / f"state{len(started)}")
        server = FakeAws(**kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.proc and server.proc.poll() is None:
            server.kill9()


@pytest.fixture(scope="module")
def module_aws(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[FakeAws]:
    """One fake_aws for a whole test module, with the module's ``RESOURCES``."""
    server = FakeAws(tmp_path_factory.mktemp("aws-module") / "state", resources=getattr(request.module, "RESOURCES", None))
    server.start()
    yield server
    server.stop()
