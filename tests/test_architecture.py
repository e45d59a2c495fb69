"""The structure says what the system is: the layers hold (import-linter, the real `lint-imports`), and
each shared word has one definition that every producer and reader uses (hippodrome_k8s.core.contract)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from hd_testing import REPO
from hippodrome_k8s.core import contract
from hippodrome_k8s.core.contract import ControlAction, ServiceState, ServiceView, StackPhase, service_view_schema


def test_the_import_layers_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    done = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _crd_status() -> dict:
    crd = yaml.safe_load((REPO / "charts/hippodrome/crds/hippodromestacks.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]


def test_the_crds_status_schema_is_generated_from_the_contract():
    status = _crd_status()
    assert status["services"]["additionalProperties"] == service_view_schema()
    assert status["phase"]["enum"] == StackPhase.cr_values()
    assert status["services"]["additionalProperties"]["properties"]["status"]["enum"] == [s.value for s in ServiceState]


def test_the_operators_status_uses_the_contract():
    from hippodrome_operator.desired import desired_from_body
    from hippodrome_operator.plan import observe, plan
    from hippodrome_operator.status import compute

    body = yaml.safe_load((REPO / "tests/operator/stacks/small.yaml").read_text())
    body["metadata"].update(namespace="ns", uid="u")
    desired = desired_from_body(body)
    observed = observe([], [], [], None)
    status = compute(desired, observed, plan(desired, observed), previous=None, generation=1, now=1.0, now_iso="t")
    assert status["phase"] in StackPhase.cr_values()
    for entry in status["services"].values():
        assert ServiceView.from_json(entry).to_json()["status"] == entry["status"]


def test_the_local_status_and_the_cli_use_the_contract():
    import click

    from hippodrome_k8s.cli.main import cli
    from hippodrome_k8s.local.states import ServiceStatus

    entry = ServiceStatus(name="a", layer=0, port=9001, url="http://127.0.0.1:9001", blocking=True).to_json(0.0)
    assert set(entry) == {f for f in ServiceView.__dataclass_fields__}
    assert ServiceView.from_json(entry).status is ServiceState.pending
    control = cli.commands["control"].params[0]
    assert list(control.type.choices) == [a.value for a in ControlAction]
    k8s_group = cli.get_command(click.Context(cli), "k8s")  # loaded on use
    k8s_control = k8s_group.commands["control"].params[0]
    assert list(k8s_control.type.choices) == [a.value for a in ControlAction.for_cluster()]


def test_annotation_and_label_names_are_defined_once():
    names = {v for k, v in vars(contract).items() if k.endswith(("_ANNOTATION", "_LABEL"))}
    found = subprocess.run(["git", "grep", "-n", "-E", "\"hippodrome\\.dev/(control|stopped|forwards|stack|service|layer|"
                            "spec-hash|restartedAt|encryption-secret-hash)\"", "--", "*.py", ":!tests/*"],
                           cwd=REPO, capture_output=True, text=True).stdout.splitlines()
    assert names and found == [], found


def test_no_import_cycle_not_even_through_a_function_level_import():
    """Regression: cli/main.py and the k8s CLI imported each other (one of them inside functions)."""
    import grimp

    graph = grimp.build_graph("hippodrome_k8s", "hippodrome_operator")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(edges.get(module, ())):
            if seen.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [module, target])
            elif target not in seen:
                visit(target, path + [target])
        seen[module] = 2

    for module in sorted(graph.modules):
        if module not in seen:
            visit(module, [module])
    assert cycles == []
