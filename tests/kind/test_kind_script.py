"""scripts/test-kind, the real script, where no Docker engine exists: its preflight and messages, the pytest
command it runs, and that it deletes the cluster it created and keeps the one it found.

PATH holds only bash and stand-in docker/kind/kubectl/helm (tests/kind/kind_standins.py: they accept exactly the
flags the real tools document, and record every call); $PYTHON is this interpreter.  The script runs in a
copy of the project, since the kind tier writes .hippodrome/ where it runs.  When the script gets as far as
pytest, `hippodrome k8s up` really runs against the stand-ins and fails at `docker build` (no engine): that
is the failing run whose cleanup is checked.  Not marked `kind`: these run everywhere, CI included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kind_standins as standins
from hippodrome_k8s.k8s.cluster import KIND_VERSION, node_image
from kindtier import CLUSTER, INSTALL_PACKAGES, images

ROOT = Path(__file__).resolve().parents[2]
IMAGE = node_image()
IGNORED = (".git", ".venv", ".tools", ".hippodrome", "__pycache__", "node_modules", ".pytest_cache", ".hypothesis",
           "test-artifacts", "*.egg-info", ".pytest-kind")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("project") / "hippodrome"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return copy


class Machine:
    """A PATH of bash and stand-ins, their state and call log, a HOME of its own."""

    def __init__(self, tmp: Path, project: Path, tools=("docker", "kind", "kubectl", "helm")):
        self.tmp, self.project = tmp, project
        self.bin = tmp / "bin"
        standins.install(self.bin, tools)
        (self.bin / "bash").symlink_to(shutil.which("bash"))
        self.state, self.log, self.home = tmp / "state.json", tmp / "calls.jsonl", tmp / "home"
        self.shadow = tmp / "shadow"
        self.shadow.mkdir()
        self.set()

    def set(self, **tools: dict) -> None:
        tools["docker"] = {"images": [IMAGE], "build_error": "ERROR: the stand-in docker has no engine to build with",
                           **tools.get("docker", {})}
        standins.write_state(self.state, **tools)

    def hide(self, module: str) -> None:
        """An installed-looking module that fails to import, as a missing package does."""
        (self.shadow / f"{module}.py").write_text(f"raise ImportError(\"No module named '{module}'\")\n")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": str(self.bin), "HOME": str(self.home), "PYTHON": sys.executable, "LANG": "C.UTF-8",
               "STANDIN_STATE": str(self.state), "STANDIN_LOG": str(self.log), "PYTHONPATH": str(self.shadow),
               "TMPDIR": str(self.tmp)}
        return subprocess.run([str(self.project / "scripts" / "test-kind"), *args], env=env, cwd=self.tmp,
                              capture_output=True, text=True, timeout=600)

    def entries(self) -> list[dict]:
        """Every call but `--help` (the kind tier's test_kind_standins.py reads the tools' help) and every download."""
        return [e for e in standins.read_log(self.log) if "--help" not in e.get("argv", [])]

    def calls(self, tool: str) -> list[list[str]]:
        return [e["argv"] for e in self.entries() if e.get("tool") == tool]

    def kind_commands(self) -> list[tuple[str, ...]]:
        return [tuple(argv[:2]) for argv in self.calls("kind")]

    def clusters(self) -> list[str]:
        return json.loads(self.state.read_text())["kind"]["clusters"]

    def downloads(self) -> list[dict]:
        return [e for e in self.entries() if "download" in e]


@pytest.fixture
def machine(tmp_path, project) -> Machine:
    return Machine(tmp_path, project)


def test_every_missing_tool_is_named_with_how_to_install_it_and_nothing_runs(tmp_path, project):
    machine = Machine(tmp_path, project, tools=())
    result = machine.run()
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout
    assert "MISSING docker: not found on PATH; install Docker Engine" in out
    assert (f"MISSING kind: not found on PATH; install kind {KIND_VERSION}: "
            f"`go install sigs.k8s.io/kind@{KIND_VERSION}`") in out
    assert "MISSING kubectl: not found on PATH; install kubectl v1.37" in out
    assert "MISSING helm: not found on PATH; install Helm" in out
    assert "4 missing: install them and run scripts/test-kind again." in result.stderr
    assert "== running" not in out and "It will create" not in out and machine.entries() == []


@pytest.mark.parametrize("setup, expected", [
    (lambda m: m.set(docker={"engine": False}),
     "MISSING docker: installed, but the daemon is not reachable (Cannot connect to the Docker daemon"),
    (lambda m: m.set(kind={"version": "v0.29.0"}),
     f"MISSING kind: v0.29.0 found, but {KIND_VERSION} is pinned"),
    (lambda m: m.set(docker={"images": []}),
     f"MISSING node image: {IMAGE} is not present locally, and the tier never pulls it: `docker pull {IMAGE}`"),
    (lambda m: m.hide("kopf"),
     f"MISSING python packages: missing kopf (k8s); install: {INSTALL_PACKAGES}"),
    (lambda m: m.hide("pytest_kind"),
     f"MISSING python packages: missing pytest_kind (test: pytest-kind-ng); install: {INSTALL_PACKAGES}"),
], ids=["engine-down", "kind-v0.29", "no-node-image", "no-k8s-extra", "no-pytest-kind-ng"])
def test_one_missing_piece_is_exit_2_with_its_fix_and_nothing_created(machine, setup, expected):
    setup(machine)
    result = machine.run()
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stdout
    assert "1 missing" in result.stderr and "== running" not in result.stdout
    assert ("create", "cluster") not in machine.kind_commands() and machine.downloads() == []


@pytest.mark.parametrize("module", ["pytest", "yaml"])
def test_a_python_without_pytest_or_the_projects_dependencies_is_exit_2_with_the_pip_line(machine, module):
    machine.hide(module)
    result = machine.run()
    assert result.returncode == 2
    assert f"cannot import the project and pytest; install them: {INSTALL_PACKAGES}" in result.stderr
    assert machine.entries() == []


def test_it_says_what_it_creates_and_runs_the_kind_tests_with_the_binaries_passed_explicitly(machine):
    result = machine.run("--collect-only", "-q")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert (f"kind cluster '{CLUSTER}' from kind/kind-config.yaml with the node image {IMAGE}; deleted afterwards"
            in out)
    assert f"the images `hippodrome k8s up --profile ecom` builds and loads: {', '.join(images())}" in out
    assert "hippodrome/operator:dev" in images() and "hippodrome/fakes:dev" in images()
    assert "forwarded to 127.0.0.1:9000-9019" in out
    assert "tilt is not on PATH: the `tilt ci` scenario is skipped" in out
    assert (f"-m pytest tests/kind -m kind -rs -p no:cacheprovider --kind-bin {machine.bin / 'kind'} "
            f"--kind-kubectl-bin {machine.bin / 'kubectl'} --cluster-name {CLUSTER} --collect-only -q") in out
    collected = [line for line in out.splitlines() if "::" in line]
    assert "tests/kind/test_kind_up.py::test_the_seeds_readiness_script_passes_through_the_forwards" in collected
    assert "tests/kind/test_kind_up.py::test_tilt_ci_beside_the_cli_forwards" in collected
    assert "tests/kind/test_kind_up.py::test_kubectl_get_hippodromestacks" in collected
    assert not any("test_kind_tier.py" in line or "test_kind_script.py" in line for line in collected)
    assert f"== kind cluster {CLUSTER} is gone" in out and "== the kind tier passed" in out
    assert ("create", "cluster") not in machine.kind_commands() and machine.downloads() == []


def test_another_cluster_name_and_tilt_on_PATH(machine):
    (machine.bin / "tilt").write_text("#!/bin/sh\nexit 97\n")  # never called by the script: only looked for
    (machine.bin / "tilt").chmod(0o755)
    result = machine.run("--cluster-name", "mine", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kind cluster 'mine' from kind/kind-config.yaml" in result.stdout and "--cluster-name mine" in result.stdout
    assert f"tilt {machine.bin / 'tilt'}: `HIPPODROME_FORWARDS=cli tilt ci` runs last" in result.stdout


def test_a_failing_run_exits_1_and_deletes_the_cluster_it_created(machine):
    result = machine.run()
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    creates = [c for c in machine.calls("kind") if c[:2] == ["create", "cluster"]]
    assert len(creates) == 1
    kubeconfig = creates[0][3].removeprefix("--kubeconfig=")
    assert creates[0] == ["create", "cluster", f"--name={CLUSTER}", f"--kubeconfig={kubeconfig}", f"--image={IMAGE}",
                          "--config", str(machine.project / "kind" / "kind-config.yaml")]
    # `hippodrome k8s up` ran against that cluster through its kubeconfig, and failed at the image build
    by_cli = [e for e in machine.entries() if e.get("argv", [])[:2] == ["export", "kubeconfig"]
              or (e.get("tool") == "kubectl" and e["argv"][2:4] == ["get", "--raw"])]
    assert by_cli and all(e["KUBECONFIG"] == kubeconfig for e in by_cli)
    assert "the stand-in docker has no engine to build with" in out
    assert ["delete", "cluster", f"--name={CLUSTER}", f"--kubeconfig={kubeconfig}"] in machine.calls("kind")
    assert machine.clusters() == [] and f"kind tier: deleted kind cluster '{CLUSTER}', which this run created" in out
    assert out.rstrip().endswith(f"== kind cluster {CLUSTER} is gone (this run created and deleted it, or never "
                                 "got to create it)")
    assert "== the kind tier failed (pytest exit 1)" in out
    assert machine.downloads() == [] and not (machine.home / ".kube").exists()


def test_a_cluster_that_was_there_is_used_and_kept(machine):
    machine.set(kind={"clusters": [CLUSTER]})
    result = machine.run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"found kind cluster '{CLUSTER}': used as it is, and kept afterwards" in result.stdout
    assert any(c[:5] == ["export", "kubeconfig", "--name", CLUSTER, "--kubeconfig"] for c in machine.calls("kind"))
    assert ("create", "cluster") not in machine.kind_commands() and ("delete", "cluster") not in machine.kind_commands()
    assert machine.clusters() == [CLUSTER]
    assert result.stdout.rstrip().endswith(f"== kept kind cluster {CLUSTER} (it was there before)")


def test_if_pytest_dies_the_script_still_deletes_the_cluster_it_created(machine):
    machine.set(docker={"kill_caller_once_a_cluster_exists": True})
    result = machine.run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert [e for e in machine.entries() if "killed" in e], "pytest was not killed: the scenario did not happen"
    assert "kind tier: deleted" not in result.stdout  # pytest never got to its teardown
    assert machine.calls("kind")[-1] == ["delete", "cluster", "--name", CLUSTER]
    assert machine.clusters() == []
    assert f"== deleting kind cluster {CLUSTER}, which this run created" in result.stdout


def test_keep_cluster_keeps_even_a_cluster_it_created(machine):
    result = machine.run("--keep-cluster")
    assert result.returncode == 1
    assert machine.clusters() == [CLUSTER] and ("delete", "cluster") not in machine.kind_commands()
    assert f"== kept kind cluster {CLUSTER} (--keep-cluster); delete it with: kind delete cluster --name {CLUSTER}" \
        in result.stdout


def test_help_prints_the_header_and_touches_nothing(machine):
    result = machine.run("--help")
    assert result.returncode == 0 and result.stdout.startswith("The kind tier (tests/kind) in one command")
    assert "Exit codes: 0 every kind test passed; 1 a test failed" in result.stdout and machine.entries() == []


def test_the_script_is_executable_and_names_no_machine_path():
    script = ROOT / "scripts" / "test-kind"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert str(ROOT) not in text and str(Path.home()) not in text  # this checkout's and this user's paths


def test_the_readme_says_what_a_user_with_docker_types_and_what_it_creates():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Running the kind tests"):readme.index("## Tests and benchmarks")]
    typed = [line.split("#")[0].strip() for block in section.split("```sh")[1:]
             for line in block.split("```")[0].splitlines() if line.strip()]
    assert typed == [f"docker pull {IMAGE}", "scripts/test-kind"]
    assert f"`{CLUSTER}`" in section and all(f"`{ref}`" in section for ref in images())
    assert "It deletes the cluster it created" in section and "`tests/cluster`" in section
    assert "Exit codes: 0 passed, 1 a test failed, 2 a tool is missing." in section
    assert INSTALL_PACKAGES in section and f"go install sigs.k8s.io/kind@{KIND_VERSION}" in section
