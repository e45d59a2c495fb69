"""The env contract every service receives (README, "Contracts"), and what `hippodrome env` prints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.model import HippodromeStack, Service
from hippodrome_k8s.core.origins import LOOPBACK_HOSTS, loopback_origins, origin_host
from hippodrome_k8s.core.resolver.addressing import Addressing
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
    # Not the encryption secret: an E2E suite never needs it, and `hippodrome env > .env.e2e` must not spread it.
    env = {k: v for k, v in common.items() if k not in ("PYTHONUNBUFFERED", "HIPPODROME_ENCRYPTION_SECRET")}
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


def allowed_origins(stack: HippodromeStack) -> list[str]:
    """The browser origins every service answers (origins.py): the stack's loopback origins, then spec.allowedOrigins."""
    ports = [stack.spec.dashboard.port] + [s.port for s in stack.spec.services]
    own = loopback_origins(ports)
    return own + [o for o in stack.spec.allowedOrigins if o not in own]


def allowed_hosts(stack: HippodromeStack, addressing: Addressing, service: str) -> list[str]:
    """The names a request to ``service`` may carry in its Host header: loopback, the hosts of
    spec.allowedOrigins, and where other services reach it (on Kubernetes, its cluster DNS names)."""
    names = list(LOOPBACK_HOSTS) + [origin_host(o) for o in stack.spec.allowedOrigins]
    names += addressing.names(stack.metadata.name, service)
    return list(dict.fromkeys(names))
