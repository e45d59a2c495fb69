"""Preflight for ``hippodrome k8s up``: are the Python packages and every tool there, and which version?

First the Python packages of the ``k8s`` extra (kubernetes, pyhelm3, kopf):
without them ``k8s up`` went through the cluster, the images and the CRD before
dying on an import.  Then docker must answer (not just be installed), and
``kind`` (the pinned release), ``kubectl`` and ``helm`` must be on PATH.  The
tool checks run concurrently with a short timeout each, so a missing
daemon is reported within seconds.  Every missing piece is reported at once
with how to install it, as one ``PreflightError`` (exit 2, no traceback).

On an existing cluster (``k8s up --context NAME``) kind is never used, and docker
only to build images: ``checks_for`` decides which tools are needed.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hippodrome_k8s.core.errors import K8sError, PreflightError
from hippodrome_k8s.k8s.cluster import KIND_VERSION, node_image
from hippodrome_k8s.k8s.runner import Runner

CHECK_TIMEOUT = 5.0
K8S_PACKAGES = ("kubernetes", "pyhelm3", "kopf")  # pyproject.toml's `k8s` extra
INSTALL_EXTRA = "pip install -e '.[k8s]'"

INSTALL = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop",
    "docker-daemon": "start it: `sudo systemctl start docker` (Linux) or open Docker Desktop; "
                     "check that your user may use it: `docker info`",
    "kind": f"install kind {KIND_VERSION}: `go install sigs.k8s.io/kind@{KIND_VERSION}`, or the release binary "
            f"from https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}",
    "kubectl": "install kubectl v1.37 (within one minor of the cluster's Kubernetes v1.37): "
               "https://kubernetes.io/docs/tasks/tools/ (or `brew install kubectl`)",
    "helm": "install Helm >= 3.12: https://helm.sh/docs/intro/install/ (or `brew install helm`)",
}


@dataclass(frozen=True)
class ToolCheck:
    name: str
    ok: bool
    version: str = ""
    problem: str = ""

    def line(self) -> str:
        return f"{self.name} {self.version}" if self.ok else f"{self.name}: {self.problem}"


@dataclass(frozen=True)
class Tools:
    checks: tuple[ToolCheck, ...]

    def version(self, name: str) -> str:
        return next(c.version for c in self.checks if c.name == name)

    def summary(self) -> str:
        return ", ".join(c.line() for c in self.checks)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def check_docker(runner: Runner) -> ToolCheck:
    if not runner.which("docker"):
        return ToolCheck("docker", False, problem=f"not found on PATH; {INSTALL['docker']}")
    try:
        result = runner.run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=CHECK_TIMEOUT)
    except K8sError as e:
        return ToolCheck("docker", False, problem=f"the daemon did not answer ({e}); {INSTALL['docker-daemon']}")
    version = _first_line(result.stdout)
    if not result.ok or not version:
        reason = _first_line(result.stderr) or "no server version reported"
        return ToolCheck("docker", False, problem=f"installed, but the daemon is not reachable ({reason}); "
                                                  f"{INSTALL['docker-daemon']}")
    return ToolCheck("docker", True, version=version)


def _check_cli(runner: Runner, name: str, argv: list[str], parse: Callable[[str], str]) -> ToolCheck:
    if not runner.which(name):
        return ToolCheck(name, False, problem=f"not found on PATH; {INSTALL[name]}")
    try:
        result = runner.run(argv, timeout=CHECK_TIMEOUT)
    except K8sError as e:
        return ToolCheck(name, False, problem=f"{e}; {INSTALL[name]}")
    if not result.ok:
        reason = _first_line(result.stderr) or f"exit {result.returncode}"
        return ToolCheck(name, False, problem=f"`{' '.join(argv)}` failed ({reason}); {INSTALL[name]}")
    return ToolCheck(name, True, version=parse(result.stdout) or "unknown version")


def _kind_version(out: str) -> str:
    m = re.search(r"v\d+\.\d+\.\d+\S*", out)
    return m.group(0) if m else _first_line(out)


def _kubectl_version(out: str) -> str:
    try:
        return json.loads(out)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        return _kind_version(out)


def check_kind(runner: Runner) -> ToolCheck:
    found = _check_cli(runner, "kind", ["kind", "version"], _kind_version)
    if found.ok and not _same_minor(found.version, KIND_VERSION):
        return ToolCheck("kind", False, version=found.version,
                         problem=f"{found.version} found, but {KIND_VERSION} is pinned (the node image "
                                 f"{node_image()} is built for it); {INSTALL['kind']}")
    return found


def _same_minor(found: str, pinned: str) -> bool:
    def minor(version: str) -> tuple[str, ...]:
        return tuple(version.lstrip("v").split(".")[:2])
    return minor(found) == minor(pinned)


def check_python_packages(importer=importlib.import_module) -> None:
    """The ``k8s`` extra's packages import (a broken or missing one is named), else PreflightError."""
    missing = []
    for name in K8S_PACKAGES:
        try:
            importer(name)
        except ImportError as e:
            missing.append(f"{name} ({e})" if str(e) and name not in str(e) else name)
    if missing:
        raise PreflightError(
            f"the Kubernetes engine needs the Python packages of the `k8s` extra; missing: {', '.join(missing)}.\n"
            f"Install them from the project root: {INSTALL_EXTRA}   (pinned: pip install -c requirements.lock -e '.[k8s]')\n"
            "Without them, `hippodrome up` runs the same stack as local processes.")


def check_kubectl(runner: Runner) -> ToolCheck:
    return _check_cli(runner, "kubectl", ["kubectl", "version", "--client", "-o", "json"], _kubectl_version)


def check_helm(runner: Runner) -> ToolCheck:
    return _check_cli(runner, "helm", ["helm", "version", "--short"], _kind_version)


CHECKS: tuple[Callable[[Runner], ToolCheck], ...] = (check_docker, check_kind, check_kubectl, check_helm)


def checks_for(existing_cluster: bool, build: bool) -> tuple[Callable[[Runner], ToolCheck], ...]:
    """The tools ``k8s up`` needs: all four for kind; on an existing cluster (``--context``) kubectl and helm,
    and docker only when it builds the images."""
    if not existing_cluster:
        return CHECKS
    return ((check_docker,) if build else ()) + (check_kubectl, check_helm)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def preflight(runner: Runner, checks: tuple[Callable[[Runner], ToolCheck], ...] = CHECKS) -> Tools:
    """The Python packages first; then every tool check concurrently; raise one PreflightError listing each
    missing tool and its fix."""
    check_python_packages()
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = tuple(pool.map(lambda check: check(runner), checks))
    missing = [c for c in results if not c.ok]
    if missing:
        found = [c.line() for c in results if c.ok]
        raise PreflightError(
            f"`hippodrome k8s up` needs {_listed([c.name for c in results])}:\n  "
            + "\n  ".join(f"- {c.line()}" for c in missing)
            + (f"\n  (found: {', '.join(found)})" if found else "")
            + "\nWithout them, `hippodrome up` runs the same stack as local processes."
        )
    return Tools(results)
