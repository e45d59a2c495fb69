"""The seed owns the pools, clients, groups and users it declares: a seed change replaces them
(regression: each run with another seed left one more user pool behind)."""

from __future__ import annotations

import pytest

from fakes.fake_cognito.seeding import Ledger, Removals, plan_removals
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.resolver import ResolveOptions, resolve

USERS = [{"username": "alice@example.com", "email": "alice@example.com", "password": "Passw0rd!x", "groups": ["admins"]},
         {"username": "bob@example.com", "email": "bob@example.com", "password": "Passw0rd!y"}]


def cognito_env(seed: str, users=USERS) -> dict[str, str]:
    """HIPPODROME_COGNITO_CONFIG and the seed, as the resolver renders them for the stack's fake_cognito."""
    doc = {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "s"},
           "spec": {"cognito": {"service": "fake_cognito", "userPools": [{
               "name": "main", "clients": [{"name": "web"}], "groups": [{"name": "admins"}], "users": users}]},
               "services": [{"name": "fake_cognito", "port": 9012, "layer": 0, "run": {"command": ["x"]},
                             "env": {"HIPPODROME_COGNITO_CONFIG": "${cognito.config}"}}]}}
    env = resolve(load_stack_data(doc), ResolveOptions(seed=seed)).service("fake_cognito").env
    return {"HIPPODROME_COGNITO_CONFIG": env["HIPPODROME_COGNITO_CONFIG"], "HIPPODROME_RANDOM_SEED": seed}


def start(make_fake, state_dir, seed, **kwargs):
    server = make_fake(state_dir=state_dir, seed=seed, declared=None)
    server.env.update(cognito_env(seed, **kwargs))
    return server.start()


def pools(server) -> list[str]:
    return sorted(p["Id"] for p in server.client().list_user_pools(MaxResults=60)["UserPools"])


def test_a_seed_change_replaces_the_pool_and_lists_what_users_created_in_it(make_fake, tmp_path):
    first = start(make_fake, tmp_path / "state", "42")
    cognito = first.client()
    [old_pool] = pools(first)
    cognito.admin_create_user(UserPoolId=old_pool, Username="carol@example.com")
    first.stop()

    second = start(make_fake, tmp_path / "state", "7")
    [new_pool] = pools(second)
    assert new_pool != old_pool
    users = [u["Username"] for u in second.client().list_users(UserPoolId=new_pool)["Users"]]
    assert sorted(users) == ["alice@example.com", "bob@example.com"]
    log = second.log.read_text()
    assert f"removed seeded pool main {old_pool} (no longer declared)" in log
    assert f"dropped with pool {old_pool}: users carol@example.com" in log


def test_the_same_seed_again_keeps_everything_and_a_users_own_objects(make_fake, tmp_path):
    first = start(make_fake, tmp_path / "state", "42")
    [pool] = pools(first)
    first.client().admin_create_user(UserPoolId=pool, Username="carol@example.com")
    first.stop()
    second = start(make_fake, tmp_path / "state", "42")
    assert pools(second) == [pool]
    users = sorted(u["Username"] for u in second.client().list_users(UserPoolId=pool)["Users"])
    assert users == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert "removed" not in second.log.read_text()


def test_a_user_removed_from_the_declaration_is_removed(make_fake, tmp_path):
    start(make_fake, tmp_path / "state", "42").stop()
    second = start(make_fake, tmp_path / "state", "42", users=USERS[:1])
    [pool] = pools(second)
    assert [u["Username"] for u in second.client().list_users(UserPoolId=pool)["Users"]] == ["alice@example.com"]
    assert f"removed seeded user bob@example.com from {pool}" in second.log.read_text()


@pytest.mark.parametrize("previous, declared, expected", [
    (Ledger(), Ledger({"p1": "main"}, {"c1": "p1"}), Removals()),
    (Ledger({"p0": "main"}, {"c0": "p0"}, frozenset({("p0", "g")}), frozenset({("p0", "a")})),
     Ledger({"p1": "main"}, {"c1": "p1"}), Removals(pools=("p0",))),
    (Ledger({"p1": "main"}, {"c1": "p1", "c2": "p1"}, frozenset({("p1", "g"), ("p1", "h")}),
            frozenset({("p1", "a"), ("p1", "b")})),
     Ledger({"p1": "main"}, {"c1": "p1"}, frozenset({("p1", "g")}), frozenset({("p1", "a")})),
     Removals(clients=("c2",), groups=(("p1", "h"),), users=(("p1", "b"),))),
], ids=["first-run", "seed-changed", "declarations-shrank"])
def test_plan_removals(previous, declared, expected):
    assert plan_removals(previous, declared) == expected
