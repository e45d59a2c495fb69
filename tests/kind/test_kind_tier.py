"""The kind tier's wiring, where no Docker engine exists: which binary, which node image, which cluster name,
what is created and deleted, and that nothing is ever downloaded.

The tools are stand-ins (tests/kind/kind_standins.py) that accept exactly the flags the real tools' help documents
and record every call; the cluster object is pytest-kind-ng's KindCluster, as the kind tests get it.  Not
marked `kind`: these run everywhere, CI included.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import pytest_kind
import requests

import kind_standins as standins
from hippodrome_k8s.k8s.cluster import CONFIG_PATH, KIND_VERSION, node_image
from kindtier import (CLUSTER, INSTALL_PACKAGES, NoDownloadKindCluster, ToolMissing, make_cluster, tier_plan)

ROOT = Path(__file__).resolve().parents[2]
IMAGE = node_image()


class Tools:
    """Stand-in docker/kind/kubectl/helm in one directory (the whole PATH), their state and their call log."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, tools=("docker", "kind", "kubectl", "helm")):
        self.bin = tmp / "bin"
        standins.install(self.bin, tools)
        self.state, self.log = tmp / "state.json", tmp / "calls.jsonl"
        monkeypatch.setenv("STANDIN_STATE", str(self.state))
        monkeypatch.setenv("STANDIN_LOG", str(self.log))
        monkeypatch.setenv("HOME", str(tmp / "home"))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        self.set()

    def set(self, **tools: dict) -> None:
        tools.setdefault("docker", {})
        tools["docker"] = {"images": [IMAGE], **tools["docker"]}
        standins.write_state(self.state, **tools)

    def calls(self, tool: str | None = None) -> list[list[str]]:
        return [e["argv"] for e in standins.read_log(self.log) if "tool" in e and tool in (None, e["tool"])]

    def downloads(self) -> list[dict]:
        return [e for e in standins.read_log(self.log) if "download" in e]

    def plan(self, **kwargs):
        return tier_plan(path=str(self.bin), **kwargs)


@pytest.fixture
def tools(tmp_path, monkeypatch) -> Tools:
    return Tools(tmp_path, monkeypatch)


def test_every_tool_comes_from_PATH_as_an_absolute_path_with_the_pinned_image_and_config(tools):
    plan = tools.plan()
    assert plan.why_not is None, plan.why_not
    assert plan.kind_bin == str(tools.bin / "kind") and plan.kubectl_bin == str(tools.bin / "kubectl")
    assert plan.image == IMAGE and "@sha256:" in IMAGE and plan.config == CONFIG_PATH
    assert plan.cluster == CLUSTER == "hippodrome-test"
    assert ["docker", "image", "inspect", IMAGE][1:] in tools.calls("docker")
    assert tools.downloads() == []


def test_without_kind_on_PATH_it_says_to_build_the_pinned_release_and_runs_no_kind(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, ("docker", "kubectl", "helm"))
    plan = tools.plan()
    assert plan.kind_bin is None
    assert "kind: not found on PATH" in plan.why_not and f"go install sigs.k8s.io/kind@{KIND_VERSION}" in plan.why_not
    assert tools.calls("kind") == [] and tools.downloads() == []
    with pytest.raises(ToolMissing, match="kind: not found on PATH"):
        make_cluster(plan, tmp_path / "work")


def test_an_explicit_kind_bin_is_put_first_on_the_tier_path(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, ("docker", "kubectl", "helm"))
    elsewhere = tmp_path / "kind-elsewhere"
    standins.install(elsewhere, ("kind",))
    plan = tools.plan(kind_bin=str(elsewhere / "kind"))
    assert plan.why_not is None and plan.kind_bin == str(elsewhere / "kind")
    assert plan.path.split(os.pathsep)[0] == str(elsewhere)  # so `hippodrome k8s up` runs the same kind
    assert plan.env()["PATH"] == plan.path


def test_an_explicit_kind_bin_that_does_not_exist_is_a_reason_not_a_download(tools, tmp_path):
    wanted = tmp_path / "nowhere" / "kind"
    plan = tools.plan(kind_bin=str(wanted))
    assert plan.kind_bin is None and not wanted.exists() and not wanted.parent.exists()
    assert f"--kind-bin {wanted} is not an executable file (it is never downloaded)" in plan.why_not
    assert f"go install sigs.k8s.io/kind@{KIND_VERSION}" in plan.why_not
    assert tools.calls("kind") == []


def test_a_kind_release_other_than_the_pinned_one_is_refused(tools):
    tools.set(kind={"version": "v0.29.0"})
    plan = tools.plan()
    assert f"kind: v0.29.0 found, but {KIND_VERSION} is pinned" in plan.why_not
    assert f"go install sigs.k8s.io/kind@{KIND_VERSION}" in plan.why_not


def test_a_missing_node_image_is_a_reason_with_the_docker_pull_to_run(tools):
    tools.set(docker={"images": []})
    plan = tools.plan()
    assert plan.why_not == (f"node image: {IMAGE} is not present locally, and the tier never pulls it: "
                            f"`docker pull {IMAGE}`")
    assert tools.downloads() == [] and not any(c[0] == "pull" for c in tools.calls("docker"))


def test_an_engine_that_does_not_answer_is_a_reason(tools):
    tools.set(docker={"engine": False})
    plan = tools.plan()
    assert "docker: installed, but the daemon is not reachable (Cannot connect to the Docker daemon" in plan.why_not
    assert "sudo systemctl start docker" in plan.why_not
    assert not any(c[:2] == ["image", "inspect"] for c in tools.calls("docker"))


def test_missing_python_packages_are_named_with_the_pip_line(tools):
    def importer(name: str):
        if name in ("pytest_kind", "kopf"):
            raise ImportError(f"No module named '{name}'")

    plan = tools.plan(importer=importer)
    assert plan.why_not == (f"python packages: missing kopf (k8s), pytest_kind (test: pytest-kind-ng); "
                            f"install: {INSTALL_PACKAGES}")


@pytest.mark.parametrize("given, used", [(None, "hippodrome-test"), ("pytest-kind", "hippodrome-test"),
                                         ("mine", "mine")])
def test_the_cluster_name(tools, given, used):
    """pytest-kind-ng's --cluster-name; its own default ("pytest-kind") counts as not given."""
    assert tools.plan(cluster_name=given).cluster == used


class Mirror(http.server.BaseHTTPRequestHandler):
    """A download mirror on loopback that records every request and has nothing to give."""

    requests: list[str] = []

    def do_GET(self):  # noqa: N802
        Mirror.requests.append(self.path)
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(monkeypatch):
    Mirror.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("KIND_DOWNLOAD_URL", f"{base}/kind")
    monkeypatch.setenv("KUBECTL_DOWNLOAD_URL", f"{base}/kubectl")
    yield Mirror.requests
    server.shutdown()
    server.server_close()


def test_missing_binaries_are_never_downloaded_even_with_a_mirror_set(tools, mirror, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gone = tmp_path / "gone"
    cluster = NoDownloadKindCluster(CLUSTER, kind_path=gone / "kind", kubectl_path=gone / "kubectl", image=IMAGE,
                                    config=CONFIG_PATH, workdir=tmp_path / "work", path=str(tools.bin))
    with pytest.raises(ToolMissing, match=f"never downloads it\\): `go install sigs.k8s.io/kind@{KIND_VERSION}`"):
        cluster.create()
    with pytest.raises(ToolMissing, match="kubectl is not at .* never downloads it"):
        cluster.kubectl("get", "pods")
    assert mirror == [] and not gone.exists() and tools.calls() == []
    assert not (tmp_path / ".pytest-kind").exists()  # the package's working directory went to workdir

    # the control: pytest-kind-ng itself fetches from that mirror when the binary is missing
    upstream = pytest_kind.KindCluster(CLUSTER, kind_path=gone / "kind", kubectl_path=gone / "kubectl")
    gone.mkdir()
    with pytest.raises(requests.HTTPError):
        upstream.ensure_kind()
    assert mirror == ["/kind"]


def test_a_new_cluster_is_created_from_the_pinned_image_and_config_and_deleted(tools, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cluster = make_cluster(tools.plan(), tmp_path / "work")
    cluster.create()
    kubeconfig = tmp_path / "work" / "kubeconfig"
    assert cluster.created and cluster.kubeconfig_path == kubeconfig
    assert ["create", "cluster", f"--name={CLUSTER}", f"--kubeconfig={kubeconfig}", f"--image={IMAGE}",
            "--config", str(CONFIG_PATH)] in tools.calls("kind")
    assert cluster.api.url == "https://127.0.0.1:6443"  # pykube, from the kubeconfig kind wrote
    assert cluster.kubectl("--context", f"kind-{CLUSTER}", "get", "--raw", "/readyz").strip() == "ok"
    assert cluster.delete_if_created() is True
    assert ["delete", "cluster", f"--name={CLUSTER}", f"--kubeconfig={kubeconfig}"] in tools.calls("kind")
    assert json.loads(tools.state.read_text())["kind"]["clusters"] == []
    assert not (tmp_path / ".pytest-kind").exists() and not (tmp_path / "home" / ".kube").exists()
    assert tools.downloads() == []


def test_a_found_cluster_is_used_through_its_exported_kubeconfig_and_kept(tools, tmp_path):
    tools.set(kind={"clusters": [CLUSTER]})
    cluster = make_cluster(tools.plan(), tmp_path / "work")
    cluster.create()
    kubeconfig = tmp_path / "work" / "kubeconfig"
    assert not cluster.created
    assert ["export", "kubeconfig", "--name", CLUSTER, "--kubeconfig", str(kubeconfig)] in tools.calls("kind")
    assert cluster.api.url == "https://127.0.0.1:6443"
    assert cluster.delete_if_created() is False
    kind_commands = {tuple(c[:2]) for c in tools.calls("kind")}
    assert ("create", "cluster") not in kind_commands and ("delete", "cluster") not in kind_commands
    assert json.loads(tools.state.read_text())["kind"]["clusters"] == [CLUSTER]


@pytest.mark.parametrize("containerd_store, way", [(False, "docker-image"), (True, "image-archive")])
def test_load_docker_image_falls_back_to_an_archive_on_the_containerd_store(tools, tmp_path, containerd_store, way):
    ref = "hippodrome-test/operator:dev-stage"
    tools.set(kind={"clusters": [CLUSTER], "containerd_store": containerd_store}, docker={"images": [IMAGE, ref]})
    cluster = make_cluster(tools.plan(), tmp_path / "work")
    assert cluster.load_docker_image(ref) == way
    kind_calls = tools.calls("kind")
    assert ["load", "docker-image", "--name", CLUSTER, ref] in kind_calls
    archive = [c for c in kind_calls if c[:2] == ["load", "image-archive"]]
    saves = [c for c in tools.calls("docker") if c[0] == "save"]
    if containerd_store:
        assert saves == [["save", "-o", archive[0][2], ref]] and archive[0][3:] == ["--name", CLUSTER]
    else:
        assert archive == [] and saves == []


def test_load_docker_image_of_an_image_docker_does_not_have_fails_without_pulling(tools, tmp_path):
    tools.set(kind={"clusters": [CLUSTER]})
    cluster = make_cluster(tools.plan(), tmp_path / "work")
    with pytest.raises(RuntimeError, match='image: "hippodrome/nope:dev" not present locally'):
        cluster.load_docker_image("hippodrome/nope:dev")
    assert tools.downloads() == []


def test_the_kind_tests_get_the_no_download_cluster_not_the_plugins():
    """pytest-kind-ng registers its own (downloading) `kind_cluster`; tests/kind/conftest.py's overrides it."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--fixtures-per-test", "-p", "no:cacheprovider",
                          "tests/kind/test_kind_up.py", "tests/kind/test_dev_images.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    used = [line for line in out.stdout.splitlines() if line.startswith("kind_cluster -- ")]
    assert len(used) >= 10 and all(line.startswith("kind_cluster -- tests/kind/conftest.py:") for line in used), \
        out.stdout[-3000:]


def test_every_test_that_needs_a_cluster_or_an_engine_is_marked_kind():
    import test_dev_images
    import test_kind_up

    for module in (test_kind_up, test_dev_images):
        assert module.pytestmark.name == "kind", module.__name__
