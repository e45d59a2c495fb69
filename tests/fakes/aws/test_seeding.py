"""Seed items belong to the stack: the pure plan (table-tested), the manifest file, and a real
fake_aws whose seed changes under a persisted state."""

from __future__ import annotations

import hashlib
import json

import pytest

from fakes.fake_aws.seeding import describe_removal, plan_seed_items, read_manifest, write_manifest


def _digest(item: dict) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _record(key: dict, item: dict) -> dict:
    return {json.dumps(key, sort_keys=True, separators=(",", ":")): {"key": key, "digest": _digest(item)}}


ACC = {"name": "accounts", "hashKey": {"name": "id", "type": "S"}}
IDX = {"name": "indexes", "hashKey": {"name": "account", "type": "S"}, "rangeKey": {"name": "index", "type": "S"}}
A1 = {"id": "acc-1", "name": "demo"}
A2 = {"id": "acc-2", "name": "system"}
A1_CHANGED = {"id": "acc-1", "name": "renamed"}
I1 = {"account": "acc-1", "index": "products"}


@pytest.mark.parametrize("recorded, tables, delete, put, ensure", [
    # first start: everything is put
    ({}, [{**ACC, "items": [A1, A2]}], [], [("accounts", A1), ("accounts", A2)], []),
    # same declaration again: only put where missing (services' changes are kept)
    ({"accounts": {**_record({"id": "acc-1"}, A1), **_record({"id": "acc-2"}, A2)}},
     [{**ACC, "items": [A1, A2]}], [], [], [("accounts", A1), ("accounts", A2)]),
    # seed changed: the old item goes, the new one is put
    ({"accounts": _record({"id": "acc-1"}, A1)}, [{**ACC, "items": [A2]}],
     [("accounts", {"id": "acc-1"})], [("accounts", A2)], []),
    # declaration of a kept key changed: overwrite
    ({"accounts": _record({"id": "acc-1"}, A1)}, [{**ACC, "items": [A1_CHANGED]}], [], [("accounts", A1_CHANGED)], []),
    # a table no longer declared (or renamed by a new prefix): its seeded items go
    ({"old-accounts": _record({"id": "acc-1"}, A1)}, [{**ACC, "items": [A1]}],
     [("old-accounts", {"id": "acc-1"})], [("accounts", A1)], []),
    # composite keys
    ({"indexes": _record({"account": "acc-1", "index": "products"}, I1)}, [{**IDX, "items": []}],
     [("indexes", {"account": "acc-1", "index": "products"})], [], []),
    # an item without its key cannot be tracked: put as declared (DynamoDB names the problem)
    ({}, [{**ACC, "items": [{"name": "no key"}]}], [], [("accounts", {"name": "no key"})], []),
    # nothing declared, nothing recorded
    ({}, [{**ACC}], [], [], []),
])
def test_plan_seed_items(recorded, tables, delete, put, ensure):
    plan = plan_seed_items(recorded, tables)
    assert (plan.delete, plan.put, plan.ensure) == (delete, put, ensure)


def test_the_manifest_records_exactly_the_declared_keys():
    plan = plan_seed_items({"accounts": _record({"id": "gone"}, {"id": "gone"})},
                           [{**ACC, "items": [A1, {"name": "untracked"}]}, {**IDX, "items": [I1]}])
    assert {t: sorted(v) for t, v in plan.manifest.items()} == {
        "accounts": ['{"id":"acc-1"}'], "indexes": ['{"account":"acc-1","index":"products"}']}
    assert plan.manifest["accounts"]['{"id":"acc-1"}'] == {"key": {"id": "acc-1"}, "digest": _digest(A1)}
    assert plan_seed_items(plan.manifest, [{**ACC, "items": [A1]}, {**IDX, "items": [I1]}]).put == []


@pytest.mark.parametrize("deleted, old, new, expected", [
    ([], "1", "2", None),
    ([("accounts", {"id": "a"}), ("accounts", {"id": "b"}), ("api_keys", {"h": "c"})], "1", "2",
     "seed changed (1 -> 2): removed 3 seeded items (accounts: 2, api_keys: 1)"),
    ([("accounts", {"id": "a"})], "1", "1", "removed 1 seeded item no longer declared (accounts: 1)"),
    ([("accounts", {"id": "a"})], None, "1", "removed 1 seeded item no longer declared (accounts: 1)"),
])
def test_describe_removal(deleted, old, new, expected):
    from fakes.fake_aws.seeding import SeedPlan

    assert describe_removal(SeedPlan(delete=deleted), old, new) == expected


def test_manifest_round_trip_and_a_damaged_one_is_named(tmp_path):
    assert read_manifest(tmp_path) == (None, {})
    write_manifest(tmp_path, "42", {"accounts": _record({"id": "a"}, {"id": "a"})})
    assert read_manifest(tmp_path) == ("42", {"accounts": _record({"id": "a"}, {"id": "a"})})
    assert [p.name for p in tmp_path.iterdir()] == ["seeded.json"]
    (tmp_path / "seeded.json").write_text("{oops")
    with pytest.raises(ValueError, match="seeded.json is not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "seeded.json").write_text("[]")
    with pytest.raises(ValueError, match="is not a seed manifest"):
        read_manifest(tmp_path)


# --- a real fake_aws under a seed change ------------------------------------------------------------


def _resources(seed: str) -> dict:
    return {"region": "us-east-1",
            "tables": [{"name": "t-accounts", "hashKey": {"name": "account_id", "type": "S"},
                        "items": [{"account_id": f"demo-{seed}", "name": "demo"},
                                  {"account_id": f"system-{seed}", "name": "system"}]},
                       {"name": "t-api_keys", "hashKey": {"name": "key_hash", "type": "S"},
                        "items": [{"key_hash": f"hash-{seed}", "account_id": f"demo-{seed}"}]}],
            "secrets": [{"name": "hippodrome/cell-api-key", "value": f"key-{seed}"}]}


def _ids(aws, table: str, key: str) -> set[str]:
    return {i[key]["S"] for i in aws.client("dynamodb").scan(TableName=table)["Items"]}


def test_a_seed_change_replaces_exactly_the_seeded_items_and_says_so(make_aws, tmp_path):
    state = tmp_path / "state"
    first = make_aws(state_dir=state, resources=_resources("1"), seed="1").start()
    ddb = first.client("dynamodb")
    ddb.put_item(TableName="t-accounts", Item={"account_id": {"S": "user-made"}})
    ddb.update_item(TableName="t-accounts", Key={"account_id": {"S": "demo-1"}}, UpdateExpression="SET index_count = :n",
                    ExpressionAttributeValues={":n": {"N": "20"}})
    ddb.delete_item(TableName="t-api_keys", Key={"key_hash": {"S": "hash-1"}})
    first.stop()

    # same seed: a service's change to a seeded item is kept, a deleted seeded item is back
    first.start()
    item = first.client("dynamodb").get_item(TableName="t-accounts", Key={"account_id": {"S": "demo-1"}})["Item"]
    assert item["index_count"] == {"N": "20"}
    assert _ids(first, "t-api_keys", "key_hash") == {"hash-1"}
    assert "removed" not in first.output()
    first.kill9()  # the manifest and the items agree after a kill -9 too

    second = make_aws(state_dir=state, resources=_resources("2"), seed="2").start()
    assert "fake_aws: seed changed (1 -> 2): removed 3 seeded items (t-accounts: 2, t-api_keys: 1)" in second.output()
    assert _ids(second, "t-accounts", "account_id") == {"demo-2", "system-2", "user-made"}
    assert _ids(second, "t-api_keys", "key_hash") == {"hash-2"}
    secret = second.client("secretsmanager").get_secret_value(SecretId="hippodrome/cell-api-key")
    assert secret["SecretString"] == "key-2"
    recorded = json.loads((second.moto_dir / "seeded.json").read_text())
    assert recorded["seed"] == "2" and sorted(recorded["tables"]["t-accounts"]) == [
        '{"account_id":"demo-2"}', '{"account_id":"system-2"}']
    versions_before = second.client("secretsmanager").list_secret_version_ids(SecretId="hippodrome/cell-api-key")["Versions"]
    second.stop()
    second.start()  # an unchanged secret is not written again
    versions = second.client("secretsmanager").list_secret_version_ids(SecretId="hippodrome/cell-api-key")["Versions"]
    assert len(versions) == len(versions_before)
