"""The children's manifests, built purely from a stack: env, state, security, the encryption Secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippodrome_k8s.core import ids
from hippodrome_operator import children
from hippodrome_operator.desired import desired_from_body
from hippodrome_operator.plan import Observed, observe, plan, teardown
from operator_harness import load_fixture

ROOT = Path(__file__).resolve().parents[2]


def body(name: str = "small.yaml", **meta) -> dict:
    doc = load_fixture(name)
    doc["metadata"].update(namespace="ns", uid="uid-1", generation=1, **meta)
    return doc


def container(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


STACKS = ["small.yaml", "seeded.yaml"]


@pytest.mark.parametrize("name", STACKS)
def test_every_env_var_the_resolver_renders_reaches_the_container(name: str) -> None:
    d = desired_from_body(body(name))
    assert d.error is None and d.services
    for ps in d.services:
        env = container(d.deployment(ps, 1))["env"]
        assert [e["name"] for e in env] == sorted(ps.env) + ["HIPPODROME_POD_IP"], ps.name
        assert env[-1]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}  # allowed as a Host (origins.py)
        for e in env[:-1]:
            if e["name"] == "HIPPODROME_ENCRYPTION_SECRET":
                assert e["valueFrom"] == {"secretKeyRef": {"name": "hippodrome-encryption",
                                                           "key": "HIPPODROME_ENCRYPTION_SECRET", "optional": True}}
            else:
                assert e == {"name": e["name"], "value": ps.env[e["name"]]}, ps.name


def test_fake_cell_in_the_cluster_carries_the_seeded_api_keys() -> None:
    """Regression: in the cluster only the local supervisor's seeder registered fake_cell's API keys, so every
    in-cluster call got 401; fake_cell now seeds itself from HIPPODROME_SEED_CONFIG, which must reach it."""
    d = desired_from_body(body("seeded.yaml"))
    fake_cell = next(ps for ps in d.services if ps.name == "fake_cell")
    env = {e["name"]: e.get("value") for e in container(d.deployment(fake_cell, 1))["env"]}
    config = json.loads(env["HIPPODROME_SEED_CONFIG"])
    accounts = {a["name"]: a for a in config["accounts"]}
    assert accounts["demo"]["apiKeys"] == {"default": ids.api_key("42", "demo", "default")}
    assert accounts["system"]["apiKeys"] == {"cell": ids.api_key("42", "system", "cell")}
    assert accounts["demo"]["id"] == ids.account_id("42", "demo")
    assert accounts["demo"]["systemAccountId"] == ids.system_account_id("42", "demo")
    controller = next(ps for ps in d.services if ps.name == "controller")
    controller_env = {e["name"]: e.get("value") for e in container(d.deployment(controller, 1))["env"]}
    assert controller_env["CELL_API_KEY"] == accounts["system"]["apiKeys"]["cell"], "the key the services present"


def test_a_stateful_service_is_replaced_never_rolled_and_keeps_its_data_in_a_claim() -> None:
    d = desired_from_body(body())
    fake_cell = next(ps for ps in d.services if ps.name == "fake_cell")
    dep = d.deployment(fake_cell, 1)
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    (volume,) = dep["spec"]["template"]["spec"]["volumes"]
    assert volume == {"name": "state", "persistentVolumeClaim": {"claimName": "dev-fake-cell-state"}}
    assert container(dep)["volumeMounts"] == [{"name": "state", "mountPath": "/var/lib/hippodrome"}]
    claim = children.claim(d.stack, fake_cell, "2Gi")
    assert claim["metadata"]["name"] == "dev-fake-cell-state" and "ownerReferences" not in claim["metadata"]
    assert claim["metadata"]["labels"]["hippodrome.dev/stack"] == "dev"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
    moto = next(ps for ps in d.services if ps.name == "moto")
    stateless = d.deployment(moto, 1)
    assert "strategy" not in stateless["spec"]  # RollingUpdate, the default
    assert stateless["spec"]["template"]["spec"]["volumes"] == [{"name": "state", "emptyDir": {}}]


def test_without_a_provisioner_the_state_is_an_emptydir_and_no_claim_is_made() -> None:
    d = desired_from_body(body(), state_storage="emptyDir")
    fake_cell = next(ps for ps in d.services if ps.name == "fake_cell")
    dep = d.deployment(fake_cell, 1)
    assert dep["spec"]["template"]["spec"]["volumes"] == [{"name": "state", "emptyDir": {}}]
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert not [a for a in plan(d, Observed()).actions if a.kind == "PersistentVolumeClaim"]


def test_the_claim_is_created_with_its_layer_once_and_never_deleted() -> None:
    d = desired_from_body(body())
    first = plan(d, Observed())
    claims = [a for a in first.actions if a.kind == "PersistentVolumeClaim"]
    assert [(a.verb, a.name, a.layer, a.service) for a in claims] == [("create", "dev-fake-cell-state", 0, "fake_cell")]
    claim = children.claim(d.stack, next(ps for ps in d.services if ps.name == "fake_cell"), "1Gi")
    again = plan(d, observe([], [], claims=[claim]))
    assert not [a for a in again.actions if a.kind == "PersistentVolumeClaim"]
    deployments = [a.body for a in first.actions if a.kind == "Deployment"]
    actions, _ = teardown(observe(deployments, [], claims=[claim]))
    assert actions and all(a.kind != "PersistentVolumeClaim" for a in actions)


def test_pods_run_as_non_root_and_a_new_secret_rolls_them() -> None:
    plain = desired_from_body(body())
    with_secret = desired_from_body(body(annotations={"hippodrome.dev/encryption-secret-hash": "0123abcd"}))
    for ps in plain.services:
        dep = plain.deployment(ps, 1)
        assert dep["spec"]["template"]["spec"]["securityContext"] == {"runAsNonRoot": True}
        assert "annotations" not in dep["spec"]["template"]["metadata"]
        rolled = with_secret.deployment(next(s for s in with_secret.services if s.name == ps.name), 1)
        assert rolled["spec"]["template"]["metadata"]["annotations"] == {"hippodrome.dev/encryption-secret-hash": "0123abcd"}
        assert rolled["metadata"]["annotations"]["hippodrome.dev/spec-hash"] != dep["metadata"]["annotations"]["hippodrome.dev/spec-hash"]


def test_a_link_is_the_forwarded_address_a_service_url_stays_in_the_cluster() -> None:
    """Regression: ${links.search_proxy} became a cluster DNS name, handed as marqoEndpoint to clients on the
    host, who come in through the port-forwards and cannot resolve it."""
    d = desired_from_body(body("seeded.yaml"))
    controller = next(ps for ps in d.services if ps.name == "controller")
    env = {e["name"]: e.get("value") for e in container(d.deployment(controller, 1))["env"]}
    assert env["MARQO_ENDPOINT"] == "http://127.0.0.1:9001"  # the CLI (and Tilt) forward each port as itself
    assert env["CELL_SERVICE_URL"] == "http://dev-fake-cell.ns.svc.cluster.local:9001"


@pytest.mark.parametrize("name", STACKS)
def test_in_cluster_calls_name_a_host_the_called_service_allows(name: str) -> None:
    """Issue 14: services refuse a Host outside their allow-list; in the cluster they call each other by their
    cluster DNS names (${services.X.url}), so every such name must be one the called service allows."""
    from urllib.parse import urlsplit

    d = desired_from_body(body(name))
    allowed = {ps.name: set(ps.env["HIPPODROME_ALLOWED_HOSTS"].split(",")) for ps in d.services}
    by_url = {ps.url: ps.name for ps in d.services}
    calls = [(ps.name, by_url[v], urlsplit(v).hostname) for ps in d.services for v in ps.env.values() if v in by_url]
    assert calls, "the fixture stack makes no in-cluster call"
    for caller, called, host in calls:
        assert host in allowed[called], (caller, called, host)
