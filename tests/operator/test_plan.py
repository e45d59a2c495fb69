"""plan() table tests: layer states x blocking/non-blocking x profile changes x deletion x invalid specs."""

from __future__ import annotations

import json

import pytest

from hippodrome_operator import children
from hippodrome_operator.desired import desired_from_body
from hippodrome_k8s.core.contract import ControlRequest
from hippodrome_operator.plan import ChildState, Desired, Observed, observe, plan, rejected, teardown
from hippodrome_operator.status import compute
from operator_harness import load_fixture

# moto, fake_cell: layer 0 | controller, exporters (non-blocking): layer 1 | console (full only): layer 2


def desired(profile: str = "full", **overrides) -> Desired:
    body = load_fixture()
    body["spec"]["profile"] = profile
    body["metadata"].update(namespace="ns", uid="uid-1", annotations=overrides.pop("annotations", {}))
    d = desired_from_body(body, now_iso="2030-01-01T00:00:00Z")
    return Desired(**{**_fields(d), **overrides})


def _fields(d: Desired) -> dict:
    return {k: v for k, v in d.__dict__.items() if k != "manifests"}  # a cache, not an input


def observed_for(d: Desired, ready: set[str] = frozenset(), present: set[str] | None = None,
                 stale: set[str] = frozenset(), extra: dict[str, int] | None = None,
                 deleting: set[str] = frozenset(), last_control: str | None = None) -> Observed:
    """Children as if created from ``d``: ``present`` exist (default: all), ``ready`` are available."""
    deps, svcs, claims = {}, {}, set()
    for ps in d.services:
        if present is not None and ps.name not in present:
            continue
        if ps.spec.stateful:
            claims.add(ps.name)
        want = children.deployment(d.stack, ps, default_image=d.default_image,
                                   replicas=0 if ps.name in d.stopped else 1)
        h = "old" if ps.name in stale else want["metadata"]["annotations"][children.ANNOTATION_HASH]
        deps[ps.name] = ChildState(want["metadata"]["name"], ps.name, ps.layer, h, want["spec"]["replicas"],
                                   1 if ps.name in ready else 0, ps.name in ready, ps.name in deleting)
        svc = children.service(d.stack, ps)
        svcs[ps.name] = ChildState(svc["metadata"]["name"], ps.name, ps.layer,
                                   svc["metadata"]["annotations"][children.ANNOTATION_HASH], deleting=ps.name in deleting)
    for name, layer in (extra or {}).items():
        deps[name] = ChildState(f"dev-{name}", name, layer, "x", 1, 1, True)
        svcs[name] = ChildState(f"dev-{name}", name, layer, "x")
    return Observed(deps, svcs, {}, last_control, claims=frozenset(claims))


def summary(decision) -> list[str]:
    return [f"{a.verb} {a.kind} {a.name}" for a in decision.actions]


LAYER0 = {"moto", "fake_cell"}
UP_TO_1 = LAYER0 | {"controller", "exporters"}
ALL = UP_TO_1 | {"console"}


@pytest.mark.parametrize("present, ready, expect_created, gated_from", [
    (set(), set(), {"moto", "fake_cell"}, 1),                                  # nothing yet: layer 0 only
    (LAYER0, {"moto"}, set(), 1),                                              # half of layer 0 ready: wait
    (LAYER0, LAYER0, {"controller", "exporters"}, 2),                          # layer 0 ready: layer 1
    (UP_TO_1, LAYER0 | {"exporters"}, set(), 2),                               # blocking controller not ready
    (UP_TO_1, LAYER0 | {"controller"}, {"console"}, None),                     # non-blocking exporters never gate
    (ALL, ALL, set(), None),                                                   # converged: nothing to do
])
def test_layer_gating(present, ready, expect_created, gated_from) -> None:
    d = desired()
    decision = plan(d, observed_for(d, ready=ready, present=present))
    created = {a.name for a in decision.actions if a.verb == "create" and a.kind == "Deployment"}
    assert created == {children.object_name(d.stack, n) for n in expect_created}
    assert decision.gated_from == gated_from
    assert all(a.verb == "create" for a in decision.actions)


def test_converged_stack_plans_nothing_and_status_is_stable() -> None:
    d = desired()
    obs = observed_for(d, ready=ALL)
    decision = plan(d, obs)
    assert decision.actions == ()
    first = compute(d, obs, decision, previous=None, generation=3, now=100.0, now_iso="t1")
    again = compute(d, obs, decision, previous=first, generation=3, now=200.0, now_iso="t2")
    assert first == again, "an unchanged stack must give an identical status (no writes, no events)"
    assert first["phase"] == "Ready" and first["readyServices"] == "5/5" and first["currentLayer"] == 2


def test_profile_change_removes_then_rolls_in_layer_order() -> None:
    before = desired("full")
    after = desired("core")
    obs = observed_for(before, ready=ALL)
    decision = plan(after, obs)
    assert "delete Deployment dev-console" in summary(decision)
    assert "delete Service dev-console" in summary(decision)
    patched = {a.name for a in decision.actions if a.verb == "patch"}
    # env changed everywhere (HIPPODROME_PROFILE, no CONSOLE_URL): layer 0 rolls first, layer 1 waits
    assert patched == {"dev-moto", "dev-fake-cell"}
    assert decision.gated_from == 1


def test_removals_go_highest_layer_first() -> None:
    d = desired("core")
    obs = observed_for(d, ready=UP_TO_1, extra={"old_a": 1, "old_b": 3})
    assert [a.name for a in plan(d, obs).actions if a.verb == "delete"] == ["dev-old_b", "dev-old_b"]


def test_changed_image_rolls_only_that_service() -> None:
    d = desired()
    obs = observed_for(d, ready=ALL, stale={"controller"})
    decision = plan(d, obs)
    assert summary(decision) == ["patch Deployment dev-controller"]
    assert decision.actions[0].body["spec"]["template"]["spec"]["containers"][0]["image"] == "hippodrome/examples:1"


@pytest.mark.parametrize("action, service, expect", [
    ("stop", "console", ["patch Deployment dev-console", "patch HippodromeStack dev"]),
    ("restart", "controller", ["patch Deployment dev-controller"]),
    ("restart", None, [f"patch Deployment dev-{n}" for n in ("moto", "fake-cell", "controller", "exporters", "console")]),
    ("start", "console", []),
    ("explode", None, []),
])
def test_control(action, service, expect) -> None:
    d = desired(control=ControlRequest("c1", action, service))
    decision = plan(d, observed_for(d, ready=ALL))
    assert sorted(summary(decision)) == sorted(expect)
    result = decision.control_result.to_status()
    assert result["id"] == "c1"
    if action == "explode":
        assert result["result"].startswith("error: unknown action 'explode' (allowed: restart, stop, start)")
    else:
        assert result["result"] == "ok"


def test_a_malformed_control_annotation_is_reported_once_not_dropped() -> None:
    """Regression: the parse error was dropped, so `hippodrome k8s control` only timed out."""
    d = desired(annotations={"hippodrome.dev/control": "{not json"})
    decision = plan(d, observed_for(d, ready=ALL))
    assert decision.actions == ()
    result = decision.control_result.to_status()
    assert result["result"] == "error: hippodrome.dev/control is not JSON" and result["id"].startswith("invalid-")
    assert plan(d, observed_for(d, ready=ALL, last_control=result["id"])).control_result is None


def test_control_is_applied_once_per_id() -> None:
    d = desired(control=ControlRequest("c1", "restart", "controller"))
    assert plan(d, observed_for(d, ready=ALL, last_control="c1")).actions == ()


def test_stopped_service_does_not_gate_and_reports_stopped() -> None:
    d = desired(annotations={"hippodrome.dev/stopped": "moto"})
    assert d.stopped == {"moto"}
    decision = plan(d, observed_for(d, ready={"fake_cell"}, present=LAYER0))
    assert {a.name for a in decision.actions if a.verb == "create" and a.kind == "Deployment"} == \
        {"dev-controller", "dev-exporters"}
    status = compute(d, observed_for(d, ready={"fake_cell"}, present=LAYER0), decision, previous=None,
                     generation=1, now=1.0, now_iso="t")
    assert status["services"]["moto"]["status"] == "stopped"


def test_invalid_spec_plans_nothing_and_fails() -> None:
    d = desired(error="spec.services[1].port: port 9003 is already used")
    obs = observed_for(desired(), ready=ALL)
    decision = plan(d, obs)
    assert decision.actions == ()
    status = compute(d, obs, decision, previous=None, generation=2, now=1.0, now_iso="t")
    assert status["phase"] == "Failed" and "9003" in status["message"]


def test_invalid_spec_from_the_validators() -> None:
    body = load_fixture()
    body["spec"]["services"][4]["layer"] = 5  # layers must be contiguous
    body["metadata"].update(namespace="ns", uid="u")
    d = desired_from_body(body)
    assert d.error and "contiguous" in d.error and d.services == ()


@pytest.mark.parametrize("present, deleting, expect, done", [
    (ALL, set(), {"dev-console"}, False),
    (ALL, {"console"}, set(), False),                 # wait for layer 2 to be gone
    (UP_TO_1, set(), {"dev-controller", "dev-exporters"}, False),
    (LAYER0, set(), {"dev-moto", "dev-fake-cell"}, False),
    (set(), set(), set(), True),
])
def test_teardown_reverse_layer_order(present, deleting, expect, done) -> None:
    d = desired()
    actions, finished = teardown(observed_for(d, present=present, deleting=deleting))
    assert {a.name for a in actions} == expect and finished is done
    assert all(a.verb == "delete" for a in actions)


def test_observe_reads_availability_for_the_current_generation() -> None:
    dep = {"metadata": {"name": "dev-moto", "generation": 2, "labels": {"hippodrome.dev/service": "moto",
                                                                      "hippodrome.dev/layer": "0"}},
           "spec": {"replicas": 1},
           "status": {"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 1}}
    assert not observe([dep], []).deployments["moto"].available
    dep["status"]["observedGeneration"] = 2
    assert observe([dep], []).deployments["moto"].available
    dep["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    assert observe([dep], []).deployments["moto"].failure.startswith("ProgressDeadlineExceeded")


def _deployment(generation: int, observed: int, replicas: int, updated: int, available: int, spec: int = 1) -> dict:
    return {"metadata": {"name": "dev-moto", "generation": generation,
                         "labels": {"hippodrome.dev/service": "moto", "hippodrome.dev/layer": "0"}},
            "spec": {"replicas": spec},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                       "availableReplicas": available}}


@pytest.mark.parametrize("generation, observed, replicas, updated, available, spec, ok", [
    (2, 2, 1, 1, 1, 1, True),    # rolled out
    (2, 2, 2, 1, 1, 1, False),   # mid rolling update: the available pod is the OLD one (regression)
    (2, 2, 2, 2, 1, 2, False),   # two wanted, one available
    (2, 1, 1, 1, 1, 1, False),   # the controller has not seen generation 2 yet
    (2, 2, 1, 0, 1, 1, False),   # the only pod runs the old template
    (2, 2, 1, 1, 0, 1, False),   # the new pod is not available yet
    (2, 3, 1, 1, 1, 1, True),    # observed ahead of the cached generation
    (2, 2, 0, 0, 0, 0, False),   # scaled to zero: nothing to gate on
])
def test_a_deployment_is_available_only_when_kubectl_would_call_it_rolled_out(
        generation, observed, replicas, updated, available, spec, ok) -> None:
    assert observe([_deployment(generation, observed, replicas, updated, available, spec)], []) \
        .deployments["moto"].available is ok


def test_layer_1_waits_while_layer_0_is_mid_rollout() -> None:
    d = desired()
    obs = observed_for(d, ready=LAYER0, present=LAYER0)
    mid = {**obs.deployments, "moto": observe([_deployment(2, 2, 2, 1, 1)], []).deployments["moto"]}
    mid["moto"] = ChildState(obs.deployments["moto"].name, "moto", 0, obs.deployments["moto"].spec_hash, 1, 2,
                             mid["moto"].available)
    decision = plan(d, Observed(mid, obs.services, {}, None))
    assert decision.gated_from == 1 and not [a for a in decision.actions if a.layer == 1]


def test_services_above_a_layer_mid_rollout_stay_ready() -> None:
    """Regression (found on a real control plane, tests/cluster/test_layer_gating.py): while a layer-0 service
    rolled out a new spec, every service above it, its pods still Ready, reported `starting` and not ready (no
    hash was computed above the closed gate), so readyServices dropped and `control restart moto` looked like
    an outage of the whole stack."""
    d = desired()
    obs = observed_for(d, ready=ALL - {"moto"}, stale={"moto"})
    decision = plan(d, obs)
    assert decision.gated_from == 1 and summary(decision) == ["patch Deployment dev-moto"]
    status = compute(d, obs, decision, previous=None, generation=2, now=1.0, now_iso="t")
    assert status["services"]["controller"]["ready"] is True and status["services"]["controller"]["status"] == "running"
    assert status["services"]["moto"]["ready"] is False and status["readyServices"] == "4/5"
    assert status["phase"] == "Progressing"


def test_children_manifests() -> None:
    d = desired()
    ps = next(s for s in d.services if s.name == "fake_cell")
    dep = children.deployment(d.stack, ps, default_image="hippodrome/fakes:dev")
    labels = dep["metadata"]["labels"]
    assert labels["hippodrome.dev/stack"] == "dev" and labels["hippodrome.dev/layer"] == "0"
    assert labels["app.kubernetes.io/managed-by"] == "hippodrome-operator"
    assert dep["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOST"] == "0.0.0.0"
    assert env["CONTROLLER_URL"] == "http://dev-controller.ns.svc.cluster.local:9002"
    assert c["image"] == "hippodrome/fakes:dev" and c["command"] == ["python", "-m", "fakes.fake_cell"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["ports"][0]["containerPort"] == 9001
    console = children.deployment(d.stack, next(s for s in d.services if s.name == "console"), default_image="x")
    assert console["spec"]["template"]["spec"]["containers"][0]["command"] == ["node", "/app/console/server.js"]
    svc = children.service(d.stack, ps)
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 9001
    json.dumps(dep)  # plain JSON


def test_the_reconciler_reuses_a_desired_until_its_generation_or_controls_change():
    from hippodrome_operator.reconcile import Config, desired_for

    body = load_fixture()
    body["metadata"].update(namespace="ns", uid="uid-cache", generation=1, annotations={})
    img1, img2 = Config(default_image="img:1"), Config(default_image="img:2")
    first = desired_for(body, img1, "t1")
    assert desired_for(body, img1, "t2") is first
    assert plan(first, observe([], [])).actions == plan(desired_from_body(body, default_image="img:1"), observe([], [])).actions
    body["metadata"]["generation"] = 2
    second = desired_for(body, img1, "t3")
    assert second is not first
    body["metadata"]["annotations"] = {"hippodrome.dev/stopped": "console"}
    third = desired_for(body, img1, "t4")
    assert third is not second
    body["metadata"]["annotations"]["hippodrome.dev/encryption-secret-hash"] = "abc"
    assert desired_for(body, img1, "t4") is not third and desired_for(body, img1, "t5").secret_hash == "abc"
    assert desired_for(body, img2, "t4").default_image == "img:2"
    assert desired_for(body, Config(state_storage="emptyDir"), "t4").state_storage == "emptyDir"


@pytest.mark.parametrize("http_status, refused", [
    (400, True), (403, True), (422, True),          # the request itself is wrong: retrying cannot help
    (404, False), (409, False),                     # gone / already there: the next round sees the truth
    (408, False), (429, False),                     # timeout / throttled: retry
    (500, False), (503, False), (None, False),      # the server or the network: retry with backoff
])
def test_which_api_errors_are_not_retried(http_status, refused) -> None:
    assert rejected(http_status) is refused


def test_a_refused_generation_plans_nothing_until_the_spec_changes() -> None:
    d = desired()
    held = plan(Desired(**{**_fields(d), "generation": 3}), Observed(rejected_generation=3))
    assert held.actions == () and held.held
    again = plan(Desired(**{**_fields(d), "generation": 4}), Observed(rejected_generation=3))
    assert not again.held and {a.name for a in again.actions if a.kind == "Deployment"} == {"dev-moto", "dev-fake-cell"}


def test_refused_requests_become_a_failed_status_named_per_service() -> None:
    d = desired(generation=2)
    obs = observed_for(d, present=set())
    decision = plan(d, obs)
    refused = {"fake_cell": "create Service/dev-fake-cell: HTTP 422 Service \"dev-fake-cell\" is invalid"}
    status = compute(d, obs, decision, previous=None, generation=2, now=1.0, now_iso="t", refused=refused)
    assert status["phase"] == "Failed" and status["rejectedGeneration"] == 2
    assert status["services"]["fake_cell"]["status"] == "failed" and "HTTP 422" in status["services"]["fake_cell"]["message"]
    assert status["services"]["moto"]["status"] == "pending"
    assert "fake_cell: create Service/dev-fake-cell: HTTP 422" in status["message"]
    held = plan(d, observe([], [], [], status))
    assert held.held
    assert compute(d, observe([], [], [], status), held, previous=status, generation=2, now=5.0, now_iso="t2") == status


def test_the_children_are_tagged_with_their_service() -> None:
    d = desired()
    assert {(a.kind, a.service) for a in plan(d, observed_for(d, present=set())).actions} == {
        ("Deployment", "moto"), ("Service", "moto"), ("Deployment", "fake_cell"), ("Service", "fake_cell"),
        ("PersistentVolumeClaim", "fake_cell")}


@pytest.mark.parametrize("name", ["9lives", "-dev", "Dev", "dev_1"])
def test_a_stack_name_a_service_cannot_carry_is_refused_before_any_request(name) -> None:
    body = load_fixture()
    body["metadata"].update(name=name, namespace="ns", uid="u")
    d = desired_from_body(body)
    assert d.error and "metadata.name" in d.error and d.services == ()
    assert plan(d, Observed()).actions == ()
