"""The chart and its CRD against the real API server: accepted, served, installable with Helm 3 and 4."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from cluster_stacks import missing

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "hippodrome"
CRD = CHART / "crds" / "hippodromestacks.yaml"
CRD_NAME = "hippodromestacks.hippodrome.dev"
HELMS = {"helm3": REPO / ".tools" / "helm3" / "helm", "helm4": REPO / ".tools" / "helm4" / "helm"}


def _crd_spec_fields() -> list[str]:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return sorted(schema["properties"]["spec"]["properties"])


@pytest.fixture(scope="module")
def crd_installed(crd):
    return crd


def test_the_crd_is_accepted_and_served(crd_installed):
    crd = json.loads(crd_installed.kubectl_run("get", "crd", CRD_NAME, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    listed = crd_installed.kubectl_run("get", "hippodromestacks", "-A")
    assert "No resources found" in listed.stderr + listed.stdout
    assert crd_installed.kubectl_run("get", "hds", "-A").returncode == 0    # the short name


def test_kubectl_explain_answers_from_the_crd_schema(crd_installed):
    # the API server publishes a new CRD's OpenAPI a moment after Established: wait for it
    deadline = time.monotonic() + 60
    while (result := crd_installed.kubectl_run("explain", "hippodromestack.spec", check=False)).returncode != 0:
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.5)
    explained = result.stdout
    assert "KIND:       HippodromeStack" in explained
    listed = {line.split()[0] for line in explained.splitlines() if line.startswith("  ") and "\t" in line}
    assert listed == set(_crd_spec_fields()), explained


def test_the_repos_stack_file_is_accepted_with_its_printer_columns(crd_installed, namespace):
    """`kubectl apply -f hippodrome.yaml` (the repo's own file) against the CRD's structural schema."""
    k = crd_installed.kubectl_run
    k("-n", namespace, "apply", "-f", str(REPO / "hippodrome.yaml"))
    sent = yaml.safe_load((REPO / "hippodrome.yaml").read_text())
    stored = json.loads(k("-n", namespace, "get", "hippodromestack", "dev", "-o", "json").stdout)
    assert [s["name"] for s in stored["spec"]["services"]] == [s["name"] for s in sent["spec"]["services"]]
    table = k("-n", namespace, "get", "hippodromestacks").stdout.splitlines()
    assert table[0].split() == ["NAME", "PROFILE", "CELL", "PHASE", "READY", "LAYER", "AGE"]
    assert table[1].split()[:3] == ["dev", sent["spec"]["profile"], sent["spec"]["cell"]]


def test_the_repos_stack_file_loses_nothing_on_the_way_in(crd_installed, namespace):
    """Every field sent is stored with its value (fields the server defaults are fine). Regression: the
    server drops nulls inside free-form fields, so `ResultPath: null` was lost; the validator now refuses
    nulls there (`no_nulls_in_free_form_fields`) and the reference stack has none."""
    k = crd_installed.kubectl_run
    k("-n", namespace, "apply", "-f", str(REPO / "hippodrome.yaml"))
    stored = json.loads(k("-n", namespace, "get", "hippodromestack", "dev", "-o", "json").stdout)
    sent = yaml.safe_load((REPO / "hippodrome.yaml").read_text())
    lost = missing(sent["spec"], stored["spec"], "spec")
    assert not lost, f"the API server pruned or changed {lost}"


def _helm(binary: Path, cp, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([str(binary), f"--kubeconfig={cp.kubeconfig}", *args],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _release_objects(cp, namespace: str, release: str) -> dict[str, dict]:
    out = cp.kubectl_run("-n", namespace, "get", "deployments,serviceaccounts,roles,rolebindings,services,configmaps",
                         "-l", f"app.kubernetes.io/instance={release}", "-o", "json").stdout
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in json.loads(out)["items"]}


@pytest.mark.parametrize("helm", sorted(HELMS))
def test_the_chart_installs_upgrades_as_a_no_op_and_uninstalls_keeping_the_crd(control_plane, namespace, helm):
    binary = HELMS[helm]
    if not binary.exists():
        pytest.skip(f"{binary.relative_to(REPO)} is missing: run scripts/install-helm.sh (scripts/test does)")
    version = _helm(binary, control_plane, "version", "--short").stdout.strip()
    cp, release = control_plane, "hd"
    t0 = time.monotonic()
    _helm(binary, cp, "install", release, str(CHART), "-n", namespace, "--wait", "--timeout=120s")
    print(f"{version}: install --wait {time.monotonic() - t0:.1f}s")

    before = _release_objects(cp, namespace, release)
    kinds = {key.split("/")[0] for key in before}
    assert {"Deployment", "ServiceAccount", "Role", "RoleBinding"} <= kinds, sorted(before)
    for key, obj in before.items():
        if obj["kind"] == "Deployment":
            assert obj["status"].get("availableReplicas") == obj["spec"]["replicas"], key
    assert cp.kubectl_run("get", "crd", CRD_NAME).returncode == 0

    _helm(binary, cp, "upgrade", release, str(CHART), "-n", namespace, "--wait", "--timeout=120s")
    after = _release_objects(cp, namespace, release)
    assert sorted(after) == sorted(before)
    changed = [key for key in before
               if after[key]["metadata"].get("generation") != before[key]["metadata"].get("generation")]
    assert not changed, f"a no-op upgrade changed the spec of {changed}"
    history = json.loads(_helm(binary, cp, "history", release, "-n", namespace, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2] and history[-1]["status"] == "deployed"

    _helm(binary, cp, "uninstall", release, "-n", namespace, "--wait", "--timeout=120s")
    assert _release_objects(cp, namespace, release) == {}
    assert cp.kubectl_run("get", "crd", CRD_NAME).returncode == 0, "helm uninstall must keep the CRD"
