"""Profiles and cells: core, ecom and full each come up with exactly their services; --cell staging runs no fake_cell.

Each case runs the reference stack file in a temporary project root with every port moved out of
9000-9019 (so it can run beside the shared e2e stack); `examples/` is linked in, the rest is as-is.
The "staging cell" is a real fake_cell process started by the test, standing in for a deployed cell.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from e2e_support import REPO, hippodrome

from hd_testing import free_ports

EXPECTED = {
    "core": {"moto", "fake_cognito", "fake_cell", "controller", "console"},
    "ecom": {"moto", "fake_cognito", "fake_cell", "controller", "console", "search_proxy", "global_worker",
             "admin_server", "ecom_indexer", "exporters"},
    "full": {"moto", "fake_cognito", "fake_cell", "controller", "console", "search_proxy", "global_worker",
             "admin_server", "ecom_indexer", "exporters", "admin_worker"},
}


def shifted_project(tmp_path: Path, staging_url: str | None = None) -> tuple[Path, int]:
    doc = yaml.safe_load((REPO / "hippodrome.yaml").read_text())
    services = doc["spec"]["services"]
    ports = free_ports(len(services) + 1)
    doc["spec"]["dashboard"] = {"port": ports[0], "allowPortOutsideRange": True}
    for service, port in zip(services, ports[1:]):
        service["port"] = port
        service["allowPortOutsideRange"] = True
    if staging_url:
        doc["spec"]["cells"]["staging"] = {"url": staging_url}
    (tmp_path / "hippodrome.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (tmp_path / "examples").symlink_to(REPO / "examples")
    return tmp_path, ports[0]


def up_and_read(root: Path, dashboard: int, *flags: str) -> dict:
    up = hippodrome("up", "--detach", *flags, cwd=root, env={"HIPPODROME_RANDOM_SEED": "7"})
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        return requests.get(f"http://127.0.0.1:{dashboard}/api/status", timeout=5).json()
    finally:
        down = hippodrome("control", "shutdown", cwd=root)
        assert down.returncode == 0 or "no Hippodrome stack is running" in down.stderr, down.stderr


@pytest.mark.parametrize("profile", ["core", "ecom", "full"])
def test_profile_runs_exactly_its_services(tmp_path, profile):
    root, dashboard = shifted_project(tmp_path)
    status = up_and_read(root, dashboard, "--profile", profile)
    assert set(status) == EXPECTED[profile]
    assert all(s["status"] == "running" for s in status.values()), status


def test_cell_staging_starts_no_fake_cell(tmp_path):
    (cell_port,) = free_ports(1)
    staging = subprocess.Popen([sys.executable, "-m", "fakes.fake_cell"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "PORT": str(cell_port),
                                                                "HIPPODROME_STATE_DIR": str(tmp_path / "staging-cell")})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{cell_port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        (tmp_path / "project").mkdir()
        root, dashboard = shifted_project(tmp_path / "project", f"http://127.0.0.1:{cell_port}")
        status = up_and_read(root, dashboard, "--profile", "core", "--cell", "staging")
        assert "fake_cell" not in status
        assert set(status) == EXPECTED["core"] - {"fake_cell"}
        env = hippodrome("env", "--offline", "--cell", "staging", cwd=root).stdout  # the stack has stopped
        assert f"CELL_URL=http://127.0.0.1:{cell_port}" in env
    finally:
        staging.terminate()
        staging.wait(10)
