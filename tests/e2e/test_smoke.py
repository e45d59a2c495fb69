"""The smoke suite as a pytest target: every running service and the seeded data, read-only and quick."""

from __future__ import annotations

import time

import requests

from examples.smoke import checks as reference_checks
from hippodrome_k8s.cli.smoke import build_checks, format_results, run_checks


def test_smoke_suite_passes_quickly(stack):
    started = time.perf_counter()
    status = requests.get("http://127.0.0.1:9000/api/status", timeout=5).json()
    results = run_checks(build_checks(stack["env"], status, reference_checks))
    elapsed = time.perf_counter() - started
    report = format_results(results, elapsed)
    assert all(r.ok for r in results), report
    assert elapsed < 10, report  # the original system's budget
    names = {r.name for r in results}
    assert {"seed: accounts in DynamoDB", "seed: API keys registered in fake_cell",
            "fake_cognito: JWKS and issuer of the seeded pool"} <= names


def test_smoke_names_what_failed(stack):
    status = requests.get("http://127.0.0.1:9000/api/status", timeout=5).json()
    broken_env = dict(stack["env"], ACCOUNTS_TABLE="no-such-table", JOBS_TABLE="missing-jobs")
    results = run_checks(build_checks(broken_env, status, reference_checks))
    failed = {r.name: r.detail for r in results if not r.ok}
    assert "moto: declared DynamoDB tables exist" in failed
    assert "missing-jobs" in failed["moto: declared DynamoDB tables exist"]
    assert "seed: accounts in DynamoDB" in failed  # the stack's own check (examples/smoke.py) reports too


def test_smoke_cli_exit_code(stack):
    from e2e_support import hippodrome

    result = hippodrome("smoke")
    assert result.returncode == 0, result.stdout
    assert "0 failed" in result.stdout
