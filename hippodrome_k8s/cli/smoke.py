"""The smoke suite: light, read-only checks of every running service and of the seeded data.

Safe beside other work (it only reads), quick (checks run concurrently with
short timeouts; the seed's budget is 10 s, we aim under 3 s), and specific:
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


def build_checks(env: Mapping[str, str], status: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """The checks for what is running: env is `hippodrome env`, status is /api/status."""
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

    if "moto" in status:
        aws = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"))
        config = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1})
        dynamodb = aws.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"], config=config)
        tables = sorted(v for k, v in env.items() if k.endswith("_TABLE") and k != "TABLE_PREFIX")

        def tables_exist() -> str:
            existing = set(dynamodb.list_tables(Limit=100).get("TableNames", []))
            missing = [t for t in tables if t not in existing]
            if missing:
                raise SmokeFailure("missing DynamoDB tables: " + ", ".join(missing))
            return f"{len(tables)} tables"

        checks.append(Check("moto: declared DynamoDB tables exist", tables_exist))
        accounts_table = env.get("ACCOUNTS_TABLE")
        seeded = {k[len("SEED_ACCOUNT_"):-len("_ID")]: v for k, v in env.items()
                  if k.startswith("SEED_ACCOUNT_") and k.endswith("_ID") and "_SYSTEM_ACCOUNT_" not in k}
        if accounts_table and seeded:
            def accounts_seeded() -> str:
                missing = []
                for label, account_id in seeded.items():
                    item = dynamodb.get_item(TableName=accounts_table, Key={"account_id": {"S": account_id}}).get("Item")
                    if not item:
                        missing.append(f"{label.lower()} ({account_id})")
                if missing:
                    raise SmokeFailure("seeded accounts missing from " + accounts_table + ": " + ", ".join(missing))
                return f"{len(seeded)} accounts"

            checks.append(Check("seed: accounts in DynamoDB", accounts_seeded))

    if "fake_cognito" in status and env.get("COGNITO_JWKS_URL"):
        def jwks() -> str:
            keys = _expect(_get(env["COGNITO_JWKS_URL"])).get("keys", [])
            if not keys:
                raise SmokeFailure("JWKS has no keys")
            issuer = env["COGNITO_JWKS_URL"].rsplit("/.well-known/", 1)[0] + "/.well-known/openid-configuration"
            config = _expect(_get(issuer))
            if config.get("issuer") != env.get("COGNITO_ISSUER"):
                raise SmokeFailure(f"issuer {config.get('issuer')!r} != COGNITO_ISSUER {env.get('COGNITO_ISSUER')!r}")
            return f"{len(keys)} signing key(s), issuer ok"

        checks.append(Check("fake_cognito: JWKS and issuer of the seeded pool", jwks))

    cell_key = env.get("CELL_API_KEY")
    if "fake_cell" in status:
        cell = status["fake_cell"]["url"]

        def cell_version() -> str:
            headers = {"x-api-key": cell_key} if cell_key else {}
            return "version " + str(_expect(_get(cell + "/", headers=headers)).get("version"))

        checks.append(Check("fake_cell: GET / has a version", cell_version))
        if cell_key:
            def cell_key_works() -> str:
                indexes = _expect(_get(cell + "/indexes", headers={"x-api-key": cell_key})).get("results", [])
                return f"seeded key accepted; {len(indexes)} indexes"

            checks.append(Check("seed: API key registered in fake_cell", cell_key_works))

    demo_key = env.get("SEED_ACCOUNT_DEMO_API_KEY_DEFAULT")
    if "controller" in status and demo_key:
        controller = status["controller"]["url"]
        checks.append(Check("controller: lists indexes with the seeded API key", lambda: "%d indexes" % len(
            _expect(_get(controller + "/api/v2/indexes", headers={"x-api-key": demo_key})).get("results", []))))
    if "search_proxy" in status:
        proxy = status["search_proxy"]["url"]
        checks.append(Check("search_proxy: GET / answers like Marqo", lambda: "version " + str(_expect(_get(proxy + "/")).get("version"))))
    return checks


def run_checks(checks: list[Check], workers: int = 8) -> list[Result]:
    def one(check: Check) -> Result:
        started = time.perf_counter()
        try:
            detail = check.run()
            return Result(check.name, True, detail, time.perf_counter() - started)
        except SmokeFailure as e:
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
