"""The one Kubernetes adapter (hippodrome_k8s.kube) and the CLI's ClusterApi over it, against a real API
server: answers as dicts, errors mapped to the project's tree by HTTP status (not by message)."""

from __future__ import annotations

import pytest

from hippodrome_k8s.core.errors import KubeConflict, KubeInvalid, KubeNotFound, KubeUnreachable
from hippodrome_k8s.k8s.api import KubernetesClusterApi
from hippodrome_k8s.kube import Kube

@pytest.fixture(scope="module")
def kube(crd, monkeypatch_module):
    monkeypatch_module.setenv("KUBECONFIG", str(crd.kubeconfig))
    return Kube.connect()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def stack(namespace: str, name: str = "dev") -> dict:
    return {"apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"services": [{"name": "api", "port": 9002, "layer": 0, "run": {"command": ["x"]}}]}}


def test_answers_are_dicts_and_errors_are_classes(kube, namespace):
    api = KubernetesClusterApi(kube=kube)
    assert api.get_stack(namespace, "dev") is None  # 404 -> None where absence is an answer
    created = api.apply_stack(stack(namespace))
    assert created["metadata"]["name"] == "dev" and created["metadata"]["generation"] == 1
    with pytest.raises(KubeConflict) as caught:
        kube.call("create again", kube.custom.create_namespaced_custom_object, "hippodrome.dev", "v1alpha1",
                  namespace, "hippodromestacks", stack(namespace))
    assert caught.value.status == 409 and "already exists" in str(caught.value)
    with pytest.raises(KubeNotFound):
        kube.call("read a missing Secret", kube.core.read_namespaced_secret, "nope", namespace)
    bad = stack(namespace, "Bad_Name")
    with pytest.raises(KubeInvalid):
        kube.call("create an invalid name", kube.custom.create_namespaced_custom_object, "hippodrome.dev",
                  "v1alpha1", namespace, "hippodromestacks", bad)


def test_apply_annotate_and_delete_a_stack(kube, namespace):
    api = KubernetesClusterApi(kube=kube)
    api.apply_stack(stack(namespace))
    changed = stack(namespace)
    changed["spec"]["services"][0]["port"] = 9004
    updated = api.apply_stack(changed)
    assert updated["metadata"]["generation"] == 2 and updated["spec"]["services"][0]["port"] == 9004
    annotated = api.annotate_stack(namespace, "dev", {"hippodrome.dev/control": '{"id": "1", "action": "restart"}'})
    assert annotated["metadata"]["annotations"]["hippodrome.dev/control"].startswith('{"id": "1"')
    api.apply_secret(namespace, "s", {"K": "v"})
    api.apply_secret(namespace, "s", {"K": "w"})
    assert api.pods(namespace, "hippodrome.dev/stack=dev") == []
    assert api.delete_stack(namespace, "dev") is True and api.delete_stack(namespace, "dev") is False


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(KubeUnreachable, match="cannot reach the Kubernetes API"):
        Kube.for_url("http://127.0.0.1:9", timeout=2).call("list namespaces", Kube.for_url("http://127.0.0.1:9").core.list_namespace)
