"""`hippodrome k8s up` without the `k8s` extra, through the real CLI entry point (a subprocess).

Regression (issue 9 §4): without pyhelm3 it went through the cluster, the images, `kind load` and the
CRD before dying with ``ModuleNotFoundError: No module named 'pyhelm3'``.  Here pyhelm3 is hidden by a
module of that name earlier on PYTHONPATH that raises ImportError, as an absent package does; docker,
kind and kubectl are stand-ins on PATH that record being called: none may be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "stack.yaml"


@pytest.mark.parametrize("hidden", ["pyhelm3", "kopf", "kubernetes"])
def test_up_without_the_extra_names_it_before_touching_anything(tmp_path: Path, hidden: str) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / f"{hidden}.py").write_text(f"raise ImportError(\"No module named '{hidden}'\")\n")
    tools = tmp_path / "bin"
    tools.mkdir()
    calls = tmp_path / "calls.log"
    for tool in ("docker", "kind", "kubectl", "helm"):
        (tools / tool).write_text(f"#!/bin/sh\necho {tool} \"$@\" >> {calls}\nexit 0\n")
        (tools / tool).chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(FIXTURE, project / "hippodrome.yaml")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")]),
               PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", HIPPODROME_RANDOM_SEED="1")
    result = subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", "up", "--project-root",
                             str(project)], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"missing: {hidden}" in result.stderr
    assert "Install them from the project root: pip install -e '.[k8s]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not calls.exists(), f"touched the machine before saying so: {calls.read_text()}"


def test_the_other_k8s_commands_name_the_extra_too(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "kubernetes.py").write_text("raise ImportError(\"No module named 'kubernetes'\")\n")
    project = tmp_path / "project"
    (project / ".hippodrome" / "k8s").mkdir(parents=True)
    (project / ".hippodrome" / "k8s" / "state.json").write_text(
        '{"cluster": "hippodrome", "context": "kind-hippodrome", "namespace": "hippodrome", "stack": "dev", '
        '"profile": "full", "cell": "local", "seed": "42", "tablePrefix": "dev-", "runDir": "", "forwards": [], '
        '"testEnv": {}}')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "k8s", "status", "--project-root",
                             str(project)], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "pip install -e '.[k8s]'" in result.stderr and "Traceback" not in result.stderr
