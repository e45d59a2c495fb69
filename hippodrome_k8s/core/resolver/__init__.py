"""resolve(stack, options) -> Plan: the one pure decision both engines share.

Selection by profile and cell, layer order, table names, deterministic ids and every service's
rendered env are decided here, for the local engine, the kopf operator and the k8s CLI alike.
Engines differ only in ``Addressing`` (where a service is reached: a loopback port, or a cluster
DNS name). No I/O: the git branch, the seed and the project root are inputs. One module per job:

    addressing.py   where a service is reached, per engine
    plan.py         ResolveOptions, Plan, PlannedService
    selection.py    which services, which cell, which table prefix
    context.py      the ${...} context and the documents the fakes seed from
    env.py          the env contract, and `hippodrome env`'s values
"""

from __future__ import annotations

from pathlib import PurePosixPath

from hippodrome_k8s.core.dependencies import dependencies
from hippodrome_k8s.core.errors import UsageError
from hippodrome_k8s.core.model import HippodromeStack, Service
from hippodrome_k8s.core.resolver.addressing import Addressing, ClusterAddressing, LocalAddressing, dns_name
from hippodrome_k8s.core.resolver.context import MOTO_ACCOUNT_ID, aws_resources, build_context, cognito_config, seed_config
from hippodrome_k8s.core.origins import HOSTS_ENV, ORIGINS_ENV
from hippodrome_k8s.core.resolver.env import allowed_hosts, allowed_origins, base_env, env_key, test_env
from hippodrome_k8s.core.resolver.plan import DEFAULT_ENCRYPTION_SECRET, Plan, PlannedService, ResolveOptions
from hippodrome_k8s.core.resolver.selection import (cell_url_for, chosen_services, default_table_prefix,
                                                    require_prod_confirmation, sanitize_branch, selected,
                                                    table_prefix_for)
from hippodrome_k8s.core.templating import render

__all__ = [
    "Addressing", "ClusterAddressing", "LocalAddressing", "dns_name", "MOTO_ACCOUNT_ID", "aws_resources",
    "build_context", "cognito_config", "seed_config", "base_env", "env_key", "DEFAULT_ENCRYPTION_SECRET", "Plan",
    "PlannedService", "ResolveOptions", "default_table_prefix", "require_prod_confirmation", "sanitize_branch",
    "selected", "resolve", "allowed_origins", "allowed_hosts",
]


def resolve(stack: HippodromeStack, options: ResolveOptions) -> Plan:
    spec = stack.spec
    profile = options.profile or spec.profile
    cell = options.cell or spec.cell
    seed = options.seed if options.seed is not None else spec.seed
    if seed is None:
        raise UsageError("no seed: set HIPPODROME_RANDOM_SEED (the CLI picks a random one when unset)")
    table_prefix = table_prefix_for(stack, options.table_prefix, options.git_branch)
    cell_url, warnings = cell_url_for(stack, cell, options.addressing)
    chosen = chosen_services(stack, profile, cell)
    context = build_context(stack, profile=profile, cell=cell, cell_url=cell_url, table_prefix=table_prefix,
                            seed=seed, options=options)
    common = base_env(stack, context, chosen)
    stack_env = {k: render(v, context) for k, v in spec.env.items()}
    return Plan(
        stack_name=stack.metadata.name,
        profile=profile,
        cell=cell,
        cell_url=cell_url,
        table_prefix=table_prefix,
        seed=seed,
        engine=options.addressing.engine,
        services=tuple(_planned(s, {**common, **stack_env}, context, options, stack) for s in chosen),
        test_env=test_env({**common, **stack_env}, context, spec.dashboard.port, options),
        dashboard_host=spec.dashboard.host,
        dashboard_port=spec.dashboard.port,
        seed_data=seed_config(stack, context),
        local_cell_service=spec.cells.localService if any(s.name == spec.cells.localService for s in chosen) else None,
        encryption_secret=options.encryption_secret,
        warnings=tuple(warnings),
        dependencies=dependencies(stack, [s.name for s in chosen], cell),
    )


def _planned(s: Service, common: dict[str, str], context: dict, options: ResolveOptions,
             stack: HippodromeStack) -> PlannedService:
    """One service: the common env, then its own (later wins), its command and paths rendered."""
    env = dict(common)
    env.update({"HIPPODROME_SERVICE": s.name, "PORT": str(s.port), "HOST": options.addressing.bind_host,
                ORIGINS_ENV: ",".join(allowed_origins(stack)),
                HOSTS_ENV: ",".join(allowed_hosts(stack, options.addressing, s.name))})
    env.update({k: render(v, context) for k, v in s.env.items()})
    container = s.image.command if s.image and s.image.command else s.run.command
    return PlannedService(
        name=s.name,
        port=s.port,
        layer=s.layer,
        blocking=s.blocking,
        url=context["services"][s.name]["url"],
        health=s.health,
        command=tuple(render(a, context) for a in s.run.command),
        container_command=tuple(render(a, context) for a in container),
        cwd=_join(options.project_root, s.run.cwd),
        env=env,
        reload=s.run.reload,
        watch=tuple(_join(options.project_root, w) for w in s.run.watch),
        node_modules=s.run.nodeModules,
        stop_timeout=s.run.stopTimeoutSeconds,
        spec=s,
    )


def _join(root: str, path: str) -> str:
    if PurePosixPath(path).is_absolute():
        return path
    return str(PurePosixPath(root) / path) if path not in ("", ".") else root
