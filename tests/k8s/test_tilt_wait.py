"""The shell command a Tilt service resource runs, executed by ``sh -c`` as Tilt runs it, with a stand-in kubectl.

Regression: ``kubectl rollout status`` on a Deployment the operator has not created yet exits 1 at
once (the operator creates a layer only after the one below is ready), so the resource failed
instead of waiting.  The stand-in kubectl answers like kubectl does: ``get`` exits 1 (NotFound)
until the Deployment "exists", ``rollout status`` exits with the rollout's outcome.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlark")

from test_tiltfile import FIXTURE, run_tilt  # noqa: E402

KUBECTL = """#!{python}
import json, os, sys
state = os.environ["FAKE_KUBECTL_STATE"]
data = json.load(open(state)) if os.path.exists(state) else {{"gets": 0, "calls": []}}
args = sys.argv[1:]
data["calls"].append(args)
verb = next(a for a in args if not a.startswith("-") and args[args.index(a) - 1] not in ("--context", "-n"))
code = 0
if verb == "get":
    data["gets"] += 1
    code = 0 if data["gets"] > int(os.environ["FAKE_KUBECTL_MISSING_GETS"]) else 1
    if code:
        print('Error from server (NotFound): deployments.apps "x" not found', file=sys.stderr)
elif verb == "rollout":
    code = int(os.environ["FAKE_KUBECTL_ROLLOUT_EXIT"])
json.dump(data, open(state, "w"))
sys.exit(code)
"""


def run_wait(tmp_path: Path, missing_gets: int, rollout_exit: int = 0) -> tuple[int, list[list[str]]]:
    tilt = run_tilt(FIXTURE, "core", HIPPODROME_FORWARDS="cli")
    command = next(r for r in tilt.by("local_resource") if r["name"] == "controller")["cmd"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    state = tmp_path / "kubectl.json"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_KUBECTL_STATE=str(state),
               FAKE_KUBECTL_MISSING_GETS=str(missing_gets), FAKE_KUBECTL_ROLLOUT_EXIT=str(rollout_exit))
    result = subprocess.run([shutil.which("sh") or "/bin/sh", "-c", command], env=env, capture_output=True,
                            text=True, timeout=60)
    import json

    return result.returncode, json.loads(state.read_text())["calls"]


def test_the_resource_waits_for_the_operator_to_create_the_deployment(tmp_path: Path) -> None:
    code, calls = run_wait(tmp_path, missing_gets=2)
    verbs = [[a for a in c if a in ("get", "rollout")][0] for c in calls]
    assert verbs == ["get", "get", "get", "rollout"], calls
    assert calls[-1][-3:] == ["status", "deployment/dev-controller", "--timeout=600s"]
    assert all(c[:4] == ["--context", "kind-hippodrome", "-n", "hippodrome"] for c in calls)
    assert code == 0


def test_a_failed_rollout_fails_the_resource(tmp_path: Path) -> None:
    code, calls = run_wait(tmp_path, missing_gets=0, rollout_exit=1)
    assert code == 1 and len(calls) == 2
