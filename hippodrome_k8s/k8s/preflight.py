"""Preflight for ``hippodrome k8s up``: is every tool there, and which version?

Docker must answer (not just be installed), and ``kind``, ``kubectl`` and
``helm`` must be on PATH.  The four checks run concurrently with a short
timeout each, so a missing daemon is reported within seconds.  Every missing
tool is reported at once with how to install it, as one ``PreflightError``
(exit 2, no traceback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import K8sError, PreflightError
from .runner import Runner

CHECK_TIMEOUT = 5.0

INSTALL = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop",
    "docker-daemon": "start it: `sudo systemctl start docker` (Linux) or open Docker Desktop; "
                     "check that your user may use it: `docker info`",
    "kind": "install kind >= 0.24: `go install sigs.k8s.io/kind@v0.24.0`, `brew install kind`, "
            "or a release binary from https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "install kubectl >= 1.29: https://kubernetes.io/docs/tasks/tools/ (or `brew install kubectl`)",
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
    return _check_cli(runner, "kind", ["kind", "version"], _kind_version)


def check_kubectl(runner: Runner) -> ToolCheck:
    return _check_cli(runner, "kubectl", ["kubectl", "version", "--client", "-o", "json"], _kubectl_version)


def check_helm(runner: Runner) -> ToolCheck:
    return _check_cli(runner, "helm", ["helm", "version", "--short"], _kind_version)


CHECKS: tuple[Callable[[Runner], ToolCheck], ...] = (check_docker, check_kind, check_kubectl, check_helm)


def preflight(runner: Runner, checks: tuple[Callable[[Runner], ToolCheck], ...] = CHECKS) -> Tools:
    """Run every check concurrently; raise one PreflightError listing each missing tool and its fix."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = tuple(pool.map(lambda check: check(runner), checks))
    missing = [c for c in results if not c.ok]
    if missing:
        found = [c.line() for c in results if c.ok]
        raise PreflightError(
            "`hippodrome k8s up` needs docker, kind, kubectl and helm:\n  "
            + "\n  ".join(f"- {c.line()}" for c in missing)
            + (f"\n  (found: {', '.join(found)})" if found else "")
            + "\nWithout them, `hippodrome up` runs the same stack as local processes."
        )
    return Tools(results)
