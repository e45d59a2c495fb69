"""What a new user meets in the first ten minutes, through the real CLI on a fixture stack with the
real fakes (fake_cell and fake_cognito seed themselves) on free ports:
a second, third and fourth `up` on one state with any seed; the CLI from a subdirectory; `env`
without a stack; `reset` and `--fresh`; unknown service names; a double Ctrl-C; a port held by
another project's stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from hd_testing import free_ports, stack_doc, svc

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")}


def hippodrome(*args: str, cwd: Path, timeout: float = 180, env: dict | None = None,
               input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**CLEAN_ENV, **(env or {})}, input=input)


def seeded_doc(ports: dict[str, int]) -> dict:
    doc = stack_doc([
        {"name": "fake_cell", "port": ports["cell"], "layer": 0, "cells": ["local"],
         "env": {"FAKE_CELL_REQUIRE_API_KEY": "true", "HIPPODROME_SEED_CONFIG": "${seedData.config}"},
         "run": {"command": ["python", "-m", "fakes.fake_cell"]}},
        {"name": "fake_cognito", "port": ports["cognito"], "layer": 0,
         "env": {"HIPPODROME_COGNITO_CONFIG": "${cognito.config}"},
         "run": {"command": ["python", "-m", "fakes.fake_cognito"]}},
        {"name": "api", "port": ports["api"], "layer": 1, "env": {"CELL": "${services.fake_cell.url}"},
         "run": {"command": svc("--ignore-sigterm"), "stopTimeoutSeconds": 5}},
    ], ports["dashboard"],
        cognito={"service": "fake_cognito", "userPools": [{"name": "main", "clients": [{"name": "web"}],
                 "users": [{"username": "alice@example.com", "password": "Passw0rd!x"}]}]},
        seedData={"accounts": [{"name": "demo", "owner": "alice@example.com", "apiKeys": ["default"]}]})
    del doc["spec"]["seed"]  # the project chooses and records its seed
    return doc


@pytest.fixture
def seeded(project):
    ports = dict(zip(("dashboard", "cell", "cognito", "api"), free_ports(4)))
    root = project(seeded_doc(ports))
    yield root, ports
    hippodrome("control", "shutdown", cwd=root, timeout=60)


def env_of(root: Path) -> dict[str, str]:
    out = hippodrome("env", cwd=root)
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines())


def cell_accepts(ports, key: str) -> bool:
    r = requests.get(f"http://127.0.0.1:{ports['cell']}/indexes", headers={"x-api-key": key}, timeout=5)
    return r.status_code == 200


def pool_ids(ports) -> list[str]:
    cognito = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{ports['cognito']}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    return [p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]]


def up_ok(root: Path, **env: str) -> subprocess.CompletedProcess:
    result = hippodrome("up", "--detach", cwd=root, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def shutdown(root: Path) -> None:
    down = hippodrome("control", "shutdown", cwd=root, timeout=120)
    assert down.returncode == 0, down.stderr


def test_up_again_and_again_on_one_state_with_any_seed(seeded):
    """Regression: the second `up` failed with HTTP 409 from fake_cell, and every seed change left
    one more Cognito pool behind."""
    root, ports = seeded
    first = up_ok(root)
    recorded = (root / ".hippodrome/state/seed").read_text().strip()
    assert f"seed: {recorded} (new, recorded in .hippodrome/state/seed" in first.stderr
    key = env_of(root)["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
    assert cell_accepts(ports, key) and len(pool_ids(ports)) == 1
    shutdown(root)

    second = up_ok(root)
    assert f"seed: {recorded} (from the last run;" in second.stderr
    assert env_of(root)["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"] == key and cell_accepts(ports, key)
    shutdown(root)

    offline = hippodrome("env", "--offline", cwd=root)
    assert offline.returncode == 0, offline.stderr
    assert f"SEED_ACCOUNT_DEMO_API_KEY_DEFAULT={key}" in offline.stdout

    third = up_ok(root, HIPPODROME_RANDOM_SEED="42")
    assert f"seed: 42 (from HIPPODROME_RANDOM_SEED; the last run used {recorded}" in third.stderr
    key42 = env_of(root)["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
    assert cell_accepts(ports, key42) and not cell_accepts(ports, key)
    [pool42] = pool_ids(ports)
    shutdown(root)

    up_ok(root, HIPPODROME_RANDOM_SEED="7")
    key7 = env_of(root)["SEED_ACCOUNT_DEMO_API_KEY_DEFAULT"]
    assert cell_accepts(ports, key7) and not cell_accepts(ports, key42)
    assert pool_ids(ports) != [pool42] and len(pool_ids(ports)) == 1
    log = (root / ".hippodrome/logs/latest/fake_cognito.log").read_text()
    assert f"removed seeded pool main {pool42}" in log
    assert (root / ".hippodrome/state/seed").read_text().strip() == "7"


def test_the_cli_works_from_a_subdirectory_and_unknown_services_are_usage_errors(seeded):
    root, ports = seeded
    sub = root / "src" / "deep"
    sub.mkdir(parents=True)
    up_ok(sub)
    status = hippodrome("status", cwd=sub)
    assert status.returncode == 0 and "fake_cell" in status.stdout, status.stderr
    assert env_of(sub)["FAKE_CELL_URL"] == f"http://127.0.0.1:{ports['cell']}"
    logs = hippodrome("logs", "api", "-n", "3", cwd=sub)
    assert logs.returncode == 0 and "svc listening" in logs.stdout
    restart = hippodrome("control", "restart", "nosuchservice", cwd=sub)
    assert restart.returncode == 2
    assert "no service named 'nosuchservice' in the running stack (available: fake_cell, fake_cognito, api)" in restart.stderr
    assert hippodrome("logs", "nosuchservice", cwd=sub).returncode == 2
    hippodrome_log = (root / ".hippodrome/logs/latest/hippodrome.log").read_text().splitlines()
    assert hippodrome_log and all(line[:4].isdigit() and line[10] == " " for line in hippodrome_log), hippodrome_log[:3]


def test_env_without_a_stack_exits_1_and_offline_needs_a_seed(seeded):
    """Regression: `hippodrome env` with nothing running printed a new random API key on every call."""
    root, _ = seeded
    result = hippodrome("env", cwd=root)
    assert result.returncode == 1 and result.stdout == ""
    assert "no Hippodrome stack is running" in result.stderr and "--offline" in result.stderr
    offline = hippodrome("env", "--offline", cwd=root)
    assert offline.returncode == 1 and "no seed is recorded" in offline.stderr
    seeded_42 = hippodrome("env", "--offline", cwd=root, env={"HIPPODROME_RANDOM_SEED": "42"})
    assert seeded_42.returncode == 0 and "HIPPODROME_RANDOM_SEED=42" in seeded_42.stdout
    assert not (root / ".hippodrome").exists()  # reading changes nothing


def test_reset_and_fresh(seeded):
    root, ports = seeded
    up_ok(root)
    refused = hippodrome("reset", "--yes", cwd=root)
    assert refused.returncode == 1 and "a stack is already running" in refused.stderr
    shutdown(root)
    old_seed = (root / ".hippodrome/state/seed").read_text().strip()

    unconfirmed = hippodrome("reset", cwd=root, input="")
    assert unconfirmed.returncode == 2 and "add --yes" in unconfirmed.stderr
    assert "fake_cell.sqlite3" in unconfirmed.stdout and "seed" in unconfirmed.stdout  # it said what would go
    assert (root / ".hippodrome/state/seed").exists()

    done = hippodrome("reset", "--yes", cwd=root)
    assert done.returncode == 0 and "removed" in done.stdout, done.stderr
    assert not (root / ".hippodrome/state").exists() and (root / ".hippodrome/logs").exists()

    up_ok(root)
    shutdown(root)
    fresh = hippodrome("up", "--detach", "--fresh", "--yes", cwd=root)
    assert fresh.returncode == 0, fresh.stderr
    assert "This removes" in fresh.stdout and "(new, recorded" in fresh.stderr
    assert (root / ".hippodrome/state/seed").read_text().strip() not in ("", old_seed)


def test_a_second_interrupt_kills_everything_and_exits_130(seeded):
    """Regression: a double Ctrl-C printed nine 'restarting in 0.5s' lines and exited 0."""
    root, ports = seeded
    proc = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli", "up"], cwd=root, env=CLEAN_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/stack", timeout=1).json()["phase"] == "running":
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pids = [s["pid"] for s in requests.get(f"http://127.0.0.1:{ports['dashboard']}/api/status", timeout=5).json().values()]
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the api ignores SIGTERM: the stop is still waiting on it
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out[-2000:], err[-2000:])
    assert "killed: a second interrupt sent SIGKILL to every service" in err
    after = out[out.index("interrupted: shutting down"):]
    assert "restarting in" not in after, after
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_port_held_by_another_projects_stack_names_that_project(seeded, tmp_path):
    root, ports = seeded
    up_ok(root)
    other = tmp_path / "other-project"
    other.mkdir()
    (other / "hippodrome.yaml").write_text((root / "hippodrome.yaml").read_text())
    clash = hippodrome("up", cwd=other)
    assert clash.returncode == 1
    assert f"part of the Hippodrome stack of {root} (stop it with `hippodrome control shutdown --project-root {root}`)" \
        in clash.stderr, clash.stderr
    assert not (other / ".hippodrome").exists()
