"""The kind cluster step with a fake runner: reuse after a reboot waits for /readyz; images load through an
archive when Docker's containerd image store breaks ``kind load docker-image``; one pinned kind release."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.k8s.cluster import CONFIG_PATH, KIND_VERSION, KindCluster, kubernetes_minor, needs_archive, node_image
from hippodrome_k8s.k8s.runner import Completed, FakeRunner

READYZ = ("kubectl", "--context", "kind-hippodrome", "get", "--raw", "/readyz")
CONTAINERD_STORE_ERROR = ("ERROR: failed to load image: command \"docker exec --privileged -i hippodrome-control-plane "
                          "ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" "
                          "failed with error: exit status 1\nctr: content digest sha256:4f2c0b1e: not found")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def reused(runner: FakeRunner, running: str = "false") -> FakeRunner:
    runner.answer("kind", "get", "clusters", stdout="hippodrome\n")
    runner.answer("docker", "inspect", "-f", stdout=f"{running}\n")
    return runner


def test_a_restarted_node_is_waited_for_before_anything_is_applied() -> None:
    """Regression: after a reboot the node container was started and the CRDs applied at once, into an API
    server that was not answering yet."""
    runner, clock = reused(FakeRunner()), Clock()
    answers = iter([Completed(READYZ, 1, stderr="The connection to the server 127.0.0.1:39185 was refused"),
                    Completed(READYZ, 1, stderr="[-]etcd failed: reason withheld\nreadyz check failed"),
                    Completed(READYZ, 0, stdout="ok")])
    runner.answer(*READYZ, fn=lambda argv: next(answers))
    cluster = KindCluster(runner, sleep=clock.sleep, clock=clock)
    assert cluster.ensure() == "reused"
    commands = runner.commands()
    assert commands.index("docker start hippodrome-control-plane") < commands.index(" ".join(READYZ))
    assert commands.count(" ".join(READYZ)) == 3 and clock.sleeps == [1.0, 1.0]


def test_an_api_server_that_never_gets_ready_is_a_bounded_clear_error() -> None:
    runner, clock = reused(FakeRunner()), Clock()
    runner.answer(*READYZ, returncode=1, stderr="The connection to the server 127.0.0.1:39185 was refused")
    cluster = KindCluster(runner, sleep=clock.sleep, clock=clock)
    with pytest.raises(K8sError) as info:
        cluster.ensure()
    message = str(info.value)
    assert "was not ready within 120s" in message and "was refused" in message
    assert "docker restart hippodrome-control-plane" in message
    assert clock.now >= 120 and len(clock.sleeps) <= 121


def test_a_created_cluster_is_not_polled_kind_waited_for_it() -> None:
    runner = FakeRunner()
    runner.answer("kind", "get", "clusters", stdout="")
    assert KindCluster(runner).ensure() == "created"
    assert " ".join(READYZ) not in runner.commands()
    assert any(c.startswith("kind create cluster --name hippodrome") and "--wait 120s" in c for c in runner.commands())


@pytest.mark.parametrize("load, archive", [
    (Completed((), 0), False),
    (Completed((), 1, stderr=CONTAINERD_STORE_ERROR), True),
    (Completed((), 1, stdout=CONTAINERD_STORE_ERROR), True),
    (Completed((), 1, stderr="ERROR: no nodes found for cluster \"hippodrome\""), False),
    (Completed((), 1, stderr="image: \"hippodrome/fakes:dev-1\" not present locally"), False),
])
def test_which_load_failures_go_through_an_archive(load, archive) -> None:
    assert needs_archive(load) is archive


def test_images_load_through_an_archive_with_the_containerd_image_store() -> None:
    """Regression: `kind load docker-image` fails with Docker's containerd image store (kind #3795, #3845)."""
    runner = FakeRunner()
    runner.answer("kind", "load", "docker-image", returncode=1, stderr=CONTAINERD_STORE_ERROR)
    refs = ["hippodrome/fakes:dev-0123456789ab", "hippodrome/operator:dev-0123456789ab"]
    assert KindCluster(runner).load_images(refs) == "image-archive"
    save = next(c for c in runner.calls if c[:2] == ("docker", "save"))
    load = next(c for c in runner.calls if c[:3] == ("kind", "load", "image-archive"))
    archive = save[3]
    assert save == ("docker", "save", "-o", archive, *refs)
    assert load == ("kind", "load", "image-archive", archive, "--name", "hippodrome")
    assert runner.calls.index(save) < runner.calls.index(load)
    assert not Path(archive).exists(), "the archive is removed afterwards"


def test_images_load_directly_when_kind_can() -> None:
    runner = FakeRunner()
    assert KindCluster(runner).load_images(["hippodrome/fakes:dev-1"]) == "docker-image"
    assert not any(c[:2] == ("docker", "save") for c in runner.calls)


def test_another_load_failure_is_reported_as_it_is() -> None:
    runner = FakeRunner()
    runner.answer("kind", "load", "docker-image", returncode=1, stderr="ERROR: no nodes found for cluster \"hippodrome\"")
    with pytest.raises(K8sError, match="no nodes found"):
        KindCluster(runner).load_images(["hippodrome/fakes:dev-1"])


def test_one_kind_release_and_its_node_image_by_digest() -> None:
    image = node_image()
    assert KIND_VERSION == "v0.33.0"
    # kind v0.33.0's release notes (github.com/kubernetes-sigs/kind/releases/tag/v0.33.0), Kubernetes v1.37.0:
    assert image == "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
    assert kubernetes_minor(image) == "1.37"
    assert yaml.safe_load(CONFIG_PATH.read_text())["nodes"][0]["image"] == image
