"""resolve(stack, options) -> Plan: the one pure decision both engines share.

Selection by profile and cell, layer order, table names, deterministic ids and
every service's rendered env are decided here, for the local engine, the kopf
operator and the k8s CLI alike.  Engines differ only in ``Addressing`` (where a
service is reached: a loopback port, or a cluster DNS name).  No I/O: the git
branch, the seed and the project root are inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

from hippodrome_k8s.core import ids
from hippodrome_k8s.core.errors import UsageError
from hippodrome_k8s.core.model import Cell, HealthCheck, HippodromeStack, Profile, Service
from hippodrome_k8s.core.origins import HOSTS_ENV, LOOPBACK_HOSTS, ORIGINS_ENV, loopback_origins, origin_host
from hippodrome_k8s.core.templating import render, render_value

MOTO_ACCOUNT_ID = "123456789012"
# Only the default of ResolveOptions (tests; the operator, whose children read the secret from the cluster's
# Secret instead): the CLI always passes the project's secret (hippodrome_k8s.host.project.choose_secret).
DEFAULT_ENCRYPTION_SECRET = "1234567890ABCDEF"


# --- addressing: the only difference between engines ---------------------------------------


class Addressing(Protocol):
    engine: str
    bind_host: str

    def host(self, stack_name: str, service: str) -> str:
        """Where other services reach ``service`` (``${services.X.url}``)."""

    def link_host(self, stack_name: str, service: str) -> str:
        """Where a client outside the stack reaches it (``${links.X}``: an address handed out)."""

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        """Every name other services may put in their ``Host`` header to reach ``service`` (origins.py)."""


@dataclass(frozen=True)
class LocalAddressing:
    engine: str = "local"
    bind_host: str = "127.0.0.1"
    public_host: str = "127.0.0.1"

    def host(self, stack_name: str, service: str) -> str:
        return self.public_host

    def link_host(self, stack_name: str, service: str) -> str:
        return self.public_host

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        return (self.public_host,)


@dataclass(frozen=True)
class ClusterAddressing:
    """Services reach each other by cluster DNS; clients on the developer's machine (the README's
    ``marqo.Client``, E2E suites) come in through the port-forwards, each service on its own port of
    ``forward_host``, so an address handed to them (a link) must be that one: a cluster DNS name does
    not resolve outside the cluster."""

    namespace: str = "default"
    engine: str = "k8s"
    bind_host: str = "0.0.0.0"
    forward_host: str = "127.0.0.1"

    def host(self, stack_name: str, service: str) -> str:
        return f"{dns_name(stack_name, service)}.{self.namespace}.svc.cluster.local"

    def link_host(self, stack_name: str, service: str) -> str:
        return self.forward_host

    def names(self, stack_name: str, service: str) -> tuple[str, ...]:
        short = dns_name(stack_name, service)
        return (short, f"{short}.{self.namespace}", f"{short}.{self.namespace}.svc", self.host(stack_name, service),
                self.forward_host)


def dns_name(stack_name: str, service: str) -> str:
    """A Kubernetes object name for a service of a stack (RFC 1123: no underscores)."""
    return f"{stack_name}-{service.replace('_', '-')}"[:63].rstrip("-")


# --- options and the plan ------------------------------------------------------------------


@dataclass(frozen=True)
class ResolveOptions:
    profile: Profile | None = None  # None: the stack's default
    cell: Cell | None = None
    table_prefix: str | None = None  # None: the stack's, else dev-<branch>-
    git_branch: str | None = None
    seed: str | None = None  # None: the stack's (the CLI picks a random one if neither)
    encryption_secret: str = DEFAULT_ENCRYPTION_SECRET
    addressing: Addressing = field(default_factory=LocalAddressing)
    project_root: str = "."
    state_dir: str = ".hippodrome/state"


@dataclass(frozen=True)
class PlannedService:
    name: str
    port: int
    layer: int
    blocking: bool
    url: str
    health: HealthCheck
    command: tuple[str, ...]
    container_command: tuple[str, ...]  # image.command (rendered) or, if unset, the local command
    cwd: str
    env: Mapping[str, str]
    reload: bool
    watch: tuple[str, ...]
    node_modules: bool
    stop_timeout: float
    spec: Service

    @property
    def health_url(self) -> str:
        return self.url + self.health.path


@dataclass(frozen=True)
class Plan:
    stack_name: str
    profile: Profile
    cell: Cell
    cell_url: str
    table_prefix: str
    seed: str
    engine: str
    services: tuple[PlannedService, ...]  # in layer order, then file order
    test_env: Mapping[str, str]  # what `hippodrome env` prints for E2E suites
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 9000
    seed_data: Mapping[str, Any] = field(default_factory=dict)  # seeded accounts: ids and API keys
    local_cell_service: str | None = None  # the selected fake cell, if any (seeding registers keys in it)
    encryption_secret: str = DEFAULT_ENCRYPTION_SECRET
    warnings: tuple[str, ...] = ()

    @property
    def layers(self) -> list[list[PlannedService]]:
        by_layer: dict[int, list[PlannedService]] = {}
        for s in self.services:
            by_layer.setdefault(s.layer, []).append(s)
        return [by_layer[k] for k in sorted(by_layer)]

    def service(self, name: str) -> PlannedService:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


# --- pure helpers --------------------------------------------------------------------------


def sanitize_branch(branch: str | None) -> str:
    """``feature/add-auth`` -> ``feature-add-auth``; empty or detached -> ``local``."""
    if not branch or branch == "HEAD":
        return "local"
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", branch).strip("-").lower()
    return cleaned[:40].rstrip("-") or "local"


def default_table_prefix(branch: str | None) -> str:
    return f"dev-{sanitize_branch(branch)}-"


def env_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def selected(service: Service, profile: Profile, cell: Cell, local_cell_service: str) -> bool:
    if profile not in service.profiles or cell not in service.cells:
        return False
    return not (service.name == local_cell_service and cell != Cell.local)


def require_prod_confirmation(cell: Cell, confirmed: bool) -> None:
    if cell == Cell.prod and not confirmed:
        raise UsageError(
            "--cell prod connects to PRODUCTION data; add --i-understand-this-is-prod to confirm"
        )


# --- the context every ${...} reference is rendered against --------------------------------


def build_context(stack: HippodromeStack, *, profile: Profile, cell: Cell, cell_url: str, table_prefix: str,
                  seed: str, options: ResolveOptions, derived: bool = True) -> dict[str, Any]:
    """Every value a reference may name.  ``derived=False`` leaves out the JSON documents
    rendered from the others (aws.resources, cognito.config, seedData.config) as empty
    strings, so validation can check references without rendering them."""
    spec = stack.spec
    name = stack.metadata.name
    addressing = options.addressing
    region = spec.aws.region

    services: dict[str, Any] = {}
    for s in spec.services:
        host = addressing.host(name, s.name)
        services[s.name] = {"name": s.name, "host": host, "port": s.port, "url": f"http://{host}:{s.port}"}
    aws_endpoint = services.get(spec.aws.endpointService, {}).get("url", "")
    cognito_url = services.get(spec.cognito.service, {}).get("url", "")

    pools: dict[str, Any] = {}
    for pool in spec.cognito.userPools:
        pool_id = ids.cognito_pool_id(seed, region, pool.name)
        pools[pool.name] = {
            "id": pool_id,
            "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
            "jwksUrl": f"{cognito_url}/{pool_id}/.well-known/jwks.json",
            "clients": {c.name: ids.cognito_client_id(seed, pool.name, c.name) for c in pool.clients},
        }

    accounts = {
        a.name: {
            "name": a.name,
            "id": ids.account_id(seed, a.name),
            "systemAccountId": ids.system_account_id(seed, a.name),
            "apiKeys": {k: ids.api_key(seed, a.name, k) for k in a.apiKeys},
            "apiKeyHashes": {k: ids.api_key_hash(ids.api_key(seed, a.name, k)) for k in a.apiKeys},
        }
        for a in spec.seedData.accounts
    }

    context: dict[str, Any] = {
        "stack": {"name": name},
        "profile": profile.value,
        "cellName": cell.value,
        "seed": seed,
        "tablePrefix": table_prefix,
        "encryptionSecret": options.encryption_secret,
        "project": {"root": options.project_root},
        "state": {"dir": options.state_dir},
        "services": services,
        # A URL handed out to clients (e.g. the data-plane gateway a controller advertises): where a
        # client outside the stack reaches the service (Addressing.link_host); unlike
        # ${services.X.url}, a link is not a start-up dependency.
        "links": {s.name: f"http://{addressing.link_host(name, s.name)}:{s.port}" for s in spec.services},
        "cell": {"name": cell.value, "url": cell_url},
        "aws": {"endpoint": aws_endpoint, "region": region, "accountId": MOTO_ACCOUNT_ID},
        "tables": {t.name: f"{table_prefix}{t.name}" for t in spec.aws.tables},
        "buckets": {b.name: b.name for b in spec.aws.buckets},
        "queues": {
            q.name: {
                "name": q.name,
                "url": f"{aws_endpoint}/{MOTO_ACCOUNT_ID}/{q.name}",
                "arn": f"arn:aws:sqs:{region}:{MOTO_ACCOUNT_ID}:{q.name}",
            }
            for q in spec.aws.queues
        },
        "topics": {t.name: {"name": t.name, "arn": f"arn:aws:sns:{region}:{MOTO_ACCOUNT_ID}:{t.name}"} for t in spec.aws.topics},
        "secrets": {s.name: {"name": s.name} for s in spec.aws.secrets},
        "stateMachines": {
            m.name: {"name": m.name, "arn": f"arn:aws:states:{region}:{MOTO_ACCOUNT_ID}:stateMachine:{m.name}"}
            for m in spec.aws.stateMachines
        },
        "cognito": {"endpoint": cognito_url, "pools": pools},
        "accounts": accounts,
    }
    context["aws"]["resources"] = context["cognito"]["config"] = ""
    context["seedData"] = {"config": ""}
    if derived:
        context["aws"]["resources"] = _compact(aws_resources(stack, context))
        context["cognito"]["config"] = _compact(cognito_config(stack, context))
        context["seedData"]["config"] = _compact(seed_config(stack, context))
    return context


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def aws_resources(stack: HippodromeStack, context: Mapping[str, Any]) -> dict[str, Any]:
    """The AWS resources to create, with real (prefixed) names and rendered values."""
    aws = stack.spec.aws
    tables = []
    for t in aws.tables:
        table = t.model_dump(mode="json", exclude_none=True)
        table["name"] = context["tables"][t.name]
        table["items"] = render_value(table.get("items", []), context)
        tables.append(table)
    return {
        "region": aws.region,
        "tables": tables,
        "buckets": [context["buckets"][b.name] for b in aws.buckets],
        "queues": [q.model_dump(mode="json") for q in aws.queues],
        "topics": [t.model_dump(mode="json") for t in aws.topics],
        "secrets": [{"name": s.name, "value": render(s.value, context)} for s in aws.secrets],
        "stateMachines": [{"name": m.name, "definition": render_value(m.definition, context)} for m in aws.stateMachines],
    }


def cognito_config(stack: HippodromeStack, context: Mapping[str, Any]) -> dict[str, Any]:
    pools = []
    for pool in stack.spec.cognito.userPools:
        info = context["cognito"]["pools"][pool.name]
        pools.append({
            "name": pool.name,
            "id": info["id"],
            "clients": [{"name": c.name, "id": info["clients"][c.name]} for c in pool.clients],
            "groups": [g.model_dump(mode="json") for g in pool.groups],
            "users": [render_value(u.model_dump(mode="json", exclude_none=True), context) for u in pool.users],
        })
    return {"userPools": pools}


def seed_config(stack: HippodromeStack, context: Mapping[str, Any]) -> dict[str, Any]:
    return {"accounts": [dict(context["accounts"][a.name], owner=a.owner) for a in stack.spec.seedData.accounts]}


# --- resolve ---------------------------------------------------------------------------------


def base_env(stack: HippodromeStack, context: Mapping[str, Any], chosen: list[Service]) -> dict[str, str]:
    """The env contract (DESIGN.md) every service receives."""
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


def resolve(stack: HippodromeStack, options: ResolveOptions) -> Plan:
    spec = stack.spec
    profile = options.profile or spec.profile
    cell = options.cell or spec.cell
    warnings: list[str] = []

    seed = options.seed if options.seed is not None else spec.seed
    if seed is None:
        raise UsageError("no seed: set HIPPODROME_RANDOM_SEED (the CLI picks a random one when unset)")
    if options.table_prefix is not None:
        table_prefix = options.table_prefix
    elif spec.tablePrefix is not None:
        table_prefix = spec.tablePrefix
    else:
        table_prefix = default_table_prefix(options.git_branch)

    host_of_cell = options.addressing.host(stack.metadata.name, spec.cells.localService)
    local_cell = stack.service(spec.cells.localService)
    if cell == Cell.local:
        cell_url = f"http://{host_of_cell}:{local_cell.port}" if local_cell else ""
    else:
        remote = getattr(spec.cells, cell.value)
        if remote is None:
            raise UsageError(f"--cell {cell.value}: the stack file has no spec.cells.{cell.value}.url")
        cell_url = remote.url
        if cell == Cell.prod:
            warnings.append("WARNING: --cell prod connects to PRODUCTION data.")

    chosen = [s for s in spec.services if selected(s, profile, cell, spec.cells.localService)]
    chosen.sort(key=lambda s: s.layer)  # stable: file order within a layer
    context = build_context(stack, profile=profile, cell=cell, cell_url=cell_url, table_prefix=table_prefix,
                            seed=seed, options=options)
    common = base_env(stack, context, chosen)
    stack_env = {k: render(v, context) for k, v in spec.env.items()}

    origins = allowed_origins(stack)
    planned = []
    for s in chosen:
        env = dict(common)
        env.update(stack_env)
        env.update({"HIPPODROME_SERVICE": s.name, "PORT": str(s.port), "HOST": options.addressing.bind_host,
                    ORIGINS_ENV: ",".join(origins),
                    HOSTS_ENV: ",".join(allowed_hosts(stack, options.addressing, s.name))})
        env.update({k: render(v, context) for k, v in s.env.items()})
        planned.append(PlannedService(
            name=s.name,
            port=s.port,
            layer=s.layer,
            blocking=s.blocking,
            url=context["services"][s.name]["url"],
            health=s.health,
            command=tuple(render(a, context) for a in s.run.command),
            container_command=tuple(render(a, context) for a in (s.image.command if s.image and s.image.command else s.run.command)),
            cwd=_join(options.project_root, s.run.cwd),
            env=env,
            reload=s.run.reload,
            watch=tuple(_join(options.project_root, w) for w in s.run.watch),
            node_modules=s.run.nodeModules,
            stop_timeout=s.run.stopTimeoutSeconds,
            spec=s,
        ))

    return Plan(
        stack_name=stack.metadata.name,
        profile=profile,
        cell=cell,
        cell_url=cell_url,
        table_prefix=table_prefix,
        seed=seed,
        engine=options.addressing.engine,
        services=tuple(planned),
        test_env=_test_env({**common, **stack_env}, context, spec.dashboard.port, options),
        dashboard_host=spec.dashboard.host,
        dashboard_port=spec.dashboard.port,
        seed_data=seed_config(stack, context),
        local_cell_service=spec.cells.localService if any(s.name == spec.cells.localService for s in chosen) else None,
        encryption_secret=options.encryption_secret,
        warnings=tuple(warnings),
    )


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


def _test_env(common: Mapping[str, str], context: Mapping[str, Any], dashboard_port: int,
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


def _join(root: str, path: str) -> str:
    if PurePosixPath(path).is_absolute():
        return path
    return str(PurePosixPath(root) / path) if path not in ("", ".") else root
