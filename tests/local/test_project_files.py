"""What a run leaves under .hippodrome/, end to end (`hippodrome up --detach` on free ports, real fake_aws):
only its user may read it, it holds the project's own encryption secret, and `logs` reads only service logs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hd_testing import free_ports, stack_doc, svc


def hippodrome(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HIPPODROME_ENCRYPTION_SECRET"}
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A project from before issue 14 (a 0755 .hippodrome, a 0644 log), then one run of the new version."""
    import yaml

    root = tmp_path_factory.mktemp("project")
    dash, moto, api = free_ports(3)
    doc = stack_doc([
        {"name": "moto", "port": moto, "layer": 0, "env": {"HIPPODROME_AWS_RESOURCES": "${aws.resources}"},
         "run": {"command": [sys.executable, "-m", "fakes.fake_aws"]}},
        {"name": "api", "port": api, "layer": 1, "run": {"command": svc()}},
    ], dash, aws={"tables": [{"name": "accounts", "hashKey": {"name": "id"}, "items": [{"id": "a1"}]}]})
    (root / "hippodrome.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    old_logs = root / ".hippodrome" / "logs" / "20250101-000000"
    old_logs.mkdir(parents=True)
    (old_logs / "api.log").write_text("an old run\n")
    for path, mode in ((root / ".hippodrome", 0o755), (old_logs, 0o755), (old_logs / "api.log", 0o644)):
        path.chmod(mode)
    up = hippodrome("up", "--detach", cwd=root)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield root, up
    finally:
        hippodrome("control", "shutdown", cwd=root, timeout=90)


def test_hippodrome_dir_is_0700_and_every_file_0600(ran):
    root, _ = ran
    top = root / ".hippodrome"
    found = {"dirs": 0, "files": 0}
    for directory, _, files in os.walk(top):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
        found["dirs"] += 1
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path  # nobody but the user
                assert stat.S_IMODE(path.stat().st_mode) & 0o600 == 0o600, path
                found["files"] += 1
    state = top / "state"
    assert (state / "moto").is_dir() and any((state / "moto").iterdir()), "moto wrote its state (under the umask)"
    assert {"run.json", "supervisor.log"} <= {p.name for p in top.iterdir()}
    assert found["files"] >= 8, found


def test_the_project_has_its_own_encryption_secret(ran):
    root, up = ran
    secret = (root / ".hippodrome" / "state" / "encryption-secret").read_text().strip()
    assert len(secret) >= 32 and secret != "1234567890ABCDEF"
    assert "encryption secret: generated for this project" in up.stderr
    run = json.loads((root / ".hippodrome" / "run.json").read_text())
    assert "HIPPODROME_ENCRYPTION_SECRET" not in run["testEnv"]  # `hippodrome env > .env.e2e` does not spread it
    env = hippodrome("env", cwd=root)
    assert env.returncode == 0 and secret not in env.stdout


@pytest.mark.parametrize("name", ["../../../../tmp/x", "../run", "api/../../run", "/etc/passwd", "API", "api.log"])
def test_logs_refuses_names_that_are_not_services(ran, name):
    root, _ = ran
    refused = hippodrome("logs", name, cwd=root)
    assert refused.returncode == 2 and "not a service of the latest run" in refused.stderr
    assert refused.stdout == ""


def test_logs_reads_a_service(ran):
    root, _ = ran
    shown = hippodrome("logs", "moto", "-n", "5", cwd=root)
    assert shown.returncode == 0 and shown.stdout
