"""The control plane's pure decisions, checked without starting anything."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cp_build
import cp_config

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("cp_generate", REPO / "controlplane" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_reads_staging_replacements_from_a_go_mod():
    gen = _generator()
    gomod = "module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n" \
            "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n\tgithub.com/x/y => github.com/x/y v1.0.0\n)\n" \
            "replace k8s.io/kms v0.0.0 => ./staging/src/k8s.io/kms\n"
    assert gen.local_replacements(gomod) == ["k8s.io/api", "k8s.io/client-go", "k8s.io/kms"]
    assert gen.staging_version("v1.37.2") == "v0.37.2"


def test_the_committed_go_mod_replaces_every_staging_module_at_the_pinned_release():
    gomod = (REPO / "controlplane" / "go.mod").read_text()
    v = cp_build.pinned_versions(gomod)
    assert v.kubernetes.startswith("v1.37.")
    staging = _generator().staging_version(v.kubernetes)
    replaced = [line.split() for line in gomod.splitlines() if "=>" in line]
    assert len(replaced) >= 30
    assert all(r[0] == r[2] and r[3] == staging and r[0].startswith("k8s.io/") for r in replaced)


def test_versions_are_stamped_for_both_version_packages():
    flags = cp_build.ldflags(cp_build.Versions("v1.37.2", "v3.7.3", "v0.8.0"))
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.37.2" in flags and f"-X {pkg}.gitMinor=37" in flags
    assert flags.startswith("-s -w")


def test_the_cache_key_changes_with_the_module_sums():
    v = cp_build.Versions("v1.37.2", "v3.7.3", "v0.8.0")
    a, b = cp_build.cache_key(v, b"mod", b"sum1"), cp_build.cache_key(v, b"mod", b"sum2")
    assert a != b and a.startswith("kubernetes-v1.37.2_etcd-v3.7.3_kwok-v0.8.0_")


def test_components_listen_on_loopback_only():
    lay, ports = cp_config.Layout(Path("/run")), cp_config.Ports(1, 2, 3, 4, 5, 6)
    bin_dir = Path("/bin")
    api = cp_config.apiserver_args(bin_dir, lay, ports)
    assert "--bind-address=127.0.0.1" in api and "--authorization-mode=RBAC" in api
    assert any(a.startswith("--audit-log-path=") for a in api)
    for args in (cp_config.controller_manager_args(bin_dir, lay, ports), cp_config.scheduler_args(bin_dir, lay, ports)):
        assert "--bind-address=127.0.0.1" in args
    etcd = cp_config.etcd_args(bin_dir, lay, ports)
    assert all("127.0.0.1" in a for a in etcd if "urls" in a)
    assert "--server-address=127.0.0.1:6" in cp_config.kwok_args(bin_dir, lay, ports)


def test_skip_reasons_name_the_cause():
    assert "HIPPODROME_SKIP_CLUSTER" in cp_build.unavailable_reason({"HIPPODROME_SKIP_CLUSTER": "1"}, have_go=True, built=True)
    assert "`go` is not on PATH" in cp_build.unavailable_reason({}, have_go=False, built=False)
    assert cp_build.unavailable_reason({}, have_go=False, built=True) is None
    assert cp_build.unavailable_reason({"HIPPODROME_SKIP_CLUSTER": "0"}, have_go=True, built=False) is None


def test_kwok_reads_port_forwards_from_the_api_server_and_holds_only_labelled_pods():
    import yaml

    lay, ports = cp_config.Layout(Path("/run")), cp_config.Ports(1, 2, 3, 4, 5, 6)
    assert "--enable-crds=PortForward" in cp_config.kwok_args(Path("/bin"), lay, ports)
    stages = {d["metadata"]["name"]: d["spec"] for d in map(yaml.safe_load, cp_config.DEFAULT_STAGES)}
    held = {cp_config.HELD_LABEL: cp_config.HELD_INSTANCE}
    assert stages["hippodrome-pod-hold"]["selector"]["matchLabels"] == held
    assert stages["hippodrome-pod-release"]["selector"]["matchAnnotations"] == {cp_config.RELEASE_ANNOTATION: "true"}
    ready = stages["hippodrome-pod-ready"]["selector"]["matchExpressions"]
    assert {"key": f'.metadata.labels["{cp_config.HELD_LABEL}"]', "operator": "NotIn",
            "values": [cp_config.HELD_INSTANCE]} in ready, "a held pod must not also match the fast ready stage"
    assert cp_config.port_forward("p", "ns", 80, "127.0.0.1", 1234)["spec"]["forwards"] == [
        {"ports": [80], "target": {"address": "127.0.0.1", "port": 1234}}]


def test_the_operators_rbac_loses_exactly_one_verb():
    import pytest
    from chart_operator import without_verb

    rbac = [{"kind": "Role", "rules": [{"resources": ["deployments"], "verbs": ["get", "create"]},
                                       {"resources": ["services"], "verbs": ["create"]}]}]
    edited = without_verb(rbac, "deployments", "create")
    assert edited[0]["rules"] == [{"resources": ["deployments"], "verbs": ["get"]},
                                  {"resources": ["services"], "verbs": ["create"]}]
    assert rbac[0]["rules"][0]["verbs"] == ["get", "create"]       # the original is untouched
    with pytest.raises(ValueError):
        without_verb(rbac, "pods", "delete")


def test_writes_are_counted_per_user_namespace_and_time():
    from cluster_stacks import writes_by

    def event(user, verb, ns, ts, stage="ResponseComplete"):
        return {"stage": stage, "user": {"username": user}, "verb": verb, "objectRef": {"namespace": ns},
                "requestReceivedTimestamp": ts}
    events = [event("op", "patch", "n", "2026-01-01T00:00:01Z"), event("op", "get", "n", "2026-01-01T00:00:02Z"),
              event("op", "create", "m", "2026-01-01T00:00:03Z"), event("me", "patch", "n", "2026-01-01T00:00:04Z"),
              event("op", "delete", "n", "2026-01-01T00:00:05Z", stage="ResponseStarted"),
              event("op", "update", "n", "2026-01-01T00:00:06Z")]
    assert [e["verb"] for e in writes_by(events, "op", "n")] == ["patch", "update"]
    assert [e["verb"] for e in writes_by(events, "op", "n", since="2026-01-01T00:00:02Z")] == ["update"]
