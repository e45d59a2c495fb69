"""The env contract every service receives (README, "Contracts"), and what `hippodrome env` prints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.model import HippodromeStack, Service
from hippodrome_k8s.core.resolver.plan import ResolveOptions


def env_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def base_env(stack: HippodromeStack, context: Mapping[str, Any], chosen: list[Service]) -> dict[str, str]:
    """The env contract every service receives (README, "Contracts")."""
    cell_url = context["cell"]["url"]
    env = {
        "ENVIRONMENT": "hippodrome",
        "HIPPODROME_STACK": context["stack"]["name"],
        "HIPPODROME_PROFILE": context["profile"],
        "HIPPODROME_CELL": context["cellName"],
        "HIPPODROME_RANDOM_SEED": context["seed"],
        "HIPPODROME_ENCRYPTION_SECRET": context["encryptionSecret"],
        "HIPPODROME_STATE_DIR": context["state"]["dir"],
        "TABLE_PREFIX": context["tablePrefix"],
        "AWS_ENDPOINT_URL": context["aws"]["endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": context["aws"]["region"],
        "AWS_REGION": context["aws"]["region"],
        "CELL_URL": cell_url,
        "CONTROL_PLANE_URL_OVERRIDE": cell_url,
        "PYTHONUNBUFFERED": "1",
    }
    pools = context["cognito"]["pools"]
    if pools:
        first_name = stack.spec.cognito.userPools[0].name
        first = pools[first_name]
        env["COGNITO_ENDPOINT_URL"] = context["cognito"]["endpoint"]
        env["COGNITO_USER_POOL_ID"] = first["id"]
        env["COGNITO_ISSUER"] = first["issuer"]
        env["COGNITO_JWKS_URL"] = first["jwksUrl"]
        if first["clients"]:
            env["COGNITO_CLIENT_ID"] = next(iter(first["clients"].values()))
    for logical, real in context["tables"].items():
        env[f"{env_key(logical)}_TABLE"] = real
    for s in chosen:
        env[f"{env_key(s.name)}_URL"] = context["services"][s.name]["url"]
    return env


def test_env(common: Mapping[str, str], context: Mapping[str, Any], dashboard_port: int,
              options: ResolveOptions) -> dict[str, str]:
    env = {k: v for k, v in common.items() if k not in ("PYTHONUNBUFFERED",)}
    env["HIPPODROME_DASHBOARD_URL"] = f"http://{options.addressing.host('', 'dashboard')}:{dashboard_port}"
    for account in context["accounts"].values():
        key = env_key(account["name"])
        env[f"SEED_ACCOUNT_{key}_ID"] = account["id"]
        env[f"SEED_ACCOUNT_{key}_SYSTEM_ACCOUNT_ID"] = account["systemAccountId"]
        for key_name, value in account["apiKeys"].items():
            env[f"SEED_ACCOUNT_{key}_API_KEY_{env_key(key_name)}"] = value
    for pool_name, pool in context["cognito"]["pools"].items():
        env[f"COGNITO_POOL_{env_key(pool_name)}_ID"] = pool["id"]
        for client_name, client_id in pool["clients"].items():
            env[f"COGNITO_POOL_{env_key(pool_name)}_CLIENT_{env_key(client_name)}_ID"] = client_id
    return dict(sorted(env.items()))
