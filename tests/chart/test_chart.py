"""The Helm chart rendered by real Helm 3 and Helm 4 binaries, every object validated offline (against the
Kubernetes minor of the pinned kind node image).

Run ``scripts/install-helm.sh`` first (CI does); without ``.tools/helm{3,4}/helm`` these tests
skip with the reason printed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from hippodrome_k8s.k8s.cluster import kubernetes_minor, node_image
from hippodrome_k8s.core.crd import PRINTER_COLUMNS, draft7, openapi_schema

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = kubernetes_minor(node_image())  # the pinned kind node image's minor: 1.37
CHART = ROOT / "charts" / "hippodrome"
FIXTURE = ROOT / "tests" / "operator" / "stacks" / "small.yaml"
HELMS = {"helm3": ROOT / ".tools" / "helm3" / "helm", "helm4": ROOT / ".tools" / "helm4" / "helm"}

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=sorted(HELMS))
def helm(request: pytest.FixtureRequest) -> Path:
    path = HELMS[request.param]
    if not path.exists():
        reason = f"{path} is missing: run scripts/install-helm.sh"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return path


def run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=30)


def render(helm: Path, tmp_path: Path, values: dict[str, Any] | None = None, *extra: str) -> list[dict[str, Any]]:
    args = ["template", "hippodrome", str(CHART), "--include-crds", "--namespace", "hippo"]
    if values is not None:
        (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
        args += ["-f", str(tmp_path / "values.yaml")]
    result = run(helm, *args, *extra)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def stack_values() -> dict[str, Any]:
    spec = yaml.safe_load(FIXTURE.read_text())["spec"]
    return {"stack": {"create": True, "name": "dev", "profile": "core", "seed": "7",
                      "images": {"controller": {"repository": "registry.local/controller", "tag": "abc"}},
                      "spec": spec},
            "operator": {"watchAllNamespaces": True}}


def validate_all(objects: list[dict[str, Any]]) -> None:
    crd = next(o for o in objects if o["kind"] == "CustomResourceDefinition")
    stack_schema = jsonschema.Draft7Validator(draft7(openapi_schema(crd)))
    for obj in objects:
        if obj["kind"] == "HippodromeStack":
            errors = sorted(stack_schema.iter_errors(obj), key=str)
            assert not errors, errors[0]
        else:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_lint(helm: Path) -> None:
    result = run(helm, "lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(helm, "lint", "--strict", str(CHART), "--set", "stack.create=true",
                 "--set-json", f"stack.spec={yaml.safe_load(FIXTURE.read_text())['spec']!r}".replace("'", '"')
                 .replace("True", "true").replace("False", "false"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_render_is_valid_and_least_privilege(helm: Path, tmp_path: Path) -> None:
    objects = render(helm, tmp_path)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "Deployment",
                            "ServiceAccount", "Role", "RoleBinding", "Deployment", "Service"])
    validate_all(objects)
    role = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"].endswith("-operator"))
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    assert ("", "secrets", "get") not in granted and not any(v == "*" or r == "*" for _, r, v in granted)
    assert ("apps", "deployments", "create") in granted and ("", "pods", "list") in granted
    assert ("", "pods", "delete") not in granted
    assert ("", "persistentvolumeclaims", "create") in granted  # stateful services' data
    assert ("", "persistentvolumeclaims", "delete") not in granted, "the operator never deletes data"
    operator = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-operator"))
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HIPPODROME_WATCH_NAMESPACES"] == "hippo"
    assert env["HIPPODROME_STATE_STORAGE"] == "pvc" and env["HIPPODROME_STATE_SIZE"] == "1Gi"
    assert env["HIPPODROME_LIVE_UPDATE"] == "false"
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "hippodrome_operator"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_stack_from_values(helm: Path, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, stack_values())
    validate_all(objects)
    assert any(o["kind"] == "ClusterRole" for o in objects)
    stack = next(o for o in objects if o["kind"] == "HippodromeStack")
    assert stack["spec"]["profile"] == "core" and stack["spec"]["seed"] == "7"
    controller = next(s for s in stack["spec"]["services"] if s["name"] == "controller")
    assert controller["image"] == {"repository": "registry.local/controller", "tag": "abc"}
    # the rendered stack is also a valid stack file for the model (and so for the operator)
    from hippodrome_k8s.core.loader import load_stack_data
    load_stack_data(stack, "rendered")
    assert "${aws.resources}" in str(stack["spec"]), "Helm must not mangle ${...} references"


@pytest.mark.parametrize("args, message", [
    (["--set", "stack.profile=huge"], "profile"),
    (["--set", "operator.bogus=1"], "bogus"),
    (["--set", "dashboard.port=70000"], "port"),
    (["--set", "imagePullPolicy=Sometimes"], "imagePullPolicy"),
    (["--set", "stack.create=true"], "services"),
    (["--set", "operator.stateStorage=hostPath"], "stateStorage"),
    (["--set", "operator.stateSize=lots"], "stateSize"),
    (["--set", "stack.name=9lives"], "name"),
    (["--set", "liveUpdate=yes"], "liveUpdate"),
])
def test_bad_values_fail_to_render(helm: Path, args: list[str], message: str) -> None:
    result = run(helm, "template", "hippodrome", str(CHART), *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_printer_columns_read_a_real_status() -> None:
    from hippodrome_operator.desired import desired_from_body
    from hippodrome_operator.plan import Observed, plan
    from hippodrome_operator.status import compute

    body = yaml.safe_load(FIXTURE.read_text())
    body["metadata"].update(namespace="hippo", uid="u", creationTimestamp="2030-01-01T00:00:00Z", generation=1)
    desired = desired_from_body(body)
    body["status"] = compute(desired, Observed(), plan(desired, Observed()), previous=None, generation=1,
                             now=1.0, now_iso="2030-01-01T00:00:01Z")
    crd = yaml.safe_load((CHART / "crds" / "hippodromestacks.yaml").read_text())
    errors = list(jsonschema.Draft7Validator(draft7(openapi_schema(crd))).iter_errors(body))
    assert not errors, errors[0]
    columns = {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(columns) == ["Profile", "Cell", "Phase", "Ready", "Layer", "Age"]
    python_type = {"string": str, "integer": int, "date": str}
    for column in PRINTER_COLUMNS:
        value: Any = body
        for part in column["jsonPath"].lstrip(".").split("."):
            value = value[part]
        assert isinstance(value, python_type[column["type"]]), column
    assert body["status"]["readyServices"] == "0/5" and body["status"]["phase"] == "Pending"


def test_pyhelm3_renders_the_chart() -> None:
    import asyncio

    from pyhelm3 import Client

    if not HELMS["helm3"].exists():
        pytest.skip(f"{HELMS['helm3']} is missing: run scripts/install-helm.sh")

    async def go() -> list[Any]:
        client = Client(executable=str(HELMS["helm3"]))
        chart = await client.get_chart(str(CHART))
        return list(await client.template_resources(chart, "hippodrome", stack_values(), include_crds=True))

    resources = asyncio.run(go())
    assert any(r["kind"] == "HippodromeStack" for r in resources)


def test_without_a_provisioner_the_operator_is_told_to_use_emptydir(helm: Path, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, {"operator": {"stateStorage": "emptyDir"}})
    operator = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-operator"))
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HIPPODROME_STATE_STORAGE"] == "emptyDir"



def test_the_notes_apply_the_stack_where_the_operator_watches(tmp_path: Path) -> None:
    """Regression: NOTES said `kubectl apply -f hippodrome.yaml` without the namespace the operator watches.

    NOTES are rendered only by `helm install`; Helm 4's `--dry-run=client` renders them without a cluster
    (Helm 3.17's asks a cluster for its version, discovery and OpenAPI first), so this one runs Helm 4."""
    helm = HELMS["helm4"]
    if not helm.exists():
        print(f"SKIP: {helm} is missing: run scripts/install-helm.sh")
        pytest.skip(f"{helm} is missing: run scripts/install-helm.sh")

    def notes(*extra: str) -> str:
        result = subprocess.run([str(helm), "install", "hippodrome", str(CHART), "--dry-run=client", "--namespace",
                                 "hippo", *extra], capture_output=True, text=True, timeout=30,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")})
        assert result.returncode == 0, result.stderr
        return result.stdout.split("NOTES:", 1)[1]

    namespaced = notes()
    assert "kubectl apply -n hippo -f hippodrome.yaml" in namespaced and "kubectl apply -f" not in namespaced
    assert "kubectl apply -n <namespace> -f hippodrome.yaml" in notes("--set", "operator.watchAllNamespaces=true")
