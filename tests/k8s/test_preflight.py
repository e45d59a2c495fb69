"""Preflight: every missing tool reported at once, with how to install it, exit 2, no traceback, fast."""

from __future__ import annotations

import json
import time

import pytest

from hippodrome_k8s.core.errors import K8sError, PreflightError
from hippodrome_k8s.k8s.preflight import preflight
from hippodrome_k8s.k8s.runner import FakeRunner


def healthy() -> FakeRunner:
    runner = FakeRunner()
    runner.answer("docker", "version", stdout="27.3.1\n")
    runner.answer("kind", "version", stdout="kind v0.33.0 go1.26.1 linux/amd64\n")
    runner.answer("kubectl", "version", stdout=json.dumps({"clientVersion": {"gitVersion": "v1.37.1"}}))
    runner.answer("helm", "version", stdout="v3.16.2+g13654a5\n")
    return runner


def test_all_present_reports_versions():
    tools = preflight(healthy())
    assert tools.summary() == "docker 27.3.1, kind v0.33.0, kubectl v1.37.1, helm v3.16.2+g13654a5"


@pytest.mark.parametrize("tool, hint", [
    ("docker", "https://docs.docker.com/engine/install/"),
    ("kind", "go install sigs.k8s.io/kind@v0.33.0"),
    ("kubectl", "https://kubernetes.io/docs/tasks/tools/"),
    ("helm", "https://helm.sh/docs/intro/install/"),
])
def test_each_missing_tool_is_named_with_its_install_hint(tool, hint):
    runner = healthy()
    runner.programs[tool] = None
    with pytest.raises(PreflightError) as info:
        preflight(runner)
    message = str(info.value)
    assert f"- {tool}: not found on PATH" in message and hint in message
    assert info.value.exit_code == 2
    assert "found: " in message  # the others are listed with their versions


def test_docker_installed_but_daemon_down():
    runner = healthy()
    runner.answer("docker", "version", returncode=1,
                  stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
    with pytest.raises(PreflightError) as info:
        preflight(runner)
    assert "docker: installed, but the daemon is not reachable (Cannot connect to the Docker daemon" in str(info.value)
    assert "systemctl start docker" in str(info.value)


def test_docker_daemon_hanging_is_a_timeout_not_a_hang():
    runner = healthy()
    runner.answer("docker", "version", raises=K8sError("`docker version` did not finish within 5s"))
    with pytest.raises(PreflightError, match="the daemon did not answer"):
        preflight(runner)


def test_a_broken_tool_binary_is_reported():
    runner = healthy()
    runner.answer("helm", "version", returncode=127, stderr="helm: cannot execute binary file")
    with pytest.raises(PreflightError, match=r"helm: `helm version --short` failed \(helm: cannot execute binary file\)"):
        preflight(runner)


def test_everything_missing_lists_all_four():
    runner = FakeRunner(programs={"docker": None, "kind": None, "kubectl": None, "helm": None})
    with pytest.raises(PreflightError) as info:
        preflight(runner)
    lines = [line for line in str(info.value).splitlines() if line.strip().startswith("- ")]
    assert [line.split(":")[0].strip("- ").strip() for line in lines] == ["docker", "kind", "kubectl", "helm"]
    assert "hippodrome up" in str(info.value)  # the way out: the local engine


def test_checks_run_concurrently():
    runner = healthy()

    def slow(argv):
        time.sleep(0.3)
        from hippodrome_k8s.k8s.runner import Completed
        return Completed(argv, 0, "kind v0.33.0" if argv[0] == "kind" else "v1.0.0")

    for prefix in (("docker", "version"), ("kind", "version"), ("kubectl", "version"), ("helm", "version")):
        runner.answer(*prefix, fn=slow)
    started = time.monotonic()
    preflight(runner)
    assert time.monotonic() - started < 0.9


def test_cli_exit_2_without_traceback(tmp_path, monkeypatch, capsys):
    """The real CLI path with the real subprocess runner, on this machine's PATH restricted to nothing useful."""
    import shutil

    from hippodrome_k8s.cli.main import main

    shutil.copy("tests/k8s/fixtures/stack.yaml", tmp_path / "hippodrome.yaml")
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, kind, kubectl or helm
    started = time.monotonic()
    with pytest.raises(SystemExit) as info:
        main(["k8s", "up", "--project-root", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("not found on PATH") == 4 and "Traceback" not in err
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("found", ["kind v0.24.0 go1.22.6 linux/amd64", "kind v0.34.1 go1.27 linux/amd64"])
def test_another_kind_release_is_refused_naming_the_pinned_one(found):
    runner = healthy()
    runner.answer("kind", "version", stdout=found + "\n")
    with pytest.raises(PreflightError) as info:
        preflight(runner)
    message = str(info.value)
    assert "v0.33.0 is pinned" in message and "kindest/node:v1.37.0@sha256:" in message
    assert "go install sigs.k8s.io/kind@v0.33.0" in message


def test_kind_patch_releases_of_the_pinned_minor_are_accepted():
    runner = healthy()
    runner.answer("kind", "version", stdout="kind v0.33.2 go1.26 linux/amd64\n")
    assert "kind v0.33.2" in preflight(runner).summary()


def test_missing_python_packages_are_named_first_with_the_install_line():
    from hippodrome_k8s.k8s.preflight import check_python_packages

    def importer(name):
        if name == "pyhelm3":
            raise ModuleNotFoundError("No module named 'pyhelm3'")

    with pytest.raises(PreflightError) as info:
        check_python_packages(importer)
    assert "missing: pyhelm3." in str(info.value) and "pip install -e '.[k8s]'" in str(info.value)
    assert info.value.exit_code == 2


def test_an_existing_cluster_needs_kubectl_and_helm_and_docker_only_to_build():
    from hippodrome_k8s.k8s.preflight import CHECKS, check_docker, check_helm, check_kubectl, checks_for

    assert checks_for(existing_cluster=False, build=False) == CHECKS
    assert checks_for(existing_cluster=True, build=True) == (check_docker, check_kubectl, check_helm)
    assert checks_for(existing_cluster=True, build=False) == (check_kubectl, check_helm)
    runner = healthy()
    runner.programs["helm"] = None
    with pytest.raises(PreflightError) as caught:
        preflight(runner, checks_for(existing_cluster=True, build=False))
    assert "needs kubectl and helm" in str(caught.value) and "kind" not in str(caught.value)
