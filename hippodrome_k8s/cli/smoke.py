"""The smoke suite: light, read-only checks of every running service and of the seeded data.

Safe beside other work (it only reads), quick (checks run concurrently with
short timeouts; the original system's budget was 10 s, we aim under 3 s), and specific:
a failure names the check and what it saw.  ``hippodrome smoke`` runs it
against the stack of the project root; ``tests/e2e/test_smoke.py`` runs it
under pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from botocore.config import Config

from hippodrome_k8s.core.contract import ServiceState
from hippodrome_k8s.core.errors import UsageError

TIMEOUT = 2.0


class SmokeFailure(Exception):
    pass


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str]  # returns a short detail; raises on failure


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    seconds: float


def _get(url: str, **kwargs: Any) -> requests.Response:
    try:
        return requests.get(url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as e:
        raise SmokeFailure(f"GET {url}: {type(e).__name__}") from None


def _expect(response: requests.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise SmokeFailure(f"{response.request.method} {response.url} answered HTTP {response.status_code}: {response.text[:120]}")
    try:
        return response.json()
    except ValueError:
        raise SmokeFailure(f"{response.url} answered non-JSON: {response.text[:80]!r}") from None


def build_checks(env: Mapping[str, str], status: Mapping[str, Mapping[str, Any]],
                 extra: Callable[..., list[tuple[str, Callable[[], str]]]] | None = None) -> list[Check]:
    """The checks for what is running: env is `hippodrome env`, status is /api/status; ``extra`` is the
    stack's own (``spec.smokeChecks``). Hippodrome's checks find the fakes by their env, not by name."""
    checks: list[Check] = []

    def all_running() -> str:
        bad = [f"{n}={s.get('status')}" for n, s in status.items() if s.get("status") != ServiceState.running or not s.get("ready")]
        if bad:
            raise SmokeFailure("not running and ready: " + ", ".join(bad))
        return f"{len(status)} services running"

    checks.append(Check("dashboard: every service running", all_running))
    for name, info in status.items():
        url = info.get("url", "")
        checks.append(Check(f"{name}: /healthz", lambda url=url: (_expect(_get(url + "/healthz")), "200")[1]))
    checks += _aws_checks(env)
    checks += _cognito_checks(env)
    checks += _cell_checks(env)
    for name, run in (extra(env, status) if extra else []):
        checks.append(Check(name, run))
    return checks


def _aws_checks(env: Mapping[str, str]) -> list[Check]:
    tables = sorted(v for k, v in env.items() if k.endswith("_TABLE") and k != "TABLE_PREFIX")
    if not env.get("AWS_ENDPOINT_URL") or not tables:
        return []

    def tables_exist() -> str:
        dynamodb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"],
                                region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
                                aws_access_key_id="testing", aws_secret_access_key="testing",
                                config=Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1}))
        existing = set(dynamodb.list_tables(Limit=100).get("TableNames", []))
        missing = [t for t in tables if t not in existing]
        if missing:
            raise SmokeFailure("missing DynamoDB tables: " + ", ".join(missing))
        return f"{len(tables)} tables"

    return [Check("moto: declared DynamoDB tables exist", tables_exist)]


def _cognito_checks(env: Mapping[str, str]) -> list[Check]:
    if not env.get("COGNITO_JWKS_URL"):
        return []

    def jwks() -> str:
        keys = _expect(_get(env["COGNITO_JWKS_URL"])).get("keys", [])
        if not keys:
            raise SmokeFailure("JWKS has no keys")
        issuer = env["COGNITO_JWKS_URL"].rsplit("/.well-known/", 1)[0] + "/.well-known/openid-configuration"
        config = _expect(_get(issuer))
        if config.get("issuer") != env.get("COGNITO_ISSUER"):
            raise SmokeFailure(f"issuer {config.get('issuer')!r} != COGNITO_ISSUER {env.get('COGNITO_ISSUER')!r}")
        return f"{len(keys)} signing key(s), issuer ok"

    return [Check("fake_cognito: JWKS and issuer of the seeded pool", jwks)]


def _cell_checks(env: Mapping[str, str]) -> list[Check]:
    """The local fake cell answers, and every seeded API key is registered in it (fake_cell seeds itself)."""
    cell = env.get("CELL_URL")
    if not cell or env.get("HIPPODROME_CELL", "local") != "local":
        return []
    keys = {k: v for k, v in env.items() if k.startswith("SEED_ACCOUNT_") and "_API_KEY_" in k}

    def cell_version() -> str:
        headers = {"x-api-key": next(iter(keys.values()))} if keys else {}
        return "version " + str(_expect(_get(cell + "/", headers=headers)).get("version"))

    def keys_work() -> str:
        refused = [k for k, key in keys.items() if _get(cell + "/indexes", headers={"x-api-key": key}).status_code != 200]
        if refused:
            raise SmokeFailure("seeded API keys refused by the cell: " + ", ".join(refused))
        return f"{len(keys)} seeded keys accepted"

    return [Check("fake_cell: GET / has a version", cell_version)] + (
        [Check("seed: API keys registered in fake_cell", keys_work)] if keys else [])


def extra_checks(spec: str | None) -> Callable[..., list[tuple[str, Callable[[], str]]]] | None:
    """``spec.smokeChecks`` (``module:function``) imported; a UsageError names the field when it cannot be."""
    if not spec:
        return None
    import importlib

    module, _, function = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"spec.smokeChecks: cannot import {spec!r}: {e}") from None


def run_checks(checks: list[Check], workers: int = 8) -> list[Result]:
    def one(check: Check) -> Result:
        started = time.perf_counter()
        try:
            detail = check.run()
            return Result(check.name, True, detail, time.perf_counter() - started)
        except (SmokeFailure, AssertionError) as e:
            return Result(check.name, False, str(e), time.perf_counter() - started)
        except Exception as e:  # noqa: BLE001 - a smoke check reports, it does not crash
            return Result(check.name, False, f"{type(e).__name__}: {e}", time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, checks))


def format_results(results: list[Result], seconds: float) -> str:
    lines = [f" {'✓' if r.ok else '✗'} {r.name}: {r.detail} ({r.seconds * 1000:.0f} ms)" for r in results]
    failed = [r.name for r in results if not r.ok]
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed in {seconds:.2f}s"
    if failed:
        summary += "\nFAILED: " + "; ".join(failed)
    return "\n".join(lines + ["", summary])
