"""Fixtures for fake_cell: the fake runs as a real subprocess on a free ephemeral port.

Ports 9000-9019 are never used (other stacks run there); each server gets its own temporary
state directory, and every process started here is stopped at teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from hd_testing import wait_healthy
from hippodrome_k8s.host.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
ADMIN_SECRET = "test-secret-0123456789"



class CellProcess:
    def __init__(self, state_dir: Path, log_path: Path, **env: str) -> None:
        self.state_dir = state_dir
        self.log_path = log_path
        self.port = free_port()
        self.env = {**os.environ, "HOST": "127.0.0.1", "HIPPODROME_STATE_DIR": str(state_dir),
                    "HIPPODROME_ENCRYPTION_SECRET": ADMIN_SECRET, **env}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return self.env["HIPPODROME_ENCRYPTION_SECRET"]

    def start(self, timeout: float = 20.0) -> "CellProcess":
        self.env["PORT"] = str(self.port)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_cell"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        problem = wait_healthy(self.url + "/healthz", self.proc, timeout)
        if problem:
            raise RuntimeError(f"fake_cell {problem}:\n{self.log()}")
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> "CellProcess":
        self.stop()
        return self.start()

    def admin(self, method: str, path: str = "", **kwargs) -> requests.Response:
        headers = {"x-hippodrome-admin-secret": self.secret, **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/_hippodrome/api-keys{path}", headers=headers,
                                timeout=10, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def cell_factory(tmp_path: Path) -> Iterator[Callable[..., CellProcess]]:
    started: list[CellProcess] = []

    def make(state_dir: Path | None = None, **env: str) -> CellProcess:
        cell = CellProcess(state_dir or tmp_path / f"state{len(started)}",
                           tmp_path / f"cell{len(started)}.log", **env)
        started.append(cell)
        return cell.start()

    yield make
    for cell in started:
        cell.stop()


@pytest.fixture(scope="module")
def cell(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CellProcess]:
    """One server shared by a module's tests (each test uses its own index names), started with
    the module's `CELL_ENV` (a dict of env variables), if it has one."""
    base = tmp_path_factory.mktemp("cell")
    proc = CellProcess(base / "state", base / "cell.log", **getattr(request.module, "CELL_ENV", {})).start()
    yield proc
    proc.stop()
