"""fake_cell seeds its own API keys at start, from HIPPODROME_SEED_CONFIG (rendered by the resolver),
before /healthz answers 200; the seed owns what it created, and a seed change replaces it."""

from __future__ import annotations

import subprocess
import sys

import marqo
import pytest

from fakes.fake_cell.seeding import Ledger, SeedAccount, SeededKey, parse_seed_config, plan_changes
from hippodrome_k8s.core import ids

from cellseed import seed_env
from hd_testing import REPO as ROOT


def accepted(cell, key: str) -> bool:
    try:
        marqo.Client(url=cell.url, api_key=key).get_indexes()
        return True
    except marqo.errors.MarqoWebError:
        return False


def test_seeded_keys_work_with_the_marqo_client_as_soon_as_the_cell_is_healthy(cell_factory):
    cell = cell_factory(FAKE_CELL_REQUIRE_API_KEY="true", HIPPODROME_SEED_CONFIG=seed_env("42"))
    assert accepted(cell, ids.api_key("42", "demo", "default"))
    assert accepted(cell, ids.api_key("42", "system", "cell"))
    assert not accepted(cell, ids.api_key("43", "demo", "default"))
    names = [k["name"] for k in cell.admin("get").json()["results"]]
    assert names == ["demo/ci", "demo/default", "system/cell"]
    assert "seed: 3 API keys for 2 accounts (3 created)" in cell.log()


def test_a_second_start_with_the_same_seed_changes_nothing(cell_factory):
    cell = cell_factory(FAKE_CELL_REQUIRE_API_KEY="true", HIPPODROME_SEED_CONFIG=seed_env("42"))
    cell.restart()
    assert "seed: 3 API keys for 2 accounts (3 unchanged)" in cell.log()
    assert accepted(cell, ids.api_key("42", "demo", "default"))


def test_keys_registered_before_the_seed_owned_them_are_replaced_not_refused(cell_factory, tmp_path):
    """Regression: the second `hippodrome up` failed with HTTP 409 'already exists with another key'."""
    old = cell_factory(state_dir=tmp_path / "shared")
    old.admin("post", json={"name": "demo/default", "key": ids.api_key("7", "demo", "default"), "accountId": "acc-7"})
    old.stop()
    cell = cell_factory(state_dir=tmp_path / "shared", FAKE_CELL_REQUIRE_API_KEY="true",
                        HIPPODROME_SEED_CONFIG=seed_env("42"))
    assert accepted(cell, ids.api_key("42", "demo", "default"))
    assert not accepted(cell, ids.api_key("7", "demo", "default"))


def test_a_seed_change_replaces_the_seeded_keys_and_drops_what_belonged_to_a_gone_account(cell_factory, tmp_path):
    state = tmp_path / "shared"
    first = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true", HIPPODROME_SEED_CONFIG=seed_env("42"))
    demo_42 = ids.account_id("42", "demo")
    first.admin("post", json={"name": "user/for-demo", "key": "user-key-1", "accountId": demo_42})
    first.admin("post", json={"name": "user/elsewhere", "key": "user-key-2", "accountId": "acc-not-seeded"})
    first.stop()

    second = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true", HIPPODROME_SEED_CONFIG=seed_env("7"))
    assert accepted(second, ids.api_key("7", "demo", "default"))
    assert not accepted(second, ids.api_key("42", "demo", "default"))
    assert not accepted(second, "user-key-1")  # its account left with the old seed
    assert accepted(second, "user-key-2")  # a user's key for another account is kept
    assert f"seed: account demo ({demo_42}) left the seed; dropped its API keys: user/for-demo" in second.log()
    names = {k["name"] for k in second.admin("get").json()["results"]}
    assert names == {"demo/ci", "demo/default", "system/cell", "user/elsewhere"}


def test_a_key_removed_from_the_seed_is_removed_from_the_cell(cell_factory, tmp_path):
    state = tmp_path / "shared"
    cell_factory(state_dir=state, HIPPODROME_SEED_CONFIG=seed_env("42")).stop()
    cell = cell_factory(state_dir=state, FAKE_CELL_REQUIRE_API_KEY="true",
                        HIPPODROME_SEED_CONFIG=seed_env("42", [{"name": "demo", "apiKeys": ["default"]}]))
    assert not accepted(cell, ids.api_key("42", "demo", "ci"))
    assert "seed: removed API keys no longer in the seed: demo/ci, system/cell" in cell.log()


@pytest.mark.parametrize("value, message", [
    ("{not json", "HIPPODROME_SEED_CONFIG is not valid JSON"),
    ('{"accounts": {}}', "must be a JSON object with an 'accounts' list"),
    ('{"accounts": [{"name": "demo"}]}', "accounts[0]: needs string 'name' and 'id'"),
    ('{"accounts": [{"name": "demo", "id": "a", "apiKeys": {"k": ""}}]}', "accounts[0].apiKeys"),
])
def test_a_bad_seed_config_exits_2_naming_the_problem(tmp_path, value, message):
    done = subprocess.run([sys.executable, "-m", "fakes.fake_cell"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HIPPODROME_STATE_DIR": str(tmp_path), "PORT": "0",
                               "HIPPODROME_SEED_CONFIG": value})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_parse_seed_config_reads_what_the_resolver_renders():
    accounts = parse_seed_config(seed_env("42"))
    assert [a.name for a in accounts] == ["demo", "system"]
    assert SeededKey("demo/default", ids.api_key("42", "demo", "default"), ids.account_id("42", "demo")) in accounts[0].keys
    assert {k.name for k in accounts[0].keys} == {"demo/default", "demo/ci"}


KEY = SeededKey("demo/default", "k2", "acc-2")


@pytest.mark.parametrize("ledger, existing, expected_remove, expected_dropped", [
    (Ledger({}, {}), {}, (), {}),
    (Ledger({"demo/default": "acc-1"}, {"demo": "acc-1"}), {"demo/default": "acc-1"}, (), {}),
    (Ledger({"demo/default": "acc-1", "demo/old": "acc-1"}, {"demo": "acc-1"}),
     {"demo/default": "acc-1", "demo/old": "acc-1", "mine": "acc-1", "other": "acc-9"},
     ("demo/old",), {"demo (acc-1)": ("mine",)}),
    (Ledger({"demo/old": "acc-1"}, {}), {}, (), {}),
], ids=["first-run", "seed-changed-same-names", "seed-changed-with-user-keys", "ledger-entry-already-gone"])
def test_plan_changes(ledger, existing, expected_remove, expected_dropped):
    changes = plan_changes(ledger, (SeedAccount("demo", "acc-2", (KEY,)),), existing)
    assert changes.put == (KEY,)
    assert changes.remove == expected_remove
    assert dict(changes.dropped) == expected_dropped
