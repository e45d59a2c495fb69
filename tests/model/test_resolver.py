"""resolve(): selection by profile and cell, table prefix, env rendering, addressing — table-tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from hippodrome_k8s.core import ids
from hippodrome_k8s.core.errors import UsageError
from hippodrome_k8s.core.loader import load_stack
from hippodrome_k8s.core.model import Cell, Profile
from hippodrome_k8s.core.resolver import (
    ClusterAddressing,
    ResolveOptions,
    default_table_prefix,
    require_prod_confirmation,
    resolve,
    sanitize_branch,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack():
    return load_stack(REPO / "hippodrome.yaml")


def names(plan):
    return [s.name for s in plan.services]


@pytest.mark.parametrize("branch,prefix", [
    ("feature/add-auth", "dev-feature-add-auth-"),
    ("main", "dev-main-"),
    ("Fix_Bug#12", "dev-fix-bug-12-"),
    ("HEAD", "dev-local-"),
    (None, "dev-local-"),
    ("///", "dev-local-"),
    ("a" * 80, "dev-" + "a" * 40 + "-"),
])
def test_default_table_prefix(branch, prefix):
    assert default_table_prefix(branch) == prefix


def test_sanitize_is_dynamodb_safe():
    assert all(c.isalnum() or c == "-" for c in sanitize_branch("we!rd/branch name"))


@pytest.mark.parametrize("profile,cell,expected", [
    (Profile.core, Cell.local, ["moto", "fake_cognito", "fake_cell", "controller", "console"]),
    (Profile.core, Cell.staging, ["moto", "fake_cognito", "controller", "console"]),
    (Profile.ecom, Cell.local, ["moto", "fake_cognito", "fake_cell", "controller", "global_worker", "search_proxy",
                                "admin_server", "ecom_indexer", "console", "exporters"]),
    (Profile.full, Cell.local, ["moto", "fake_cognito", "fake_cell", "controller", "global_worker", "search_proxy",
                                "admin_server", "ecom_indexer", "console", "exporters", "admin_worker"]),
    (Profile.full, Cell.prod, ["moto", "fake_cognito", "controller", "global_worker", "search_proxy",
                               "admin_server", "ecom_indexer", "console", "exporters", "admin_worker"]),
])
def test_selection_by_profile_and_cell(stack, profile, cell, expected):
    plan = resolve(stack, ResolveOptions(profile=profile, cell=cell, seed="1", git_branch="main"))
    assert names(plan) == expected
    assert [s.layer for s in plan.services] == sorted(s.layer for s in plan.services)


@pytest.mark.parametrize("cell,url", [
    (Cell.local, "http://127.0.0.1:9001"),
    (Cell.staging, "https://cell.staging.example.com"),
    (Cell.prod, "https://cell.example.com"),
])
def test_cell_url_reaches_every_service(stack, cell, url):
    plan = resolve(stack, ResolveOptions(cell=cell, seed="1"))
    assert plan.cell_url == url
    assert {s.env["CELL_URL"] for s in plan.services} == {url}
    assert {s.env["CONTROL_PLANE_URL_OVERRIDE"] for s in plan.services} == {url}
    assert bool(plan.warnings) == (cell == Cell.prod)


def test_prod_needs_confirmation():
    with pytest.raises(UsageError, match="--i-understand-this-is-prod"):
        require_prod_confirmation(Cell.prod, confirmed=False)
    require_prod_confirmation(Cell.prod, confirmed=True)
    require_prod_confirmation(Cell.staging, confirmed=False)


@pytest.mark.parametrize("flag,spec_prefix,branch,expected", [
    ("flag-", None, "main", "flag-"),
    (None, None, "feature/x", "dev-feature-x-"),
    ("", None, "main", ""),
])
def test_table_prefix_precedence(stack, flag, spec_prefix, branch, expected):
    plan = resolve(stack, ResolveOptions(table_prefix=flag, git_branch=branch, seed="1"))
    assert plan.table_prefix == expected
    controller = plan.service("controller")
    assert controller.env["ACCOUNTS_TABLE"] == f"{expected}accounts"
    assert controller.env["API_KEYS_TABLE"] == f"{expected}api_keys"


def test_env_contract(stack):
    plan = resolve(stack, ResolveOptions(seed="42", table_prefix="p-"))
    env = plan.service("admin_server").env
    assert env["ENVIRONMENT"] == "hippodrome"
    assert env["HIPPODROME_RANDOM_SEED"] == "42"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9003"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert env["PORT"] == "9004" and env["HOST"] == "127.0.0.1"
    assert env["SEARCH_PROXY_URL"] == "http://127.0.0.1:9005"
    assert env["INGEST_QUEUE_URL"] == "http://127.0.0.1:9003/123456789012/ingest"
    pool = ids.cognito_pool_id("42", "us-east-1", "main")
    assert env["COGNITO_USER_POOL_ID"] == pool
    assert env["COGNITO_ISSUER"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool}"
    assert env["COGNITO_JWKS_URL"] == f"http://127.0.0.1:9012/{pool}/.well-known/jwks.json"
    assert env["CELL_API_KEY"] == ids.api_key("42", "system", "cell")


def test_links_are_not_dependencies_but_render(stack):
    plan = resolve(stack, ResolveOptions(seed="1", profile=Profile.core))
    assert plan.service("controller").env["MARQO_ENDPOINT"] == "http://127.0.0.1:9005"


def test_on_kubernetes_a_link_is_the_forwarded_address_not_a_cluster_name(stack):
    from hippodrome_k8s.core.resolver import ClusterAddressing

    plan = resolve(stack, ResolveOptions(seed="1", addressing=ClusterAddressing("hippodrome")))
    assert plan.service("controller").env["MARQO_ENDPOINT"] == "http://127.0.0.1:9005"
    assert plan.service("ecom_indexer").env["SEARCH_PROXY_URL"] == \
        "http://dev-search-proxy.hippodrome.svc.cluster.local:9005"


def test_aws_resources_are_rendered_with_prefix_and_seed(stack):
    import json

    plan = resolve(stack, ResolveOptions(seed="7", table_prefix="x-"))
    resources = json.loads(plan.service("moto").env["HIPPODROME_AWS_RESOURCES"])
    assert [t["name"] for t in resources["tables"]] == ["x-accounts", "x-api_keys", "x-indexes", "x-rules", "x-jobs"]
    accounts = resources["tables"][0]["items"]
    assert accounts[0]["account_id"] == ids.account_id("7", "demo")
    machine = resources["stateMachines"][0]["definition"]
    assert machine["States"]["RecordJob"]["Parameters"]["TableName"] == "x-jobs"


def test_same_seed_same_plan_different_seed_different_ids(stack):
    a = resolve(stack, ResolveOptions(seed="42", table_prefix="p-"))
    b = resolve(stack, ResolveOptions(seed="42", table_prefix="p-"))
    c = resolve(stack, ResolveOptions(seed="43", table_prefix="p-"))
    assert a.test_env == b.test_env
    assert a.test_env["SEED_ACCOUNT_DEMO_ID"] != c.test_env["SEED_ACCOUNT_DEMO_ID"]
    assert a.test_env["COGNITO_USER_POOL_ID"] != c.test_env["COGNITO_USER_POOL_ID"]


def test_cluster_addressing_uses_dns_names(stack):
    plan = resolve(stack, ResolveOptions(seed="1", addressing=ClusterAddressing(namespace="hd")))
    controller = plan.service("controller")
    assert controller.url == "http://dev-controller.hd.svc.cluster.local:9002"
    assert controller.env["HOST"] == "0.0.0.0"
    assert controller.env["AWS_ENDPOINT_URL"] == "http://dev-moto.hd.svc.cluster.local:9003"
    assert plan.service("search_proxy").env["GLOBAL_WORKER_URL"] == "http://dev-global-worker.hd.svc.cluster.local:9013"


def test_precedence_contract_then_stack_env_then_service_env():
    from hippodrome_k8s.core.loader import load_stack_data

    doc = {
        "apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "p"},
        "spec": {"env": {"A": "stack", "ENVIRONMENT": "stack"}, "services": [
            {"name": "one", "port": 9001, "layer": 0, "env": {"A": "service"}, "run": {"command": ["x"]}},
            {"name": "two", "port": 9002, "layer": 0, "run": {"command": ["x", "${services.one.port}"]}},
        ]},
    }
    plan = resolve(load_stack_data(doc), ResolveOptions(seed="1"))
    assert plan.service("one").env["A"] == "service"
    assert plan.service("two").env["A"] == "stack"
    assert plan.service("two").env["ENVIRONMENT"] == "stack"
    assert plan.service("two").command == ("x", "9001")


def test_no_seed_is_a_usage_error(stack):
    from hippodrome_k8s.core.loader import load_stack_data

    doc = stack.model_dump(mode="json")
    doc["spec"]["seed"] = None
    with pytest.raises(UsageError, match="HIPPODROME_RANDOM_SEED"):
        resolve(load_stack_data(doc), ResolveOptions())


def test_remote_cell_without_url_is_a_usage_error():
    from hippodrome_k8s.core.loader import load_stack_data

    doc = {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "p"},
           "spec": {"services": [{"name": "one", "port": 9001, "layer": 0, "run": {"command": ["x"]}}]}}
    with pytest.raises(UsageError, match="spec.cells.staging.url"):
        resolve(load_stack_data(doc), ResolveOptions(seed="1", cell=Cell.staging))
