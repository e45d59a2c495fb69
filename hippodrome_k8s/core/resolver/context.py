"""The context every ``${...}`` reference is rendered against, and the JSON documents rendered from it.

``build_context`` gathers what a reference may name (services, links, tables, queues, Cognito pools,
seeded accounts with their deterministic ids and keys, ...); ``aws_resources``, ``cognito_config`` and
``seed_config`` are what the layer-0 fakes seed themselves from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core import ids
from hippodrome_k8s.core.model import Cell, HippodromeStack, Profile
from hippodrome_k8s.core.resolver.plan import ResolveOptions
from hippodrome_k8s.core.templating import render, render_value

MOTO_ACCOUNT_ID = "123456789012"


def _services(stack: HippodromeStack, options: ResolveOptions) -> dict[str, Any]:
    out = {}
    for s in stack.spec.services:
        host = options.addressing.host(stack.metadata.name, s.name)
        out[s.name] = {"name": s.name, "host": host, "port": s.port, "url": f"http://{host}:{s.port}"}
    return out


def _pools(stack: HippodromeStack, seed: str, cognito_url: str) -> dict[str, Any]:
    region = stack.spec.aws.region
    pools: dict[str, Any] = {}
    for pool in stack.spec.cognito.userPools:
        pool_id = ids.cognito_pool_id(seed, region, pool.name)
        pools[pool.name] = {
            "id": pool_id,
            "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
            "jwksUrl": f"{cognito_url}/{pool_id}/.well-known/jwks.json",
            "clients": {c.name: ids.cognito_client_id(seed, pool.name, c.name) for c in pool.clients},
        }
    return pools


def _accounts(stack: HippodromeStack, seed: str) -> dict[str, Any]:
    return {
        a.name: {
            "name": a.name,
            "id": ids.account_id(seed, a.name),
            "systemAccountId": ids.system_account_id(seed, a.name),
            "apiKeys": {k: ids.api_key(seed, a.name, k) for k in a.apiKeys},
            "apiKeyHashes": {k: ids.api_key_hash(ids.api_key(seed, a.name, k)) for k in a.apiKeys},
        }
        for a in stack.spec.seedData.accounts
    }


def _aws(stack: HippodromeStack, aws_endpoint: str) -> dict[str, Any]:
    aws, region = stack.spec.aws, stack.spec.aws.region
    return {
        "queues": {q.name: {"name": q.name, "url": f"{aws_endpoint}/{MOTO_ACCOUNT_ID}/{q.name}",
                            "arn": f"arn:aws:sqs:{region}:{MOTO_ACCOUNT_ID}:{q.name}"} for q in aws.queues},
        "topics": {t.name: {"name": t.name, "arn": f"arn:aws:sns:{region}:{MOTO_ACCOUNT_ID}:{t.name}"} for t in aws.topics},
        "secrets": {s.name: {"name": s.name} for s in aws.secrets},
        "stateMachines": {m.name: {"name": m.name, "arn": f"arn:aws:states:{region}:{MOTO_ACCOUNT_ID}:stateMachine:{m.name}"}
                          for m in aws.stateMachines},
        "buckets": {b.name: b.name for b in aws.buckets},
    }


def build_context(stack: HippodromeStack, *, profile: Profile, cell: Cell, cell_url: str, table_prefix: str,
                  seed: str, options: ResolveOptions, derived: bool = True) -> dict[str, Any]:
    """Every value a reference may name.  ``derived=False`` leaves out the JSON documents
    rendered from the others (aws.resources, cognito.config, seedData.config) as empty
    strings, so validation can check references without rendering them."""
    spec, name = stack.spec, stack.metadata.name
    services = _services(stack, options)
    aws_endpoint = services.get(spec.aws.endpointService, {}).get("url", "")
    cognito_url = services.get(spec.cognito.service, {}).get("url", "")
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
        "links": {s.name: f"http://{options.addressing.link_host(name, s.name)}:{s.port}" for s in spec.services},
        "cell": {"name": cell.value, "url": cell_url},
        "aws": {"endpoint": aws_endpoint, "region": spec.aws.region, "accountId": MOTO_ACCOUNT_ID},
        "tables": {t.name: f"{table_prefix}{t.name}" for t in spec.aws.tables},
        **_aws(stack, aws_endpoint),
        "cognito": {"endpoint": cognito_url, "pools": _pools(stack, seed, cognito_url)},
        "accounts": _accounts(stack, seed),
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
    """The seeded accounts; `indexPrefix` (rendered `cellIndexPrefix`) binds an account's cell keys."""
    accounts = []
    for a in stack.spec.seedData.accounts:
        account = dict(context["accounts"][a.name], owner=a.owner)
        if a.cellIndexPrefix is not None:
            account["indexPrefix"] = render(a.cellIndexPrefix, context)
        accounts.append(account)
    return {"accounts": accounts}
