"""Accounts: an API key is bound to its account's index-name prefix when it is registered (seed config
or admin API); it sees and touches only those indexes, other accounts' indexes answer 404 exactly as
missing ones do, and a key registered without a prefix (the system account's) sees every index.

The seed here is what the resolver renders from a stack file whose accounts declare
`cellIndexPrefix: "${accounts.<name>.id}-"`, the reference controller's naming.
"""

from __future__ import annotations

import sqlite3

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

from fakes.fake_cell.accounts import EVERYTHING, Scope
from fakes.fake_cell.errors import CellError
from fakes.fake_cell.seeding import parse_seed_config
from hippodrome_k8s.core import ids
from hippodrome_k8s.core.errors import StackFileError

from cellseed import seed_env, stack_doc

SEED = "42"
DEMO, OTHER = ids.account_id(SEED, "demo"), ids.account_id(SEED, "other")
ACCOUNTS = [
    {"name": "demo", "apiKeys": ["default"], "cellIndexPrefix": "${accounts.demo.id}-"},
    {"name": "other", "apiKeys": ["default"], "cellIndexPrefix": "${accounts.other.id}-"},
    {"name": "system", "apiKeys": ["cell"]},
]
CELL_ENV = {"FAKE_CELL_REQUIRE_API_KEY": "true", "FAKE_CELL_ENABLE_BATCH_APIS": "true",
            "HIPPODROME_SEED_CONFIG": seed_env(SEED, ACCOUNTS)}


@pytest.mark.parametrize("scope, name, sees", [
    (EVERYTHING, "anything", True),
    (Scope("acc", ""), "anything", True),
    (Scope("acc", "acc-"), "acc-products", True),
    (Scope("acc", "acc-"), "acc-", True),
    (Scope("acc", "acc-"), "acc2-products", False),
    (Scope("acc", "acc-"), "products", False),
    (Scope("acc", "acc-"), "ACC-products", False),
])
def test_scope_sees(scope, name, sees):
    assert scope.sees(name) is sees
    assert scope.visible(["x", name]) == (["x"] if scope.sees("x") else []) + ([name] if sees else [])


def test_scope_answers_for_what_it_does_not_see():
    scope = Scope("acc", "acc-")
    assert scope.existing("acc-a") == "acc-a" and scope.creatable("acc-a") == "acc-a"
    with pytest.raises(CellError) as missing:
        scope.existing("zzz-a")
    assert (missing.value.status, missing.value.code, missing.value.message) == (404, "index_not_found",
                                                                                   "Index zzz-a does not exist")
    with pytest.raises(CellError) as refused:
        scope.creatable("zzz-a")
    assert (refused.value.status, refused.value.code) == (403, "index_name_not_allowed")


def test_the_resolver_renders_each_accounts_prefix_into_the_seed():
    accounts = {a.name: a for a in parse_seed_config(seed_env(SEED, ACCOUNTS))}
    assert {k.index_prefix for k in accounts["demo"].keys} == {f"{DEMO}-"}
    assert {k.index_prefix for k in accounts["other"].keys} == {f"{OTHER}-"}
    assert {k.index_prefix for k in accounts["system"].keys} == {None}


def test_a_bad_reference_in_the_prefix_is_a_stack_file_error():
    from hippodrome_k8s.core.loader import load_stack_data

    with pytest.raises(StackFileError) as info:
        load_stack_data(stack_doc([{"name": "demo", "cellIndexPrefix": "${accounts.nobody.id}-"}]))
    assert "spec.seedData.accounts[0].cellIndexPrefix" in str(info.value)


@pytest.fixture(scope="module")
def seeded(cell):
    """The module's cell (CELL_ENV: keys required, seeded accounts) with an index or two per account."""
    system = marqo.Client(url=cell.url, api_key=ids.api_key(SEED, "system", "cell"))
    for name in (f"{DEMO}-products", f"{OTHER}-products", f"{OTHER}-secret"):
        system.create_index(name)
        system.index(name).add_documents([{"_id": "1", "title": f"a document of {name}"}], tensor_fields=["title"])
    return cell


def client(cell, account: str, key: str = "default") -> marqo.Client:
    return marqo.Client(url=cell.url, api_key=ids.api_key(SEED, account, key))


def listed(client: marqo.Client) -> set[str]:
    return {r["indexName"] for r in client.get_indexes()["results"]}


def test_each_account_lists_only_its_indexes_and_the_system_key_all(seeded):
    assert listed(client(seeded, "demo")) == {f"{DEMO}-products"}
    assert listed(client(seeded, "other")) == {f"{OTHER}-products", f"{OTHER}-secret"}
    assert listed(client(seeded, "system", "cell")) == {f"{DEMO}-products", f"{OTHER}-products", f"{OTHER}-secret"}


def test_an_account_works_with_its_own_indexes(seeded):
    demo = client(seeded, "demo").index(f"{DEMO}-products")
    assert demo.search("document")["hits"][0]["_id"] == "1"
    assert demo.add_documents([{"_id": "2", "title": "more"}], tensor_fields=["title"])["errors"] is False
    assert demo.get_stats()["numberOfDocuments"] == 2
    client(seeded, "demo").create_index(f"{DEMO}-fresh")
    assert f"{DEMO}-fresh" in listed(client(seeded, "demo"))


@pytest.mark.parametrize("call", [
    lambda index: index.search("document"),
    lambda index: index.search("document", search_method="LEXICAL"),
    lambda index: index.get_document("1"),
    lambda index: index.get_documents(["1"]),
    lambda index: index.add_documents([{"_id": "x", "title": "intruder"}], tensor_fields=["title"]),
    lambda index: index.update_documents([{"_id": "1", "title": "overwritten"}]),
    lambda index: index.delete_documents(["1"]),
    lambda index: index.get_settings(),
    lambda index: index.get_stats(),
    lambda index: index.health(),
    lambda index: index.embed("x"),
    lambda index: index.recommend(["1"]),
    lambda index: index.delete(),
], ids=["tensor", "lexical", "get", "get-many", "add", "update", "delete-docs", "settings", "stats", "health",
        "embed", "recommend", "delete-index"])
def test_another_accounts_index_answers_as_if_it_did_not_exist(seeded, call):
    demo = client(seeded, "demo")
    answers = []
    for name in (f"{OTHER}-secret", f"{OTHER}-never-created"):
        with pytest.raises(MarqoWebError) as info:
            call(demo.index(name))
        body = dict(info.value.message)
        answers.append((info.value.status_code, body.pop("code"), body.pop("message").replace(name, "<name>"), body))
    assert answers[0] == answers[1]  # an existing index of another account: the same answer as a missing one
    assert answers[0][:2] == (404, "index_not_found")
    system = client(seeded, "system", "cell").index(f"{OTHER}-secret")
    assert system.get_document("1")["title"] == f"a document of {OTHER}-secret"  # untouched


def test_an_account_cannot_create_or_batch_outside_its_prefix(seeded):
    demo = client(seeded, "demo")
    for name in (f"{OTHER}-secret", f"{OTHER}-new"):  # taken or not: the same refusal, no existence leak
        with pytest.raises(MarqoWebError) as info:
            demo.create_index(name)
        assert (info.value.status_code, info.value.code) == (403, "index_name_not_allowed")
    headers = {"x-api-key": ids.api_key(SEED, "demo", "default")}
    deleted = requests.post(seeded.url + "/batch/indexes/delete", json=[f"{DEMO}-fresh-never", f"{OTHER}-secret"],
                            headers=headers, timeout=5)
    assert (deleted.status_code, deleted.json()["code"]) == (404, "index_not_found")
    created = requests.post(seeded.url + "/batch/indexes/create", json=[{"indexName": f"{OTHER}-sneaky"}],
                            headers=headers, timeout=5)
    assert created.status_code == 403
    wiped = requests.delete(f"{seeded.url}/indexes/{OTHER}-secret/documents/delete-all", headers=headers, timeout=5)
    assert wiped.status_code == 404
    assert f"{OTHER}-secret" in listed(client(seeded, "system", "cell"))


def test_the_admin_api_registers_a_key_with_its_prefix(cell_factory):
    cell = cell_factory(FAKE_CELL_REQUIRE_API_KEY="true")
    body = {"name": "acme/web", "key": "acme-key-1", "accountId": "acme", "indexPrefix": "acme-"}
    created = cell.admin("post", json=body)
    assert created.status_code == 201 and created.json() == {"name": "acme/web", "accountId": "acme",
                                                              "indexPrefix": "acme-"}
    assert cell.admin("post", json=body).status_code == 200  # idempotent
    assert cell.admin("post", json={**body, "indexPrefix": "other-"}).status_code == 409
    bad = cell.admin("post", json={**body, "name": "acme/bad", "key": "k2", "indexPrefix": 7})
    assert bad.status_code == 400 and "indexPrefix" in bad.json()["message"]
    assert cell.admin("post", json={"name": "ops", "key": "ops-key", "accountId": "ops"}).status_code == 201
    assert cell.admin("get").json()["results"] == [
        {"name": "acme/web", "accountId": "acme", "indexPrefix": "acme-"}, {"name": "ops", "accountId": "ops"}]
    ops = marqo.Client(url=cell.url, api_key="ops-key")
    ops.create_index("acme-shop")
    ops.create_index("globex-shop")
    acme = marqo.Client(url=cell.url, api_key="acme-key-1")
    assert {r["indexName"] for r in acme.get_indexes()["results"]} == {"acme-shop"}


def test_keys_stored_by_an_older_fake_cell_are_migrated_and_see_everything(cell_factory, tmp_path):
    """Regression guard: the api_keys table of a previous version has no index_prefix column."""
    state = tmp_path / "old"
    first = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true")
    assert first.admin("post", json={"name": "svc", "key": "svc-key", "accountId": "a"}).status_code == 201
    marqo.Client(url=first.url, api_key="svc-key").create_index("kept")
    first.stop()
    with sqlite3.connect(state / "fake_cell.sqlite3") as conn:  # back to the old layout, rows kept
        conn.execute("ALTER TABLE api_keys DROP COLUMN index_prefix")
    second = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true")
    assert {r["indexName"] for r in marqo.Client(url=second.url, api_key="svc-key").get_indexes()["results"]} == {"kept"}
    assert second.admin("get").json()["results"] == [{"name": "svc", "accountId": "a"}]


def test_the_reference_stack_binds_the_demo_account_and_not_the_system_one():
    from pathlib import Path

    import yaml

    from hippodrome_k8s.core.loader import load_stack_data
    from hippodrome_k8s.core.resolver import ResolveOptions, resolve

    root = Path(__file__).resolve().parents[3]
    plan = resolve(load_stack_data(yaml.safe_load((root / "hippodrome.yaml").read_text())), ResolveOptions(seed=SEED))
    accounts = {a.name: a for a in parse_seed_config(plan.service("fake_cell").env["HIPPODROME_SEED_CONFIG"])}
    assert {k.index_prefix for k in accounts["demo"].keys} == {f"{DEMO}-"}
    assert {k.index_prefix for k in accounts["system"].keys} == {None}
