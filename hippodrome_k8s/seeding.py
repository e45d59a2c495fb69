"""Seeding between layer 0 and layer 1: what the fakes cannot derive from their own env.

Most seed data needs no step of its own: DynamoDB items are declared in the
stack and created by fake_aws's bootstrap; Cognito pools, clients and users are
created by fake_cognito from ``${cognito.config}``; ids and keys derive from
the seed (``ids.py``).  What remains is registering the seeded API keys in the
fake cell, through its admin API, once it is healthy and before any layer-1
service asks it for anything.  Idempotent: a key that is already there is
success.  A failure names the account and key.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from .errors import BootstrapError
from .resolver import Plan

ADMIN_HEADER = "x-hippodrome-admin-secret"


def register_cell_api_keys(plan: Plan, *, timeout: float = 10.0, log: Callable[[str], None] = print) -> int:
    """Register every seeded API key in the fake cell; returns how many.  No-op without a fake cell."""
    if plan.local_cell_service is None:
        return 0
    cell = plan.service(plan.local_cell_service)
    count = 0
    with requests.Session() as http:
        for account in plan.seed_data.get("accounts", []):
            for key_name, key in account.get("apiKeys", {}).items():
                name = f"{account['name']}/{key_name}"
                try:
                    r = http.post(f"{cell.url}/_hippodrome/api-keys", timeout=timeout,
                                  headers={ADMIN_HEADER: plan.encryption_secret},
                                  json={"name": name, "key": key, "accountId": account["id"]})
                except requests.RequestException as e:
                    raise BootstrapError(f"seeding: failed to seed API key {name} in {cell.name}: {type(e).__name__}: {e}") from None
                if r.status_code not in (200, 201):
                    raise BootstrapError(f"seeding: failed to seed API key {name} in {cell.name}: HTTP {r.status_code}: {r.text[:300]}")
                count += 1
    log(f"seeding: {count} API keys registered in {cell.name}")
    return count
