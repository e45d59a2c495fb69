"""The reference stack's own smoke checks, added to `hippodrome smoke` by `spec.smokeChecks` in
hippodrome.yaml: what only this stack's services and schema can say (its accounts table, its
controller's index API, its gateway). A model of what a user's stack adds; it imports nothing from
Hippodrome: each check returns a short detail and raises to fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
import requests
from botocore.config import Config

TIMEOUT = 2.0


def _json(url: str, **headers: str) -> Any:
    response = requests.get(url, headers=headers, timeout=TIMEOUT)
    if response.status_code != 200:
        raise AssertionError(f"GET {url} answered HTTP {response.status_code}: {response.text[:120]}")
    return response.json()


def checks(env: Mapping[str, str], status: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Callable[[], str]]]:
    out: list[tuple[str, Callable[[], str]]] = []
    accounts_table = env.get("ACCOUNTS_TABLE")
    seeded = {k[len("SEED_ACCOUNT_"):-len("_ID")]: v for k, v in env.items()
              if k.startswith("SEED_ACCOUNT_") and k.endswith("_ID") and "_SYSTEM_ACCOUNT_" not in k}
    if accounts_table and seeded and env.get("AWS_ENDPOINT_URL"):
        def accounts_seeded() -> str:
            dynamodb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"],
                                    region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
                                    aws_access_key_id="testing", aws_secret_access_key="testing",
                                    config=Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT,
                                                  retries={"max_attempts": 1}))
            missing = [f"{label.lower()} ({account_id})" for label, account_id in seeded.items()
                       if not dynamodb.get_item(TableName=accounts_table,
                                                Key={"account_id": {"S": account_id}}).get("Item")]
            if missing:
                raise AssertionError(f"seeded accounts missing from {accounts_table}: {', '.join(missing)}")
            return f"{len(seeded)} accounts"

        out.append(("seed: accounts in DynamoDB", accounts_seeded))
    demo_key = env.get("SEED_ACCOUNT_DEMO_API_KEY_DEFAULT")
    if "controller" in status and demo_key:
        controller = status["controller"]["url"]
        out.append(("controller: lists indexes with the seeded API key", lambda: "%d indexes" % len(
            _json(controller + "/api/v2/indexes", **{"x-api-key": demo_key}).get("results", []))))
    if "search_proxy" in status:
        proxy = status["search_proxy"]["url"]
        out.append(("search_proxy: GET / answers like Marqo", lambda: f"version {_json(proxy + '/').get('version')}"))
    return out
